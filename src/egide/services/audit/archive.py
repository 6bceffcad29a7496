"""The audit log's retention (issue 4 item 8): `egide audit archive`.

Audit entries are never deleted by any door. Once older than the
retention (`audit_retention_days`), the oldest live entries are moved into
an **archive bundle** of the export's form (FORMATS.md section 5), signed by
a checkpoint that covers them, under `audit_archive_dir`:

1. the range is the longest run of live entries, from the first live one,
   all older than the cutoff (`time` is not strictly increasing along
   `seq`, ADR 0014: an old entry after a newer one waits for the next run),
   so archives start at entry 0 and are contiguous;
2. the bundle is written and synced, and each leaf checked against its leaf
   hash, before anything is deleted;
3. then, in one transaction: an `audit_archives` row (range, checkpoint
   size, location, SHA-256 of `entries.jsonl`), the erasure of those
   entries' context records (the personal data), the deletion of their leaf
   rows, and the `audit.archive` event.

The tree's nodes (leaf hashes included) stay, so heads, proofs and every
checkpoint are unchanged, and `egide audit verify` checks the tree over the
archived range from the leaf hashes (`verify`). The event rows stay too:
the access reports read them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from egide.core.db.models import AuditArchive, AuditContext, AuditEvent, AuditLeaf
from egide.core.errors import Conflict
from egide.services.access.policy import Action, Principal
from egide.services.audit.actions import AuditAction
from egide.services.audit.export import (
    Bundle,
    Staging,
    authorize_audit,
    covering_checkpoint,
    write_bundle,
)
from egide.services.audit.recorder import ALLOWED
from egide.services.audit.tree import stored_size
from egide.services.audit.verify import archived_end

if TYPE_CHECKING:
    from egide.services.audit.service import AuditService

#: The PostgreSQL advisory lock key of archiving: "EgideArc" as a big-endian int64.
ARCHIVE_LOCK: Final = int.from_bytes(b"EgideArc", "big")


class ArchiveRaced(Conflict):
    code = "audit-archive-raced"


class UnrecordedArchive(Conflict):
    code = "audit-archive-unrecorded"


@dataclass(frozen=True)
class ArchiveResult:
    """Entries [first_seq, end_seq) archived (or, in a dry run, to be archived)."""

    first_seq: int
    end_seq: int
    cutoff: dt.datetime
    #: The bundle directory; None when there was nothing to archive.
    location: Path | None
    dry_run: bool
    checkpoint_size: int | None = None
    contexts_erased: int = 0

    @property
    def entries(self) -> int:
        return self.end_seq - self.first_seq


def archive(
    audit: AuditService,
    actor: Principal,
    directory: Path,
    *,
    retention: dt.timedelta,
    dry_run: bool = False,
) -> ArchiveResult:
    """Move the live entries older than `retention` into a bundle under `directory`."""
    authorize_audit(audit, actor, Action.MAINTENANCE, AuditAction.AUDIT_ARCHIVE)
    cutoff = audit.recorder.clock.now() - retention
    audit.sequencer.run_pending()
    with audit.db.read() as session:
        first = archived_end(session)
        end = _end_before(session, first, cutoff)
    if end <= first:
        return ArchiveResult(first, first, cutoff, None, dry_run)
    location = directory / f"{first:012d}-{end - 1:012d}"
    if dry_run:
        return ArchiveResult(first, end, cutoff, location, dry_run)
    if location.exists():
        raise UnrecordedArchive(
            "The archive bundle {path} already exists, yet no archive record names it: an "
            "earlier run stopped after writing it, before deleting anything. Move it aside "
            "(keep it until this run succeeds), then run `egide audit archive` again.",
            path=str(location),
        )
    checkpoint = covering_checkpoint(audit, end)
    with Staging(location) as staging:
        bundle = write_bundle(
            audit.db,
            staging.partial,
            first=first,
            end=end,
            checkpoint=checkpoint,
            vkey=audit.verifier_key(),
            check_leaves=True,
        )
        staging.publish()  # written and synced before anything is deleted
    # Should this fail, the bundle stays: whether a failed commit took effect is not
    # always known, and a spare copy of entries is harmless where a lost one is not.
    erased = _move_out(audit, actor, bundle, location)
    return ArchiveResult(
        first,
        end,
        cutoff,
        location,
        dry_run,
        checkpoint_size=bundle.checkpoint_size,
        contexts_erased=erased,
    )


def _end_before(session: Session, first: int, cutoff: dt.datetime) -> int:
    """The first live seq whose entry is not older than `cutoff`; the log's size if none."""
    newer = session.execute(
        select(func.min(AuditEvent.seq)).where(
            AuditEvent.seq >= first, AuditEvent.created_at >= cutoff
        )
    ).scalar_one_or_none()
    return stored_size(session) if newer is None else int(newer)


def _move_out(audit: AuditService, actor: Principal, bundle: Bundle, location: Path) -> int:
    """In one transaction: the archive row, the erasure, the deletion, the event."""
    first, end = bundle.first_seq, bundle.end_seq
    with audit.db.write() as session:
        if not audit.db.is_sqlite:
            # SQLite's BEGIN IMMEDIATE already makes this the only writer.
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ARCHIVE_LOCK})
        if archived_end(session) != first:
            raise ArchiveRaced(
                "Another archive run moved entries out meanwhile; nothing was deleted by this "
                "one, and its bundle {path} is a spare copy. Move it aside, then run `egide "
                "audit archive` again.",
                path=str(location),
            )
        session.add(
            AuditArchive(
                first_seq=first,
                end_seq=end,
                checkpoint_size=bundle.checkpoint_size,
                location=str(location),
                leaves_sha256=bundle.entries_sha256,
            )
        )
        in_range = select(AuditEvent.id).where(AuditEvent.seq >= first, AuditEvent.seq < end)
        erased = int(
            session.execute(
                delete(AuditContext).where(AuditContext.event_id.in_(in_range))
            ).rowcount  # type: ignore[attr-defined]
        )
        session.execute(delete(AuditLeaf).where(AuditLeaf.seq >= first, AuditLeaf.seq < end))
        audit.recorder.record(
            session,
            actor=actor,
            action=AuditAction.AUDIT_ARCHIVE,
            target={},
            outcome=ALLOWED,
            details={
                "first_seq": first,
                "end_seq": end,
                "entries": end - first,
                "checkpoint_size": bundle.checkpoint_size,
                "contexts_erased": erased,
            },
        )
    return erased
