"""Role grants and their inheritance down a real folder tree, on the real database.

The tree (space `s1`; `s2` is a second space):

    s1 root
    ├── a
    │   └── a1
    │       └── a1x
    └── b
    s2 root
    └── c
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from egide.core.db.engine import Database
from egide.core.db.models import Grant, Group, Node, Space, User
from egide.core.errors import InvalidInput, NotFound
from egide.services.access.grants import (
    effective_role,
    list_grants,
    remove_grant,
    remove_principal_grants,
    set_grant,
    visible_space_ids,
)
from egide.services.access.policy import GlobalRole, Principal, PrincipalKind, SpaceRole

R, C, M = SpaceRole.READER, SpaceRole.CONTRIBUTOR, SpaceRole.MANAGER
T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


@dataclass
class World:
    db: Database
    spaces: dict[str, str]
    nodes: dict[str, str]
    alice: Principal
    bob: Principal
    group_id: str


def _space(session: Session, slug: str) -> tuple[str, str]:
    space = Space(
        slug=slug,
        title_enc=b"t",
        title_key_id="k",
        current_key_id="k",
        root_node_id="",
        created_at=T0,
    )
    session.add(space)
    session.flush()
    root = _node(session, space.id, None, f"{slug}-root")
    space.root_node_id = root
    return space.id, root


def _node(session: Session, space_id: str, parent_id: str | None, name: str) -> str:
    node = Node(
        space_id=space_id,
        parent_id=parent_id,
        kind="folder",
        name_enc=name.encode(),
        name_index=name,
        name_key_id="k",
        created_at=T0,
        updated_at=T0,
    )
    session.add(node)
    session.flush()
    return node.id


def _principal(user: User, *groups: str) -> Principal:
    return Principal(
        kind=PrincipalKind.USER,
        user_id=user.id,
        username=user.username,
        group_ids=frozenset(groups),
    )


@pytest.fixture
def world(db: Database) -> World:
    with db.write() as session:
        s1, root1 = _space(session, "s1")
        s2, root2 = _space(session, "s2")
        a = _node(session, s1, root1, "a")
        a1 = _node(session, s1, a, "a1")
        a1x = _node(session, s1, a1, "a1x")
        b = _node(session, s1, root1, "b")
        c = _node(session, s2, root2, "c")
        alice = User(username="alice", created_at=T0)
        bob = User(username="bob", created_at=T0)
        group = Group(name="cardio", created_at=T0)
        session.add_all([alice, bob, group])
        session.flush()
        return World(
            db=db,
            spaces={"s1": s1, "s2": s2},
            nodes={"root1": root1, "a": a, "a1": a1, "a1x": a1x, "b": b, "root2": root2, "c": c},
            alice=_principal(alice, group.id),
            bob=_principal(bob),
            group_id=group.id,
        )


def _grant(w: World, node: str, kind: str, principal_id: str, role: SpaceRole) -> bool:
    db = w.db
    space = "s2" if node in ("root2", "c") else "s1"
    with db.write() as session:
        return set_grant(
            session,
            space_id=w.spaces[space],
            node_id=w.nodes[node],
            principal_kind=kind,
            principal_id=principal_id,
            role=role,
            created_by=None,
            now=T0,
        )


def _roles(db: Database, principal: Principal, w: World) -> dict[str, SpaceRole | None]:
    with db.read() as session:
        return {name: effective_role(session, principal, node) for name, node in w.nodes.items()}


def _uid(p: Principal) -> str:
    assert p.user_id is not None
    return p.user_id


def test_no_grant_no_role(db: Database, world: World) -> None:
    assert set(_roles(db, world.alice, world).values()) == {None}


def test_a_role_on_the_root_holds_on_the_whole_space_only(db: Database, world: World) -> None:
    _grant(world, "root1", "user", _uid(world.alice), R)
    roles = _roles(db, world.alice, world)
    assert roles == {"root1": R, "a": R, "a1": R, "a1x": R, "b": R, "root2": None, "c": None}
    assert _roles(db, world.bob, world)["a1"] is None


def test_a_role_on_a_folder_holds_below_it_not_above_nor_beside(db: Database, world: World) -> None:
    _grant(world, "a", "user", _uid(world.alice), C)
    roles = _roles(db, world.alice, world)
    assert roles["a"] is C
    assert roles["a1"] is C
    assert roles["a1x"] is C
    assert roles["root1"] is None
    assert roles["b"] is None  # a sibling folder inherits nothing


def test_the_highest_of_several_roles_wins(db: Database, world: World) -> None:
    _grant(world, "root1", "user", _uid(world.alice), C)
    _grant(world, "a1", "user", _uid(world.alice), R)  # lower, deeper: no downgrade
    _grant(world, "a", "group", world.group_id, M)
    roles = _roles(db, world.alice, world)
    assert roles["root1"] is C
    assert roles["a"] is M
    assert roles["a1"] is M
    assert roles["a1x"] is M
    assert roles["b"] is C


def test_group_grants_reach_members_only(db: Database, world: World) -> None:
    _grant(world, "a1", "group", world.group_id, C)
    assert _roles(db, world.alice, world)["a1x"] is C
    assert _roles(db, world.bob, world)["a1x"] is None


def test_removing_a_grant_takes_effect_at_once(db: Database, world: World) -> None:
    _grant(world, "root1", "user", _uid(world.alice), R)
    _grant(world, "a", "user", _uid(world.alice), M)
    assert _roles(db, world.alice, world)["a1"] is M
    with db.write() as session:
        assert remove_grant(
            session, node_id=world.nodes["a"], principal_kind="user", principal_id=_uid(world.alice)
        )
    roles = _roles(db, world.alice, world)
    assert roles["a1"] is R  # what the root still grants
    with db.write() as session:
        assert not remove_grant(
            session, node_id=world.nodes["a"], principal_kind="user", principal_id=_uid(world.alice)
        )


def test_the_system_principal_holds_no_space_role(db: Database, world: World) -> None:
    _grant(world, "root1", "user", _uid(world.alice), M)
    with db.read() as session:
        assert effective_role(session, Principal.system(), world.nodes["a1"]) is None
        assert visible_space_ids(session, Principal.system()) == set()


def test_admins_get_no_role_from_being_admins(db: Database, world: World) -> None:
    admin = Principal(
        kind=PrincipalKind.USER,
        user_id=_uid(world.bob),
        username="bob",
        global_roles=frozenset({GlobalRole.ADMIN}),
    )
    assert set(_roles(db, admin, world).values()) == {None}


def test_a_role_text_that_names_no_role_grants_nothing(db: Database, world: World) -> None:
    with db.write() as session:
        session.add(
            Grant(
                space_id=world.spaces["s1"],
                node_id=world.nodes["root1"],
                principal_kind="user",
                principal_id=_uid(world.alice),
                role="owner",
                created_at=T0,
            )
        )
    assert _roles(db, world.alice, world)["a"] is None
    with db.read() as session:
        assert list_grants(session, world.nodes["root1"]) == []


def test_visible_spaces(db: Database, world: World) -> None:
    _grant(world, "c", "user", _uid(world.alice), R)  # a subfolder is enough
    _grant(world, "a1", "group", world.group_id, R)
    with db.read() as session:
        assert visible_space_ids(session, world.alice) == {world.spaces["s1"], world.spaces["s2"]}
        assert visible_space_ids(session, world.bob) == set()


def test_set_grant_reports_changes_and_updates_the_role(db: Database, world: World) -> None:
    alice = _uid(world.alice)
    assert _grant(world, "a", "user", alice, R) is True
    assert _grant(world, "a", "user", alice, R) is False
    assert _grant(world, "a", "user", alice, M) is True
    with db.read() as session:
        rows = session.scalars(select(Grant).where(Grant.node_id == world.nodes["a"])).all()
        assert [(g.principal_id, g.role) for g in rows] == [(alice, "manager")]


def test_list_grants_lists_this_node_only(db: Database, world: World) -> None:
    alice = _uid(world.alice)
    _grant(world, "root1", "user", alice, R)
    with db.write() as session:
        set_grant(
            session,
            space_id=world.spaces["s1"],
            node_id=world.nodes["a"],
            principal_kind="group",
            principal_id=world.group_id,
            role=C,
            created_by=alice,
            now=T0 + dt.timedelta(hours=1),
        )
    with db.read() as session:
        infos = list_grants(session, world.nodes["a"])
        assert len(infos) == 1
        info = infos[0]
        assert (info.principal_kind, info.principal_id, info.role) == ("group", world.group_id, C)
        assert info.created_by == alice
        assert info.created_at == T0 + dt.timedelta(hours=1)
        assert [i.principal_id for i in list_grants(session, world.nodes["root1"])] == [alice]


def test_set_grant_checks_the_data(db: Database, world: World) -> None:
    alice = _uid(world.alice)
    with pytest.raises(NotFound):  # the node is in another space
        _grant_raw(db, world.spaces["s1"], world.nodes["c"], "user", alice)
    with pytest.raises(NotFound):
        _grant_raw(db, world.spaces["s1"], world.nodes["a"], "user", "no-such-user")
    with pytest.raises(NotFound):
        _grant_raw(db, world.spaces["s1"], world.nodes["a"], "group", alice)  # not a group id
    with pytest.raises(InvalidInput) as caught:
        _grant_raw(db, world.spaces["s1"], world.nodes["a"], "robot", alice)
    assert caught.value.field == "principal"


def _grant_raw(db: Database, space_id: str, node_id: str, kind: str, principal_id: str) -> None:
    with db.write() as session:
        set_grant(
            session,
            space_id=space_id,
            node_id=node_id,
            principal_kind=kind,
            principal_id=principal_id,
            role=R,
            created_by=None,
            now=T0,
        )


def test_remove_principal_grants(db: Database, world: World) -> None:
    _grant(world, "a", "group", world.group_id, C)
    _grant(world, "c", "group", world.group_id, R)
    _grant(world, "a", "user", _uid(world.alice), R)
    with db.write() as session:
        count = remove_principal_grants(
            session, principal_kind="group", principal_id=world.group_id
        )
        assert count == 2
    assert _roles(db, world.alice, world)["a1"] is R
