"""Spaces, members and folder grants."""

from __future__ import annotations

import pytest

from egide.core.errors import Forbidden, InvalidInput, NotFound
from egide.services.access.policy import GlobalRole, Principal, Scope
from egide.services.registry import Services
from egide.services.vault.errors import NameTaken
from egide.services.vault.spaces import MAX_QUOTA
from tests.vault_fixtures import SYSTEM, MakeUser


def test_only_administrators_create_spaces(svc: Services, make_user: MakeUser) -> None:
    bob = make_user("bob")
    with pytest.raises(Forbidden):
        svc.spaces.create(bob, "mine")
    admin = make_user("chef", GlobalRole.ADMIN)
    info = svc.spaces.create(admin, "Urgences", title="Service des urgences", quota_bytes=10**9)
    assert info.slug == "urgences"
    assert info.title == "Service des urgences"
    assert info.role is None  # administering is not reading
    with pytest.raises(NameTaken):
        svc.spaces.create(SYSTEM, "urgences")
    with pytest.raises(InvalidInput, match="space identifier"):
        svc.spaces.create(SYSTEM, "Dupont Jean")
    with pytest.raises(InvalidInput, match="negative"):
        svc.spaces.create(SYSTEM, "neg", quota_bytes=-1)


def test_space_listing_follows_roles(svc: Services, alice: Principal, make_user: MakeUser) -> None:
    svc.spaces.create(SYSTEM, "labo")
    assert [s.slug for s in svc.spaces.list_spaces(alice)] == ["cardio"]
    assert [s.slug for s in svc.spaces.list_spaces(SYSTEM)] == ["cardio", "labo"]
    with pytest.raises(NotFound):
        svc.spaces.get(alice, "labo")
    bob = make_user("bob")
    svc.nodes.mkdir(alice, "cardio", "partage")
    svc.spaces.grant(SYSTEM, "cardio", "partage", "user:bob", "reader")
    # A role on a folder makes the space visible, not its root.
    assert [s.slug for s in svc.spaces.list_spaces(bob)] == ["cardio"]
    with pytest.raises(NotFound):
        svc.nodes.list_folder(bob, "cardio")
    assert svc.nodes.list_folder(bob, "cardio", "partage") == []


def test_group_grants(svc: Services, alice: Principal, make_user: MakeUser) -> None:
    svc.files.write(alice, "cardio", "cr.txt", [b"x"])
    bob = make_user("bob")
    svc.accounts.create_group(SYSTEM, "internes")
    svc.accounts.add_member(SYSTEM, "internes", "bob")
    svc.spaces.grant(SYSTEM, "cardio", "", "group:internes", "reader")
    bob = svc.accounts.principal_for(bob.user_id or "")
    assert b"".join(svc.files.open(bob, "cardio", "cr.txt").iter_bytes()) == b"x"
    assert svc.spaces.revoke(SYSTEM, "cardio", "", "group:internes") is True
    with pytest.raises(NotFound):
        svc.files.open(bob, "cardio", "cr.txt")


def test_managers_manage_grants_in_their_subtree(
    svc: Services, alice: Principal, make_user: MakeUser
) -> None:
    boss = make_user("boss")
    make_user("bob")
    svc.nodes.mkdir(alice, "cardio", "equipe")
    svc.spaces.grant(SYSTEM, "cardio", "equipe", "user:boss", "manager")
    svc.spaces.grant(boss, "cardio", "equipe", "user:bob", "contributor")
    views = svc.spaces.grants(boss, "cardio", "equipe")
    assert [(v.principal, v.role) for v in views] == [
        ("user:bob", "contributor"),
        ("user:boss", "manager"),
    ]
    with pytest.raises(NotFound):
        svc.spaces.grant(boss, "cardio", "", "user:bob", "manager")
    with pytest.raises(Forbidden):
        svc.spaces.grant(alice, "cardio", "equipe", "user:bob", "manager")
    with pytest.raises(InvalidInput, match="reader, contributor or manager"):
        svc.spaces.grant(boss, "cardio", "equipe", "user:bob", "owner")
    with pytest.raises(NotFound):
        svc.spaces.grant(boss, "cardio", "equipe", "user:nobody", "reader")
    svc.files.write(alice, "cardio", "equipe/f.txt", [b"f"])
    # A single file too, since issue 7 (docs/sharing.md).
    view = svc.spaces.grant(boss, "cardio", "equipe/f.txt", "user:bob", "reader")
    assert view.path == "/equipe/f.txt"


def test_quotas_are_bounded(svc: Services) -> None:
    with pytest.raises(InvalidInput, match="1 EiB"):
        svc.spaces.create(SYSTEM, "neuro", quota_bytes=MAX_QUOTA + 1)
    svc.spaces.create(SYSTEM, "neuro", quota_bytes=MAX_QUOTA)
    with pytest.raises(InvalidInput, match="negative"):
        svc.spaces.set_quota(SYSTEM, "neuro", quota_bytes=-1)
    with pytest.raises(InvalidInput, match="1 EiB"):
        svc.spaces.set_quota(SYSTEM, "neuro", quota_bytes=None, history_quota_bytes=1 << 64)


def test_an_admin_token_without_the_admin_scope_lists_only_its_spaces(
    svc: Services, make_user: MakeUser
) -> None:
    svc.spaces.create(SYSTEM, "neuro")
    svc.spaces.create(SYSTEM, "cardio")
    root = make_user("root", GlobalRole.ADMIN)
    svc.spaces.grant(SYSTEM, "cardio", "", "user:root", "reader")
    assert root.user_id is not None
    files_only = svc.accounts.principal_for(root.user_id, scopes=frozenset({Scope.FILES_READ}))
    admin = svc.accounts.principal_for(root.user_id, scopes=frozenset({Scope.ADMIN}))
    assert [s.slug for s in svc.spaces.list_spaces(files_only)] == ["cardio"]
    assert [s.slug for s in svc.spaces.list_spaces(admin)] == ["cardio", "neuro"]
    assert [s.slug for s in svc.spaces.list_spaces(root)] == ["cardio", "neuro"]
