"""Groups, their members, and `user:`/`group:` principal references."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from egide.core.db.engine import Database
from egide.core.db.models import Grant, GroupMember, Node, Space
from egide.core.errors import Forbidden, InvalidInput, NotFound
from egide.services.access.grants import set_grant
from egide.services.access.policy import Principal, SpaceRole
from egide.services.accounts import AccountService, resolve_principal_ref
from egide.services.accounts.errors import GroupNameTaken, GroupNotFound, UserNotFound

from .conftest import SYSTEM, MakeUser


def test_create_list_and_delete(accounts: AccountService, admin: Principal) -> None:
    info = accounts.create_group(admin, " Cardiologie ", "Service de cardiologie")
    assert (info.name, info.description, info.member_count) == (
        "cardiologie",
        "Service de cardiologie",
        0,
    )
    accounts.create_group(SYSTEM, "urgences")
    assert [g.name for g in accounts.list_groups(admin)] == ["cardiologie", "urgences"]
    accounts.delete_group(admin, "cardiologie")
    assert [g.name for g in accounts.list_groups(admin)] == ["urgences"]
    with pytest.raises(GroupNotFound):
        accounts.delete_group(admin, "cardiologie")


def test_group_names_follow_the_username_rules(accounts: AccountService) -> None:
    with pytest.raises(InvalidInput) as caught:
        accounts.create_group(SYSTEM, "a b")
    assert caught.value.field == "name"
    assert "group name" in str(caught.value)
    with pytest.raises(InvalidInput):
        accounts.create_group(SYSTEM, "ok-name", "d" * 501)
    accounts.create_group(SYSTEM, "pediatrie")
    with pytest.raises(GroupNameTaken):
        accounts.create_group(SYSTEM, "PEDIATRIE")


def test_members(accounts: AccountService, make_user: MakeUser) -> None:
    alice = make_user("alice")
    make_user("bob")
    accounts.create_group(SYSTEM, "cardio")
    assert accounts.add_member(SYSTEM, "cardio", "bob") is True
    assert accounts.add_member(SYSTEM, "Cardio", "ALICE") is True
    assert accounts.add_member(SYSTEM, "cardio", "alice") is False
    assert [u.username for u in accounts.list_members(SYSTEM, "cardio")] == ["alice", "bob"]
    assert accounts.list_groups(SYSTEM)[0].member_count == 2
    assert alice.user_id is not None
    assert accounts.principal_for(alice.user_id).group_ids == {accounts.list_groups(SYSTEM)[0].id}
    assert accounts.remove_member(SYSTEM, "cardio", "alice") is True
    assert accounts.remove_member(SYSTEM, "cardio", "alice") is False
    assert [u.username for u in accounts.list_members(SYSTEM, "cardio")] == ["bob"]
    assert accounts.principal_for(alice.user_id).group_ids == frozenset()
    with pytest.raises(UserNotFound):
        accounts.add_member(SYSTEM, "cardio", "nobody.here")
    with pytest.raises(GroupNotFound):
        accounts.add_member(SYSTEM, "nogroup", "alice")


def test_only_admins_manage_groups(
    accounts: AccountService, alice: Principal, admin: Principal
) -> None:
    accounts.create_group(admin, "cardio")
    for attempt in (
        lambda: accounts.create_group(alice, "mine"),
        lambda: accounts.delete_group(alice, "cardio"),
        lambda: accounts.list_groups(alice),
        lambda: accounts.add_member(alice, "cardio", "alice"),
        lambda: accounts.remove_member(alice, "cardio", "alice"),
        lambda: accounts.list_members(alice, "cardio"),
    ):
        with pytest.raises(Forbidden):
            attempt()
    assert accounts.list_members(admin, "cardio") == []


def test_deleting_a_group_removes_its_memberships_and_grants(
    accounts: AccountService, make_user: MakeUser, db: Database
) -> None:
    make_user("alice")
    group = accounts.create_group(SYSTEM, "cardio")
    accounts.add_member(SYSTEM, "cardio", "alice")
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with db.write() as session:
        space = Space(
            slug="s", title_enc=b"t", title_key_id="k", current_key_id="k", root_node_id=""
        )
        session.add(space)
        session.flush()
        root = Node(space_id=space.id, kind="folder", name_enc=b"", name_index="", name_key_id="k")
        session.add(root)
        session.flush()
        set_grant(
            session,
            space_id=space.id,
            node_id=root.id,
            principal_kind="group",
            principal_id=group.id,
            role=SpaceRole.READER,
            created_by=None,
            now=now,
        )
    accounts.delete_group(SYSTEM, "cardio")
    with db.read() as session:
        assert session.scalars(select(Grant)).all() == []
        assert session.scalars(select(GroupMember)).all() == []


def test_resolve_principal_ref(accounts: AccountService, make_user: MakeUser, db: Database) -> None:
    alice = make_user("alice")
    group = accounts.create_group(SYSTEM, "cardio")
    with db.read() as session:
        assert resolve_principal_ref(session, "user:alice") == ("user", alice.user_id)
        assert resolve_principal_ref(session, "user:Alice") == ("user", alice.user_id)
        assert resolve_principal_ref(session, "group:cardio") == ("group", group.id)
        assert resolve_principal_ref(session, "GROUP:Cardio") == ("group", group.id)
        with pytest.raises(NotFound):
            resolve_principal_ref(session, "user:nobody.here")
        with pytest.raises(NotFound):
            resolve_principal_ref(session, "group:alice")
        for malformed in ("alice", "robot:alice", "user:", ":alice", ""):
            with pytest.raises(InvalidInput) as caught:
                resolve_principal_ref(session, malformed)
            assert caught.value.field == "principal"
            assert "user:<username>" in str(caught.value)
