"""Internal shares (issue 7, item 1): a role on a single file, "shared with me", revocation."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from egide.core.db.models import AuditEvent
from egide.core.errors import NotFound
from egide.services.access.errors import RoleTooLow
from egide.services.access.policy import Principal
from egide.services.audit.actions import AuditAction
from egide.services.registry import Services
from tests.vault_fixtures import SYSTEM, MakeUser

pytestmark = pytest.mark.db


@pytest.fixture
def bob(make_user: MakeUser) -> Principal:
    return make_user("bob")


def _fresh(svc: Services, who: Principal) -> Principal:
    """The principal as the next request builds it (roles and groups as of now)."""
    assert who.user_id is not None
    return svc.accounts.principal_for(who.user_id)


def test_a_single_file_is_shared_and_nothing_around_it(
    svc: Services, alice: Principal, bob: Principal
) -> None:
    svc.nodes.mkdir(alice, "cardio", "/dupont")
    svc.files.write(alice, "cardio", "/dupont/echo.pdf", [b"echo"])
    svc.files.write(alice, "cardio", "/dupont/bilan.pdf", [b"bilan"])
    view = svc.spaces.grant(SYSTEM, "cardio", "/dupont/echo.pdf", "user:bob", "reader")
    assert view.path == "/dupont/echo.pdf"

    data = b"".join(svc.files.open(bob, "cardio", "/dupont/echo.pdf").iter_bytes())
    assert data == b"echo"
    with pytest.raises(NotFound):
        svc.files.open(bob, "cardio", "/dupont/bilan.pdf")
    with pytest.raises(NotFound):
        svc.nodes.list_folder(bob, "cardio", "/dupont")
    with pytest.raises(RoleTooLow):
        svc.files.write(bob, "cardio", "/dupont/echo.pdf", [b"changed"])


def test_shared_with_me_lists_files_and_folders_with_who_and_when(
    svc: Services, alice: Principal, bob: Principal
) -> None:
    svc.nodes.mkdir(alice, "cardio", "/dupont")
    svc.files.write(alice, "cardio", "/dupont/echo.pdf", [b"echo"])
    svc.spaces.grant(SYSTEM, "cardio", "", "user:alice", "manager")
    svc.spaces.grant(alice, "cardio", "/dupont/echo.pdf", "user:bob", "reader")
    svc.accounts.create_group(SYSTEM, "urgences")
    svc.accounts.add_member(SYSTEM, "urgences", "bob")
    svc.spaces.grant(alice, "cardio", "/dupont", "group:urgences", "contributor")

    items = svc.sharing.shared_with_me(_fresh(svc, bob))
    assert sorted((i.path, i.kind, i.role, i.via_group) for i in items) == [
        ("/dupont", "folder", "contributor", "urgences"),
        ("/dupont/echo.pdf", "file", "reader", None),
    ]
    assert {(i.shared_by, i.shared_at) for i in items} == {("alice", svc.sharing.clock.now())}
    assert all(i.space == "cardio" for i in items)

    # A member of the whole space sees nothing here: the space is in their list.
    assert svc.sharing.shared_with_me(alice) == []


def test_revoking_takes_effect_at_the_next_call_despite_the_listing_cache(
    svc: Services, alice: Principal, bob: Principal
) -> None:
    svc.nodes.mkdir(alice, "cardio", "/dupont")
    svc.files.write(alice, "cardio", "/dupont/echo.pdf", [b"echo"])
    svc.spaces.grant(SYSTEM, "cardio", "/dupont", "user:bob", "reader")
    # Listed twice: the second answer comes from the listing cache.
    assert [n.name for n in svc.nodes.list_folder(bob, "cardio", "/dupont")] == ["echo.pdf"]
    assert [n.name for n in svc.nodes.list_folder(bob, "cardio", "/dupont")] == ["echo.pdf"]

    assert svc.spaces.revoke(SYSTEM, "cardio", "/dupont", "user:bob")
    with pytest.raises(NotFound):
        svc.nodes.list_folder(bob, "cardio", "/dupont")
    with pytest.raises(NotFound):
        svc.files.open(bob, "cardio", "/dupont/echo.pdf")
    assert svc.sharing.shared_with_me(bob) == []


def test_leaving_a_group_ends_its_shares_at_once(
    svc: Services, alice: Principal, bob: Principal
) -> None:
    svc.files.write(alice, "cardio", "/echo.pdf", [b"echo"])
    svc.accounts.create_group(SYSTEM, "urgences")
    svc.accounts.add_member(SYSTEM, "urgences", "bob")
    svc.spaces.grant(SYSTEM, "cardio", "/echo.pdf", "group:urgences", "reader")
    assert svc.files.open(_fresh(svc, bob), "cardio", "/echo.pdf").size == 4

    svc.accounts.remove_member(SYSTEM, "urgences", "bob")
    with pytest.raises(NotFound):
        svc.files.open(_fresh(svc, bob), "cardio", "/echo.pdf")


def test_the_audit_entry_of_a_file_share_says_it_is_a_file(
    svc: Services, alice: Principal, bob: Principal
) -> None:
    svc.files.write(alice, "cardio", "/echo.pdf", [b"echo"])
    svc.spaces.grant(SYSTEM, "cardio", "/echo.pdf", "user:bob", "reader")
    svc.spaces.revoke(SYSTEM, "cardio", "/echo.pdf", "user:bob")
    with svc.db.read() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.in_([AuditAction.GRANT_ADD, AuditAction.GRANT_REMOVE]))
            .order_by(AuditEvent.created_at)
        ).all()
    added, removed = events[-2], events[-1]
    assert json.loads(added.details) == {"role": "reader", "node_kind": "file"}
    assert json.loads(removed.details) == {"node_kind": "file"}
    assert "echo" not in added.target + added.details  # names stay in the sealed context
