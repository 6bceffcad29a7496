"""Incidents for administrators and security officers (issue 8, item 2).

An incident opened by the detector suspends its user (every session and
token: the workstation that holds one holds the others, docs/ransomware.md)
until an administrator or a security officer

- releases it (a false alarm: access comes back at once, in every process),
- or confirms it (an attack: the suspension stays; the roll-back of the
  next increment starts from a confirmed incident).

Both are audit events; reading incidents is gated by the same action
(`incident.manage`) and is read-only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from egide.core.clock import Clock
from egide.core.db import Database
from egide.core.db.models.ransomware import RansomwareEvent, RansomwareIncident
from egide.services.access.policy import Action, Principal, authorize
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.audit.recorder import AuditRecorder
from egide.services.ransomware.detector import CONFIRMED, OPEN, RELEASED
from egide.services.ransomware.errors import IncidentClosed, IncidentNotFound


@dataclass(frozen=True)
class IncidentEvent:
    kind: str
    at: dt.datetime
    space_id: str
    node_id: str
    version_id: str | None
    weight: float
    signals: list[str]


@dataclass(frozen=True)
class IncidentInfo:
    id: str
    user_id: str | None
    #: "session", "token" or "user": what kind of principal crossed the threshold.
    principal_kind: str
    principal_id: str
    status: str
    reason: str
    score: float
    opened_at: dt.datetime
    first_suspicious_at: dt.datetime
    closed_at: dt.datetime | None
    closed_by: str | None
    event_count: int
    events: list[IncidentEvent] | None = None
    restored_at: dt.datetime | None = None


class IncidentService:
    def __init__(self, db: Database, *, clock: Clock, audit: AuditRecorder) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit

    @records_denials
    def list(self, actor: Principal, *, status: str | None = None) -> list[IncidentInfo]:
        """Incidents, newest first; `status` open, released or confirmed."""
        authorize(actor, Action.INCIDENT_MANAGE)
        with self.db.read() as session:
            query = select(RansomwareIncident).order_by(RansomwareIncident.opened_at.desc())
            if status is not None:
                query = query.where(RansomwareIncident.status == status)
            return [_info(session, row) for row in session.scalars(query.limit(1000))]

    @records_denials
    def show(self, actor: Principal, incident_id: str) -> IncidentInfo:
        """One incident with every version, rename and delete it holds."""
        authorize(actor, Action.INCIDENT_MANAGE)
        with self.db.read() as session:
            row = session.get(RansomwareIncident, incident_id)
            if row is None:
                raise IncidentNotFound()
            events = [
                IncidentEvent(
                    kind=e.kind,
                    at=e.at,
                    space_id=e.space_id,
                    node_id=e.node_id,
                    version_id=e.version_id,
                    weight=e.weight,
                    signals=[s for s in e.signals.split(",") if s],
                )
                for e in session.scalars(
                    select(RansomwareEvent)
                    .where(RansomwareEvent.incident_id == row.id)
                    .order_by(RansomwareEvent.at, RansomwareEvent.id)
                )
            ]
            return _info(session, row, events)

    @records_denials
    def release(self, actor: Principal, incident_id: str) -> IncidentInfo:
        """A false alarm: the user may write and download again."""
        return self._close(actor, incident_id, RELEASED, AuditAction.RANSOMWARE_INCIDENT_RELEASE)

    @records_denials
    def confirm(self, actor: Principal, incident_id: str) -> IncidentInfo:
        """An attack: the suspension stays until the incident is released."""
        return self._close(actor, incident_id, CONFIRMED, AuditAction.RANSOMWARE_INCIDENT_CONFIRM)

    def _close(
        self, actor: Principal, incident_id: str, status: str, action: AuditAction
    ) -> IncidentInfo:
        target = {"incident": incident_id}
        try:
            authorize(actor, Action.INCIDENT_MANAGE)
        except Exception as exc:
            if hasattr(exc, "denied"):
                exc.denied(str(action), target)
            raise
        with self.db.write() as session:
            row = session.scalars(
                select(RansomwareIncident)
                .where(RansomwareIncident.id == incident_id)
                .with_for_update()
            ).one_or_none()
            if row is None:
                raise IncidentNotFound()
            # Confirming an open incident, or releasing an open or confirmed one.
            if row.status in {RELEASED, status}:
                raise IncidentClosed(row.status)
            if status == CONFIRMED and row.status != OPEN:  # pragma: no cover - above
                raise IncidentClosed(row.status)
            row.status = status
            row.closed_at = self.clock.now()
            row.closed_by = actor.user_id
            self.audit.record(
                session,
                actor=actor,
                action=action,
                target={"incident": row.id, "user": row.user_id},
            )
            session.flush()
            return _info(session, row)


def _info(
    session: Session, row: RansomwareIncident, events: list[IncidentEvent] | None = None
) -> IncidentInfo:
    count = session.scalar(
        select(func.count())
        .select_from(RansomwareEvent)
        .where(RansomwareEvent.incident_id == row.id)
    )
    kind, _, ref = row.principal.partition(":")
    return IncidentInfo(
        id=row.id,
        user_id=row.user_id,
        principal_kind=kind,
        principal_id=ref,
        status=row.status,
        reason=row.reason,
        score=row.score,
        opened_at=row.opened_at,
        first_suspicious_at=row.first_suspicious_at,
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        event_count=count or 0,
        events=events,
        restored_at=row.restored_at,
    )
