"""`export_bundle`: the bundle of FORMATS.md section 5, checked by the standalone verifier."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from egide.core.audit import merkle
from egide.core.audit.checkpoint import verify_note
from egide.core.clock import ManualClock
from egide.core.crypto.provider import FileKeyProvider
from egide.core.db import Database
from egide.core.db.base import new_id
from egide.core.db.models import AuditCheckpoint, AuditLeaf
from egide.services.access.errors import GlobalRoleRequired
from egide.services.access.policy import Principal, PrincipalKind
from egide.services.audit import AuditService
from egide.services.audit.export import (
    BundleDirNotEmpty,
    InvalidTimeBound,
    NothingToExport,
    export_bundle,
    parse_time,
)
from egide.services.audit.verify import LogTampered
from tests.services.audit.bundles import verified
from tests.services.audit.conftest import RecordMany
from tests.services.audit.helpers import stored_leaves
from tests.services.audit.signing import make_audit, new_provider

SYSTEM = Principal.system()
FILES = {"entries.jsonl", "proofs.jsonl", "checkpoint.txt", "vkey.txt"}


@pytest.fixture
def provider(tmp_path: Path) -> FileKeyProvider:
    return new_provider(tmp_path)


@pytest.fixture
def audit(db: Database, clock: ManualClock, provider: FileKeyProvider) -> AuditService:
    return make_audit(db, clock, provider)


def last_event(audit: AuditService) -> dict[str, object]:
    audit.sequencer.run_pending()
    event: dict[str, object] = json.loads(stored_leaves(audit.db)[-1][1])
    return event


def test_the_whole_log_exports_and_verifies(
    audit: AuditService, record_many: RecordMany, tmp_path: Path
) -> None:
    record_many(12)  # never sequenced: the export sequences them first
    out = tmp_path / "bundle"
    summary = export_bundle(audit, SYSTEM, out)
    bundle = summary.bundle
    assert (bundle.first_seq, bundle.end_seq, bundle.checkpoint_size) == (0, 12, 12)
    assert {p.name for p in out.iterdir()} == FILES  # from entry 0: no prefix.json
    leaves = stored_leaves(audit.db)
    assert (out / "entries.jsonl").read_bytes() == b"".join(leaf + b"\n" for _, leaf in leaves)
    checkpoint = verify_note((out / "checkpoint.txt").read_text(), audit.verifier_key())
    assert checkpoint.size == 12  # signed on demand: there was none
    assert (out / "vkey.txt").read_text() == audit.verifier_key() + "\n"
    proofs = [json.loads(line) for line in (out / "proofs.jsonl").read_text().splitlines()]
    assert [(p["seq"], p["tree_size"]) for p in proofs] == [(seq, 12) for seq in range(12)]
    head = merkle.root([merkle.leaf_hash(leaf) for _, leaf in leaves])
    for (seq, leaf), proof in zip(leaves, proofs, strict=True):
        merkle.verify_inclusion(
            merkle.leaf_hash(leaf), seq, 12, [bytes.fromhex(p) for p in proof["proof"]], head
        )
    assert "head recomputed from prefix.json and the entries matches" in verified(out, audit)
    # The export is itself an entry: by the system principal, ids and counts only.
    event = last_event(audit)
    assert event["seq"] == 12
    assert (event["action"], event["outcome"]) == ("audit.export", "allowed")
    assert event["actor"] == {"kind": "system", "id": None}
    assert event["details"] == {
        "first_seq": 0,
        "end_seq": 12,
        "entries": 12,
        "checkpoint_size": 12,
        "since": None,
        "until": None,
    }


def test_a_window_exports_the_contiguous_range_with_its_prefix(
    audit: AuditService, record_many: RecordMany, clock: ManualClock, tmp_path: Path
) -> None:
    start = clock.now()
    record_many(20)  # one entry per millisecond: entry n at start + (n + 1) ms
    since = start + dt.timedelta(milliseconds=6)  # entry 5 on
    until = start + dt.timedelta(milliseconds=14)  # up to entry 12
    summary = export_bundle(audit, SYSTEM, tmp_path / "window", since=since, until=until)
    assert (summary.bundle.first_seq, summary.bundle.end_seq) == (5, 13)
    assert summary.bundle.checkpoint_size == 20
    prefix = json.loads((tmp_path / "window" / "prefix.json").read_text())
    assert prefix["first"] == 5
    assert [bytes.fromhex(h) for h in prefix["hashes"]] == merkle.compact_range(
        5, lambda level, index: leaf_nodes(audit, level, index)
    )
    summary_line = verified(tmp_path / "window", audit)
    assert "entries 5 to 12 (8)" in summary_line
    assert "head is not recomputed" in summary_line  # the window stops before the last entry
    # A window open at its end runs to the checkpoint: the prefix recomputes the head.
    tail = export_bundle(audit, SYSTEM, tmp_path / "tail", since=since)
    assert tail.bundle.first_seq == 5
    assert tail.bundle.end_seq == 21  # the first export's own entry, seq 20, is in the window
    assert "head recomputed from prefix.json" in verified(tmp_path / "tail", audit)
    details = last_event(audit)["details"]
    assert isinstance(details, dict)
    assert details["since"] == since.isoformat()


def leaf_nodes(audit: AuditService, level: int, index: int) -> bytes:
    from egide.services.audit.tree import node_reader

    with audit.db.read() as session:
        return node_reader(session)(level, index)


def test_a_covering_checkpoint_is_reused(
    audit: AuditService, record_many: RecordMany, clock: ManualClock, tmp_path: Path
) -> None:
    start = clock.now()
    record_many(8)
    signed = audit.checkpoint(force=True)
    assert signed is not None
    record_many(3)
    summary = export_bundle(
        audit, SYSTEM, tmp_path / "out", until=start + dt.timedelta(milliseconds=4)
    )
    assert (summary.bundle.first_seq, summary.bundle.end_seq) == (0, 3)
    assert (tmp_path / "out" / "checkpoint.txt").read_text() == signed.note
    with audit.db.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 1
    verified(tmp_path / "out", audit)


def test_a_non_empty_directory_is_refused_and_an_earlier_bundle_kept(
    audit: AuditService, record_many: RecordMany, tmp_path: Path
) -> None:
    record_many(3)
    out = tmp_path / "bundle"
    export_bundle(audit, SYSTEM, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    record_many(2)
    with pytest.raises(BundleDirNotEmpty, match="is not empty"):
        export_bundle(audit, SYSTEM, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    stray = tmp_path / "notes"
    stray.mkdir()
    (stray / "readme.txt").write_text("mine")
    with pytest.raises(BundleDirNotEmpty):
        export_bundle(audit, SYSTEM, stray)
    assert [p.name for p in stray.iterdir()] == ["readme.txt"]
    # An empty directory is fine.
    (tmp_path / "empty").mkdir()
    export_bundle(audit, SYSTEM, tmp_path / "empty")
    verified(tmp_path / "empty", audit)


def test_a_failed_export_leaves_no_bundle_and_no_event(
    audit: AuditService, record_many: RecordMany, tmp_path: Path
) -> None:
    record_many(6)
    audit.sequencer.run_pending()
    with audit.db.write() as session:  # a live leaf deleted: the export stops at it
        session.execute(delete(AuditLeaf).where(AuditLeaf.seq == 4))
    with pytest.raises(LogTampered, match="Audit entry 4 is missing"):
        export_bundle(audit, SYSTEM, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    (tmp_path / "given").mkdir()
    with pytest.raises(LogTampered):
        export_bundle(audit, SYSTEM, tmp_path / "given")
    assert list((tmp_path / "given").iterdir()) == []  # no .partial left behind
    audit.sequencer.run_pending()
    assert all(b"audit.export" not in leaf for _, leaf in stored_leaves(audit.db))


def test_nothing_to_export_is_said(
    audit: AuditService, record_many: RecordMany, clock: ManualClock, tmp_path: Path
) -> None:
    with pytest.raises(NothingToExport):
        export_bundle(audit, SYSTEM, tmp_path / "empty-log")
    assert not (tmp_path / "empty-log").exists()
    assert audit.latest_checkpoint() is None  # nothing signed for nothing
    record_many(2)
    with pytest.raises(NothingToExport, match="No entry of the live audit log"):
        export_bundle(audit, SYSTEM, tmp_path / "out", since=clock.now() + dt.timedelta(days=1))


def test_times_are_read_strictly() -> None:
    utc = dt.UTC
    assert parse_time("2026-03-01", option="--since") == dt.datetime(2026, 3, 1, tzinfo=utc)
    assert parse_time("2026-03-01T09:30:00+01:00", option="--since") == dt.datetime(
        2026, 3, 1, 8, 30, tzinfo=utc
    )
    assert parse_time("2026-03-01T08:30:00Z", option="--until").hour == 8
    for bad in ("2026-03-01T08:30:00", "yesterday", "2026-02-30", ""):
        with pytest.raises(InvalidTimeBound, match="--until takes an RFC 3339 time"):
            parse_time(bad, option="--until")


def test_an_empty_window_is_refused(audit: AuditService, tmp_path: Path) -> None:
    moment = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    with pytest.raises(InvalidTimeBound, match="--since must come before --until"):
        export_bundle(audit, SYSTEM, tmp_path / "out", since=moment, until=moment)
    assert not (tmp_path / "out").exists()


def test_a_user_without_an_audit_role_is_refused_and_recorded(
    audit: AuditService, record_many: RecordMany, clock: ManualClock, tmp_path: Path
) -> None:
    record_many(2)
    clock.advance(seconds=1)  # events are sequenced in (time, id) order
    nurse = Principal(kind=PrincipalKind.USER, user_id=new_id(), username="nurse")
    with pytest.raises(GlobalRoleRequired):
        export_bundle(audit, nurse, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    event = last_event(audit)
    assert (event["action"], event["outcome"]) == ("audit.export", "denied")
    assert event["actor"] == {"kind": "user", "id": nurse.user_id}
