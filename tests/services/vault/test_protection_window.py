"""The protection window (issue 8, item 4; ADR 4): no account, door or setting
purges a version or a trash item inside the window it was written with.

- `egide gc` (the only purge there is) as the local administrator or as an
  administrator account, with `versions_keep` at 1 and the window shortened
  after the data was written;
- no HTTP operation deletes a version or empties the trash (an administrator
  whose account was taken over has no door to purge through);
- a roll-back's own versions and trash items get the window too.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from egide.core.clock import ManualClock
from egide.core.db.models import TrashItem, Version
from egide.services.access.policy import GlobalRole, Principal
from egide.services.registry import Services
from egide.web.app import create_app
from tests.vault_fixtures import SYSTEM, MakeUser

NO_GRACE = dt.timedelta(0)


def _versions(svc: Services) -> int:
    with svc.db.read() as session:
        return session.scalar(select(func.count()).select_from(Version)) or 0


def _trash(svc: Services) -> int:
    with svc.db.read() as session:
        return session.scalar(select(func.count()).select_from(TrashItem)) or 0


@pytest.mark.parametrize("who", ["system", "admin"])
def test_nothing_is_purged_inside_the_window_even_with_a_shorter_one_set_later(
    svc: Services, alice: Principal, make_user: MakeUser, clock: ManualClock, who: str
) -> None:
    actor = SYSTEM if who == "system" else make_user("root", GlobalRole.ADMIN)
    for i in range(4):
        svc.files.write(alice, "cardio", "cr.txt", [b"version %d" % i])
        clock.advance(minutes=1)
    svc.files.write(alice, "cardio", "gone.txt", [b"x"])
    svc.nodes.delete(alice, "cardio", "gone.txt")
    # An attacker with the administrator's account, or a careless change: the
    # window is shortened to one day and only one version kept per file.
    svc.maintenance.ctx.settings = svc.settings.with_overrides(protection_days=1, versions_keep=1)
    clock.advance(days=29, hours=23)
    report = svc.maintenance.gc(actor, grace=NO_GRACE)
    assert (report.versions_pruned, report.trash_purged) == (0, 0)
    assert report.trash_protected == 0  # not even due: protected_until is 30 days out
    assert (_versions(svc), _trash(svc)) == (5, 1)
    # Data written after the change gets the shorter window.
    svc.files.write(alice, "cardio", "cr.txt", [b"after the change"])
    clock.advance(hours=2)  # the first four versions' 30 days are over
    report = svc.maintenance.gc(actor, grace=NO_GRACE)
    assert report.trash_purged == 1
    # Kept: the current version, and the one it replaced 2 hours ago (30 days).
    assert report.versions_pruned == 3
    clock.advance(days=30)
    assert svc.maintenance.gc(actor, grace=NO_GRACE).versions_pruned == 1


def test_only_maintenance_may_run_gc(svc: Services, alice: Principal) -> None:
    from egide.core.errors import Forbidden

    with pytest.raises(Forbidden):
        svc.maintenance.gc(alice, grace=NO_GRACE)


def test_no_http_operation_purges_versions_or_the_trash(svc: Services) -> None:
    """The API has no door that destroys a version, a trash item or runs gc: the
    only purge is `egide gc` on the server, which honours the window."""
    spec = create_app(svc).openapi()
    for path, operations in spec["paths"].items():
        for method in operations:
            if method == "delete":
                assert "/versions" not in path, path
                assert "/trash" not in path, path
            assert "gc" not in path.split("/"), path
            assert "purge" not in path, path


def test_a_rollback_s_versions_and_trash_items_are_protected_too(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    svc.files.write(alice, "cardio", "a.txt", [b"before"])
    clock.advance(minutes=1)
    at = clock.now()
    clock.advance(minutes=1)
    svc.files.write(alice, "cardio", "a.txt", [b"after"])
    svc.files.write(alice, "cardio", "new.txt", [b"new"])
    svc.rollback.restore_at(SYSTEM, "cardio", at)
    svc.maintenance.ctx.settings = svc.settings.with_overrides(versions_keep=1)
    clock.advance(days=29)
    report = svc.maintenance.gc(SYSTEM, grace=NO_GRACE)
    assert (report.versions_pruned, report.trash_purged) == (0, 0)
    assert _versions(svc) == 4
    assert _trash(svc) == 1
