"""Ransomware incidents over HTTP (issue 8, items 2 and 3; docs/ransomware.md).

Thin: `IncidentService` and `RollbackService` authorize (`incident.manage`:
administrators and security officers) and decide; this module maps their
values to JSON.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from egide.services.ransomware.rollback import RollbackReport
from egide.services.ransomware.service import IncidentEvent, IncidentInfo
from egide.web.deps import Caller, Svc

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

IncidentId = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[!-~]+$")]


class IncidentEventOut(BaseModel):
    kind: str = Field(description="write, create, rename, delete, note or canary")
    at: dt.datetime
    space_id: str
    node_id: str
    version_id: str | None = Field(description="The version written (write, create, note)")
    weight: float = Field(description="What the event added to the score (0: unsuspicious)")
    signals: list[str] = Field(description="e.g. looks-encrypted, type-lost, similarity-gone")


class IncidentOut(BaseModel):
    id: str
    user_id: str | None = Field(description="The user whose sessions and tokens are suspended")
    principal_kind: str = Field(description="session, token or user: what crossed the threshold")
    principal_id: str
    status: Literal["open", "released", "confirmed"]
    reason: Literal["score", "canary"]
    score: float
    opened_at: dt.datetime
    first_suspicious_at: dt.datetime
    closed_at: dt.datetime | None
    closed_by: str | None
    event_count: int = Field(description="Versions, renames and deletes the incident holds")
    restored_at: dt.datetime | None = Field(
        default=None, description="When a roll-back of the incident last finished"
    )
    events: list[IncidentEventOut] | None = Field(
        default=None, description="Every event, oldest first (GET of one incident only)"
    )


def _event(e: IncidentEvent) -> IncidentEventOut:
    return IncidentEventOut(
        kind=e.kind,
        at=e.at,
        space_id=e.space_id,
        node_id=e.node_id,
        version_id=e.version_id,
        weight=e.weight,
        signals=e.signals,
    )


def _out(info: IncidentInfo) -> IncidentOut:
    return IncidentOut(
        id=info.id,
        user_id=info.user_id,
        principal_kind=info.principal_kind,
        principal_id=info.principal_id,
        status=info.status,
        reason=info.reason,
        score=info.score,
        opened_at=info.opened_at,
        first_suspicious_at=info.first_suspicious_at,
        closed_at=info.closed_at,
        closed_by=info.closed_by,
        event_count=info.event_count,
        restored_at=info.restored_at,
        events=None if info.events is None else [_event(e) for e in info.events],
    )


@router.get("", response_model=list[IncidentOut], summary="Ransomware incidents")
def list_incidents(
    caller: Caller,
    svc: Svc,
    status: Annotated[Literal["open", "released", "confirmed"] | None, Query()] = None,
) -> list[IncidentOut]:
    return [_out(i) for i in svc.incidents.list(caller, status=status)]


@router.get("/{incident_id}", response_model=IncidentOut, summary="One incident and its events")
def show_incident(caller: Caller, svc: Svc, incident_id: IncidentId) -> IncidentOut:
    return _out(svc.incidents.show(caller, incident_id))


@router.post(
    "/{incident_id}/release",
    response_model=IncidentOut,
    summary="Release the suspended user (a false alarm)",
)
def release_incident(caller: Caller, svc: Svc, incident_id: IncidentId) -> IncidentOut:
    return _out(svc.incidents.release(caller, incident_id))


@router.post(
    "/{incident_id}/confirm",
    response_model=IncidentOut,
    summary="Confirm the incident (an attack: the suspension stays)",
)
def confirm_incident(caller: Caller, svc: Svc, incident_id: IncidentId) -> IncidentOut:
    return _out(svc.incidents.confirm(caller, incident_id))


class ConflictOut(BaseModel):
    space_id: str
    node_id: str
    reason: str = Field(
        description="changed-since, moved-since (someone else changed it after the "
        "incident: kept), name-taken, folder-gone, version-purged"
    )


class IncidentRestoreOut(BaseModel):
    restored: int = Field(description="Files whose content was put back (as a new version)")
    undeleted: int = Field(description="Files and folders taken out of the trash")
    renamed_back: int = Field(description="Renames and moves reverted")
    skipped: int = Field(description="Items already as they were (or created by the incident)")
    conflicts: list[ConflictOut] = Field(description="Items left as they are, and why")


def conflicts_out(report: RollbackReport) -> list[ConflictOut]:
    return [
        ConflictOut(space_id=c.space_id, node_id=c.node_id, reason=c.reason)
        for c in report.conflicts
    ]


@router.post(
    "/{incident_id}/restore",
    response_model=IncidentRestoreOut,
    summary="Roll back what the incident's user changed (new versions, nothing destroyed)",
)
def restore_incident(
    caller: Caller,
    svc: Svc,
    incident_id: IncidentId,
    dry_run: Annotated[bool, Query(description="Count only; change nothing")] = False,
) -> IncidentRestoreOut:
    report = svc.rollback.restore_incident(caller, incident_id, dry_run=dry_run)
    return IncidentRestoreOut(
        restored=report.restored,
        undeleted=report.undeleted,
        renamed_back=report.renamed_back,
        skipped=report.skipped,
        conflicts=conflicts_out(report),
    )
