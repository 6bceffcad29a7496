"""Point-in-time restore of a space or folder over HTTP (issue 8, item 3; ADR 24).

Thin: `RollbackService.restore_at` authorizes (`space.restore`: managers of
the folder, administrators anywhere) and does the work, in batches.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from egide.web.api.incidents import ConflictOut, conflicts_out
from egide.web.deps import Caller, Svc
from egide.web.schemas import Body, Flag, Instant

router = APIRouter(prefix="/api/v1/spaces/{space}", tags=["files"])


class RestoreAtIn(Body):
    at: Instant = Field(
        description="The instant to go back to, with its time zone (2026-11-30T06:00:00Z)"
    )
    path: str = Field(default="", max_length=4096, description="A folder; empty: the space")
    dry_run: Flag = Field(default=False, description="Count only; change nothing")


class RestoreAtOut(BaseModel):
    restored: int = Field(description="Files whose content was put back (as a new version)")
    undeleted: int = Field(description="Files and folders taken out of the trash")
    renamed_back: int = Field(description="Renames and moves reverted")
    trashed: int = Field(description="Items created after the instant, moved to the trash")
    skipped: int = Field(description="Items already as they were")
    conflicts: list[ConflictOut] = Field(description="Items left as they are, and why")


@router.post(
    "/restore",
    response_model=RestoreAtOut,
    summary="Put the space or a folder back as it was at an instant (nothing destroyed)",
)
def restore_at(space: str, body: RestoreAtIn, caller: Caller, svc: Svc) -> RestoreAtOut:
    report = svc.rollback.restore_at(caller, space, body.at, path=body.path, dry_run=body.dry_run)
    return RestoreAtOut(
        restored=report.restored,
        undeleted=report.undeleted,
        renamed_back=report.renamed_back,
        trashed=report.trashed,
        skipped=report.skipped,
        conflicts=conflicts_out(report),
    )
