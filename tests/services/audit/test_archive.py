"""Retention: old entries move into signed archive bundles and the log still verifies."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from egide.core.clock import ManualClock
from egide.core.crypto.provider import FileKeyProvider
from egide.core.db import Database
from egide.core.db.models import AuditArchive, AuditContext, AuditEvent, AuditLeaf, AuditNode
from egide.services.access.errors import GlobalRoleRequired
from egide.services.access.policy import Action, Principal, PrincipalKind
from egide.services.audit import ALLOWED, AuditService, ContextSealer, record
from egide.services.audit.archive import ArchiveResult, UnrecordedArchive, archive
from egide.services.audit.export import export_bundle
from egide.services.audit.verify import ALTERED, MISSING, LogTampered
from tests.services.audit.bundles import verified
from tests.services.audit.helpers import stored_leaves
from tests.services.audit.signing import make_audit, new_provider

SYSTEM = Principal.system()
RETENTION = 365


@pytest.fixture
def provider(tmp_path: Path) -> FileKeyProvider:
    return new_provider(tmp_path)


@pytest.fixture
def audit(db: Database, clock: ManualClock, provider: FileKeyProvider) -> AuditService:
    return make_audit(db, clock, provider)


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    return tmp_path / "archive"


Reads = Callable[[int], None]


@pytest.fixture
def reads(db: Database, clock: ManualClock, doctor: Principal, sealer: ContextSealer) -> Reads:
    """Commit `n` file reads with a personal context each, a minute apart."""

    def make(n: int) -> None:
        for i in range(n):
            clock.advance(minutes=1)
            with db.write() as session:
                record(
                    session,
                    actor=doctor,
                    action=Action.FILE_READ,
                    target={"space": "s-1", "node": f"n-{i}", "version": None},
                    outcome=ALLOWED,
                    details={},
                    context={"path": "/cardio/Dupont Jean.pdf", "purpose": "care"},
                    sealer=sealer,
                    at=clock.now(),
                )

    return make


def run_archive(audit: AuditService, archive_dir: Path, *, dry_run: bool = False) -> ArchiveResult:
    return archive(
        audit, SYSTEM, archive_dir, retention=dt.timedelta(days=RETENTION), dry_run=dry_run
    )


def contexts(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(AuditContext)) or 0)


def leaf_seqs(db: Database) -> list[int]:
    return [seq for seq, _ in stored_leaves(db)]


def archive_rows(db: Database) -> list[tuple[int, int, int, str, str]]:
    with db.read() as session:
        rows = session.execute(
            select(
                AuditArchive.first_seq,
                AuditArchive.end_seq,
                AuditArchive.checkpoint_size,
                AuditArchive.location,
                AuditArchive.leaves_sha256,
            ).order_by(AuditArchive.first_seq)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_old_entries_move_to_a_verified_bundle_and_the_log_still_verifies(
    audit: AuditService, reads: Reads, clock: ManualClock, archive_dir: Path, db: Database
) -> None:
    reads(10)
    clock.advance(days=RETENTION + 1)
    reads(5)
    head_before = audit.tree_head()  # sequences the reads
    before = dict(stored_leaves(db))
    assert contexts(db) == 15
    result = run_archive(audit, archive_dir)
    assert (result.first_seq, result.end_seq, result.contexts_erased) == (0, 10, 10)
    assert result.location == archive_dir / "000000000000-000000000009"
    assert result.checkpoint_size == 15
    # The bundle holds the exact leaves, is signed, and checks with the standalone script.
    bundle = result.location
    lines = (bundle / "entries.jsonl").read_bytes()
    assert lines == b"".join(before[seq] + b"\n" for seq in range(10))
    assert "entries 0 to 9 (10) proven" in verified(bundle, audit)
    assert archive_rows(db) == [(0, 10, 15, str(bundle), hashlib.sha256(lines).hexdigest())]
    # Leaves and personal contexts gone; leaf hashes, the tree and its head unchanged.
    assert contexts(db) == 5
    audit.sequencer.run_pending()
    assert leaf_seqs(db)[:6] == [10, 11, 12, 13, 14, 15]
    assert audit.tree_head(15) == head_before
    event = json.loads(stored_leaves(db)[-1][1])
    assert (event["action"], event["seq"]) == ("audit.archive", 15)
    assert event["details"] == {
        "first_seq": 0,
        "end_seq": 10,
        "entries": 10,
        "checkpoint_size": 15,
        "contexts_erased": 10,
    }
    assert b"Dupont" not in lines
    report = audit.verify()
    assert report.clean, report.finding
    assert (report.entries, report.archived) == (16, 10)


def test_a_dry_run_changes_nothing(
    audit: AuditService, reads: Reads, clock: ManualClock, archive_dir: Path, db: Database
) -> None:
    reads(4)
    clock.advance(days=RETENTION + 1)
    reads(1)
    result = run_archive(audit, archive_dir, dry_run=True)
    assert (result.first_seq, result.end_seq, result.dry_run) == (0, 4, True)
    assert not archive_dir.exists()
    assert archive_rows(db) == []
    assert leaf_seqs(db) == [0, 1, 2, 3, 4]  # and no audit.archive event
    assert contexts(db) == 5


def test_nothing_old_enough_is_nothing_to_archive(
    audit: AuditService, reads: Reads, archive_dir: Path, db: Database
) -> None:
    reads(3)
    result = run_archive(audit, archive_dir)
    assert result.location is None
    assert result.entries == 0
    assert leaf_seqs(db) == [0, 1, 2]


def test_archive_then_export_skips_the_archived_entries(
    audit: AuditService, reads: Reads, clock: ManualClock, archive_dir: Path, tmp_path: Path
) -> None:
    reads(6)
    clock.advance(days=RETENTION + 1)
    reads(3)
    run_archive(audit, archive_dir)
    summary = export_bundle(audit, SYSTEM, tmp_path / "export")
    assert summary.archived_end == 6
    assert summary.bundle.first_seq == 6  # the live log only
    assert summary.bundle.end_seq == summary.bundle.checkpoint_size == 10
    assert "head recomputed from prefix.json and the entries matches" in verified(
        tmp_path / "export", audit
    )


def test_archiving_twice_gives_contiguous_archives(
    audit: AuditService, reads: Reads, clock: ManualClock, archive_dir: Path, db: Database
) -> None:
    reads(5)
    clock.advance(days=200)
    reads(4)
    clock.advance(days=RETENTION - 100)
    first = run_archive(audit, archive_dir)
    assert (first.first_seq, first.end_seq) == (0, 5)
    assert run_archive(audit, archive_dir).entries == 0  # nothing more is old enough
    clock.advance(days=RETENTION + 1)
    second = run_archive(audit, archive_dir)
    # The four reads, then the first run's own audit.archive entry (seq 9).
    assert (second.first_seq, second.end_seq) == (5, 10)
    assert second.location is not None
    assert "entries 5 to 9 (5) proven" in verified(second.location, audit)
    assert [(row[0], row[1]) for row in archive_rows(db)] == [(0, 5), (5, 10)]
    report = audit.verify()
    assert report.clean, report.finding
    assert report.archived == 10


def test_a_deleted_live_leaf_is_still_caught_after_archiving(
    audit: AuditService, reads: Reads, clock: ManualClock, archive_dir: Path, db: Database
) -> None:
    reads(6)
    clock.advance(days=RETENTION + 1)
    reads(4)
    run_archive(audit, archive_dir)
    assert audit.verify().clean
    with db.write() as session:  # the first live entry, just above the archived range
        session.execute(delete(AuditLeaf).where(AuditLeaf.seq == 6))
    report = audit.verify()
    assert report.finding is not None
    assert (report.finding.kind, report.finding.seq) == (MISSING, 6)


def test_tampering_after_archiving_is_caught(
    audit: AuditService, reads: Reads, clock: ManualClock, archive_dir: Path, db: Database
) -> None:
    reads(6)
    clock.advance(days=RETENTION + 1)
    reads(4)
    run_archive(audit, archive_dir)
    # A leaf hash of the archived range changed: the tree above it no longer matches.
    with db.write() as session:
        session.execute(
            update(AuditNode).where(AuditNode.level == 0, AuditNode.idx == 2).values(hash=bytes(32))
        )
    report = audit.verify()
    assert report.finding is not None
    assert (report.finding.kind, report.finding.seq) == (ALTERED, 2)


def test_a_removed_archive_row_is_caught(
    audit: AuditService, reads: Reads, clock: ManualClock, archive_dir: Path, db: Database
) -> None:
    reads(3)
    clock.advance(days=RETENTION + 1)
    reads(2)
    run_archive(audit, archive_dir)
    with db.write() as session:
        session.execute(delete(AuditArchive))
    report = audit.verify()
    assert report.finding is not None
    assert (report.finding.kind, report.finding.seq) == (MISSING, 0)
    # And an archive row that leaves a gap.
    with db.write() as session:
        session.add(
            AuditArchive(first_seq=1, end_seq=3, checkpoint_size=5, location="x", leaves_sha256="")
        )
    report = audit.verify()
    assert report.finding is not None
    assert (report.finding.kind, report.finding.seq) == (MISSING, 0)
    assert "do not run contiguously from entry 0" in str(report.finding.error)


def test_an_altered_leaf_stops_the_archive_before_anything_is_deleted(
    audit: AuditService, reads: Reads, clock: ManualClock, archive_dir: Path, db: Database
) -> None:
    reads(5)
    clock.advance(days=RETENTION + 1)
    reads(1)
    audit.sequencer.run_pending()
    with db.write() as session:
        session.execute(
            update(AuditLeaf).where(AuditLeaf.seq == 3).values(leaf=b'{"seq":3,"forged":true}')
        )
    with pytest.raises(LogTampered, match="Audit entry 3 was altered"):
        run_archive(audit, archive_dir)
    assert list(archive_dir.iterdir()) == []
    assert leaf_seqs(db) == [0, 1, 2, 3, 4, 5]
    assert contexts(db) == 6
    assert archive_rows(db) == []


def test_an_existing_bundle_directory_is_never_overwritten(
    audit: AuditService, reads: Reads, clock: ManualClock, archive_dir: Path, db: Database
) -> None:
    reads(3)
    clock.advance(days=RETENTION + 1)
    reads(1)
    taken = archive_dir / "000000000000-000000000002"
    taken.mkdir(parents=True)
    (taken / "entries.jsonl").write_bytes(b"an earlier run's\n")
    with pytest.raises(UnrecordedArchive, match="no archive record names it"):
        run_archive(audit, archive_dir)
    assert (taken / "entries.jsonl").read_bytes() == b"an earlier run's\n"
    assert leaf_seqs(db) == [0, 1, 2, 3]


def test_only_administrators_archive(
    audit: AuditService, reads: Reads, clock: ManualClock, archive_dir: Path, db: Database
) -> None:
    reads(2)
    clock.advance(days=RETENTION + 1)
    audit.sequencer.run_pending()
    auditor = Principal(kind=PrincipalKind.USER, user_id="u-1", username="dpo")
    with pytest.raises(GlobalRoleRequired):
        run_archive_as(audit, auditor, archive_dir)
    assert leaf_seqs(db) == [0, 1]
    audit.sequencer.run_pending()
    denied = json.loads(stored_leaves(db)[-1][1])
    assert (denied["action"], denied["outcome"]) == ("audit.archive", "denied")
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 3


def run_archive_as(audit: AuditService, actor: Principal, directory: Path) -> ArchiveResult:
    return archive(audit, actor, directory, retention=dt.timedelta(days=RETENTION))


def test_the_cutoff_follows_the_clock(
    audit: AuditService, reads: Reads, clock: ManualClock, archive_dir: Path
) -> None:
    reads(1)
    clock.advance(days=RETENTION + 1)
    result = run_archive(audit, archive_dir, dry_run=True)
    assert result.cutoff == clock.now() - dt.timedelta(days=RETENTION)
