"""gc never purges inside the protection window; fsck finds every bad blob."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from egide.core.clock import ManualClock
from egide.core.db.models import Content, Version
from egide.services.access.policy import Principal
from egide.services.registry import Services
from tests.vault_fixtures import SYSTEM

NO_GRACE = dt.timedelta(0)


def contents(svc: Services) -> int:
    with svc.db.read() as session:
        return session.scalar(select(func.count()).select_from(Content)) or 0


def blob_count(svc: Services) -> int:
    return sum(1 for _ in svc.blobs.iter_blobs())


def test_trash_is_protected_then_purged_and_shredded(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    svc.files.write(alice, "cardio", "cr.txt", [b"v1"])
    svc.files.write(alice, "cardio", "cr.txt", [b"v2"])
    item = svc.nodes.delete(alice, "cardio", "cr.txt")
    assert item.protected_until == clock.now() + dt.timedelta(days=30)
    clock.advance(days=29, hours=23)
    report = svc.maintenance.gc(SYSTEM, grace=NO_GRACE)
    assert report.trash_purged == 0
    assert blob_count(svc) == 2
    clock.advance(hours=2)
    report = svc.maintenance.gc(SYSTEM, grace=NO_GRACE)
    assert report.trash_purged == 1
    assert report.contents_erased == 2
    assert contents(svc) == 0  # wrapped data keys gone: crypto-shredded
    assert blob_count(svc) == 0
    assert svc.nodes.trash(alice, "cardio") == []


def test_protection_window_is_fixed_when_data_is_written(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    svc.files.write(alice, "cardio", "old.txt", [b"a"])
    # The operator shortens the window: data already written keeps 30 days.
    svc.maintenance.ctx.settings = svc.settings.with_overrides(protection_days=1)
    item = svc.nodes.delete(alice, "cardio", "old.txt")
    assert item.protected_until == clock.now() + dt.timedelta(days=30)
    clock.advance(days=2)
    assert svc.maintenance.gc(SYSTEM, grace=NO_GRACE).trash_purged == 0
    # New data gets the new window.
    svc.files.write(alice, "cardio", "new.txt", [b"b"])
    new_item = svc.nodes.delete(alice, "cardio", "new.txt")
    clock.advance(days=1, seconds=1)
    report = svc.maintenance.gc(SYSTEM, grace=NO_GRACE)
    assert report.trash_purged == 1
    assert [t.id for t in svc.nodes.trash(alice, "cardio")] == [item.id]
    assert new_item.id != item.id


def test_version_pruning_keeps_recent_and_protected_versions(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    svc.maintenance.ctx.settings = svc.settings.with_overrides(versions_keep=3)
    for i in range(6):
        svc.files.write(alice, "cardio", "note.txt", [b"version %d" % i])
        clock.advance(minutes=1)
    assert svc.maintenance.gc(SYSTEM, grace=NO_GRACE).versions_pruned == 0
    clock.advance(days=31)
    report = svc.maintenance.gc(SYSTEM, grace=NO_GRACE)
    # Current + 2 most recent old versions kept (keep = 3 per file).
    assert report.versions_pruned == 3
    history = svc.files.versions(alice, "cardio", "note.txt")
    assert len(history) == 3
    assert b"".join(svc.files.open(alice, "cardio", "note.txt").iter_bytes()) == b"version 5"
    assert blob_count(svc) == 3


def test_shared_contents_survive_until_the_last_reference(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    v1 = svc.files.write(alice, "cardio", "a.txt", [b"shared bytes"])
    svc.nodes.copy(alice, "cardio", "a.txt", "b.txt")
    svc.files.write(alice, "cardio", "a.txt", [b"new"])
    svc.files.restore_version(alice, "cardio", "a.txt", v1.id)
    svc.nodes.delete(alice, "cardio", "b.txt")
    clock.advance(days=40)
    svc.maintenance.gc(SYSTEM, grace=NO_GRACE)
    assert b"".join(svc.files.open(alice, "cardio", "a.txt").iter_bytes()) == b"shared bytes"
    assert svc.maintenance.fsck(SYSTEM).clean


def test_orphan_blobs_are_collected_after_the_grace_period(svc: Services, alice: Principal) -> None:
    svc.files.write(alice, "cardio", "kept.txt", [b"kept"])
    orphan = svc.blobs.new_key()
    with svc.blobs.create(orphan) as writer:
        writer.write(b"EGS1 written, never committed")
        writer.commit()
    assert svc.maintenance.fsck(SYSTEM).orphan_blobs == 1
    assert svc.maintenance.gc(SYSTEM, grace=dt.timedelta(hours=1)).blobs_deleted == 0
    assert svc.maintenance.gc(SYSTEM, grace=dt.timedelta(seconds=-5)).blobs_deleted == 1
    assert not svc.blobs.exists(orphan)
    assert svc.maintenance.fsck(SYSTEM).clean


def test_fsck_names_each_bad_or_missing_blob(svc: Services, alice: Principal) -> None:
    svc.nodes.mkdir(alice, "cardio", "dossier")
    svc.files.write(alice, "cardio", "dossier/good.txt", [os.urandom(10_000)])
    svc.files.write(alice, "cardio", "dossier/flipped.txt", [os.urandom(10_000)])
    svc.files.write(alice, "cardio", "dossier/missing.txt", [os.urandom(10_000)])
    svc.files.write(alice, "cardio", "dossier/truncated.txt", [os.urandom(10_000)])
    assert svc.maintenance.fsck(SYSTEM).clean

    def blob_path(name: str) -> Path:
        with svc.db.read() as session:
            node = svc.nodes.stat(alice, "cardio", f"dossier/{name}")
            key = session.scalar(
                select(Content.blob_key)
                .join(Version, Version.content_id == Content.id)
                .where(Version.id == node.version_id)
            )
        assert key is not None
        return svc.blobs.path_for(key)

    with blob_path("flipped.txt").open("r+b") as handle:
        handle.seek(5000)
        byte = handle.read(1)
        handle.seek(5000)
        handle.write(bytes([byte[0] ^ 1]))
    blob_path("missing.txt").unlink()
    with blob_path("truncated.txt").open("r+b") as handle:
        handle.truncate(4000)
    report = svc.maintenance.fsck(SYSTEM)
    assert not report.clean
    assert report.checked == 4
    problems = {p.path: p.problem for p in report.problems}
    assert set(problems) == {
        "/dossier/flipped.txt",
        "/dossier/missing.txt",
        "/dossier/truncated.txt",
    }
    assert "integrity" in problems["/dossier/flipped.txt"]
    assert problems["/dossier/missing.txt"] == "blob missing"
    assert "size" in problems["/dossier/truncated.txt"]


def test_fsck_reports_usage_drift(svc: Services, alice: Principal) -> None:
    from sqlalchemy import update

    from egide.core.db.models import Space

    svc.files.write(alice, "cardio", "a.txt", [b"12345"])
    with svc.db.write() as session:
        session.execute(update(Space).values(used_bytes=1))
    report = svc.maintenance.fsck(SYSTEM)
    assert report.usage_mismatches == ["cardio: recorded 1 bytes in use, counted 5"]


def test_purging_a_large_folder_works_in_batches(
    svc: Services, alice: Principal, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from egide.services.vault import maintenance

    monkeypatch.setattr(maintenance, "_BATCH", 7)
    svc.nodes.mkdir(alice, "cardio", "archive/2025", parents=True)
    for i in range(30):
        svc.files.write(alice, "cardio", f"archive/2025/cr-{i}.txt", [b"%d" % i])
        svc.files.write(alice, "cardio", f"archive/2025/cr-{i}.txt", [b"v2 %d" % i])
    svc.nodes.delete(alice, "cardio", "archive")
    clock.advance(days=31)
    report = svc.maintenance.gc(SYSTEM, grace=NO_GRACE)
    assert report.trash_purged == 1
    assert report.contents_erased == 60
    assert contents(svc) == 0
    assert blob_count(svc) == 0
    assert svc.maintenance.fsck(SYSTEM).clean
