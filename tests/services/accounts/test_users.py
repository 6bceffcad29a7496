"""Users: creation rules, who may manage them, roles, disabling, passwords."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.engine import Database
from egide.core.db.models import User
from egide.core.errors import Forbidden, InvalidInput, NotFound
from egide.services.access.policy import GlobalRole, Principal, Scope
from egide.services.accounts import AccountService
from egide.services.accounts.errors import (
    BadCredentials,
    LastAdmin,
    UsernameTaken,
    UserNotFound,
    WeakPassword,
    WrongCurrentPassword,
)

from .conftest import GOOD_PASSWORD, SYSTEM, MakeUser

NEW_PASSWORD = "seven purple lanterns 2031"


def test_create_user_canonicalises_the_username(accounts: AccountService, db: Database) -> None:
    info = accounts.create_user(
        SYSTEM,
        "  Jean.Dupont@CHU-Lyon.fr ",
        password=GOOD_PASSWORD,
        display_name=" Jean Dupont ",
        email="jean.dupont@chu-lyon.fr",
        roles=["dpo"],
    )
    assert info.username == "jean.dupont@chu-lyon.fr"
    assert info.display_name == "Jean Dupont"
    assert info.email == "jean.dupont@chu-lyon.fr"
    assert info.global_roles == {GlobalRole.DPO}
    assert not info.is_disabled
    with db.read() as session:
        row = session.scalars(select(User).where(User.id == info.id)).one()
        assert row.password_hash is not None
        assert row.password_hash.startswith("$argon2id$")
        assert GOOD_PASSWORD not in row.password_hash
        assert row.password_changed_at is not None


@pytest.mark.parametrize(
    "username",
    [
        "ab",
        "x" * 65,
        ".alice",
        "-alice",
        "al ice",
        "alice!",
        "élodie",
        "\N{FULLWIDTH LATIN SMALL LETTER A}lice",  # a look-alike of alice
        "al/ice",
        "",
    ],
)
def test_create_user_refuses_bad_usernames(accounts: AccountService, username: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        accounts.create_user(SYSTEM, username, password=GOOD_PASSWORD)
    assert caught.value.field == "username"
    assert "3 to 64 characters" in str(caught.value)


def test_usernames_of_3_and_64_characters_are_fine(accounts: AccountService) -> None:
    accounts.create_user(SYSTEM, "bob", password=None)
    accounts.create_user(SYSTEM, "b" * 64, password=None)


def test_duplicate_username_in_any_case(accounts: AccountService) -> None:
    accounts.create_user(SYSTEM, "alice", password=GOOD_PASSWORD)
    with pytest.raises(UsernameTaken):
        accounts.create_user(SYSTEM, "ALICE", password=GOOD_PASSWORD)


def test_create_user_applies_the_password_policy(accounts: AccountService) -> None:
    with pytest.raises(WeakPassword):
        accounts.create_user(SYSTEM, "alice", password="short")
    with pytest.raises(WeakPassword):
        accounts.create_user(SYSTEM, "alice", password="alice in wonderland 1865")
    with pytest.raises(UserNotFound):  # nothing was created
        accounts.get_user(SYSTEM, "alice")


def test_create_user_checks_roles_and_email(accounts: AccountService) -> None:
    with pytest.raises(InvalidInput) as caught:
        accounts.create_user(SYSTEM, "alice", password=None, roles=["superuser"])
    assert caught.value.field == "roles"
    with pytest.raises(InvalidInput) as caught:
        accounts.create_user(SYSTEM, "alice", password=None, email="alice at example")
    assert caught.value.field == "email"


def test_sso_only_account_cannot_log_in_with_a_password(accounts: AccountService) -> None:
    info = accounts.create_user(SYSTEM, "sso.user", password=None)
    with pytest.raises(BadCredentials):
        accounts.authenticate("sso.user", "")
    with pytest.raises(BadCredentials):
        accounts.authenticate("sso.user", GOOD_PASSWORD)
    assert accounts.principal_for(info.id).username == "sso.user"


def test_a_plain_user_cannot_manage_users(accounts: AccountService, alice: Principal) -> None:
    with pytest.raises(Forbidden):
        accounts.create_user(alice, "mallory", password=GOOD_PASSWORD)
    with pytest.raises(Forbidden):
        accounts.list_users(alice)
    with pytest.raises(Forbidden):
        accounts.set_roles(alice, "alice", [GlobalRole.ADMIN])
    with pytest.raises(Forbidden):
        accounts.disable_user(alice, "alice")
    with pytest.raises(Forbidden):
        accounts.enable_user(alice, "alice")
    # Forbidden whether or not the other user exists: nothing leaks.
    with pytest.raises(Forbidden):
        accounts.get_user(alice, "nobody.here")
    with pytest.raises(Forbidden):
        accounts.change_password(alice, "nobody.here", NEW_PASSWORD)


def test_dpo_and_security_officers_cannot_manage_users(
    accounts: AccountService, make_user: MakeUser
) -> None:
    for principal in (
        make_user("dpo.one", GlobalRole.DPO),
        make_user("sec.one", GlobalRole.SECURITY),
    ):
        with pytest.raises(Forbidden):
            accounts.create_user(principal, "mallory", password=None)


def test_an_admin_token_without_admin_scope_cannot_manage_users(
    accounts: AccountService, admin: Principal
) -> None:
    assert admin.user_id is not None
    scoped = accounts.principal_for(
        admin.user_id, scopes=frozenset({Scope.FILES_READ}), token_id="t"
    )
    with pytest.raises(Forbidden):
        accounts.list_users(scoped)


def test_admin_and_system_manage_users(accounts: AccountService, admin: Principal) -> None:
    accounts.create_user(admin, "bob", password=GOOD_PASSWORD)
    accounts.create_user(SYSTEM, "carol", password=GOOD_PASSWORD)
    names = [u.username for u in accounts.list_users(admin)]
    assert names == ["bob", "carol", "root.admin"]
    assert accounts.get_user(admin, "BOB").username == "bob"
    with pytest.raises(NotFound):
        accounts.get_user(admin, "nobody.here")


def test_anyone_reads_their_own_account(accounts: AccountService, alice: Principal) -> None:
    assert accounts.get_user(alice, "Alice").id == alice.user_id


def test_set_roles_replaces_them(
    accounts: AccountService, admin: Principal, alice: Principal
) -> None:
    info = accounts.set_roles(admin, "alice", [GlobalRole.DPO, "security"])
    assert info.global_roles == {GlobalRole.DPO, GlobalRole.SECURITY}
    info = accounts.set_roles(admin, "alice", [GlobalRole.ADMIN])
    assert info.global_roles == {GlobalRole.ADMIN}
    assert alice.user_id is not None
    assert accounts.principal_for(alice.user_id).global_roles == {GlobalRole.ADMIN}
    assert accounts.set_roles(SYSTEM, "alice", []).global_roles == frozenset()


def test_the_last_enabled_admin_stays(
    accounts: AccountService, admin: Principal, make_user: MakeUser
) -> None:
    with pytest.raises(LastAdmin):
        accounts.set_roles(admin, "root.admin", [])
    with pytest.raises(LastAdmin):
        accounts.disable_user(admin, "root.admin")
    assert accounts.get_user(admin, "root.admin").global_roles == {GlobalRole.ADMIN}
    make_user("second.admin", GlobalRole.ADMIN)
    accounts.set_roles(admin, "root.admin", [])  # another admin remains now
    # The local administrator may do it anyway: it can always create a new admin.
    accounts.disable_user(SYSTEM, "second.admin")


def test_disable_and_enable(accounts: AccountService, admin: Principal, alice: Principal) -> None:
    assert accounts.disable_user(admin, "alice").is_disabled
    assert not accounts.enable_user(admin, "alice").is_disabled
    accounts.authenticate("alice", GOOD_PASSWORD)


def test_change_own_password_needs_the_current_one(
    accounts: AccountService, alice: Principal, db: Database, clock: ManualClock
) -> None:
    with pytest.raises(WrongCurrentPassword) as caught:
        accounts.change_password(alice, "alice", NEW_PASSWORD)
    assert caught.value.field == "current_password"
    with pytest.raises(WrongCurrentPassword):
        accounts.change_password(
            alice, "alice", NEW_PASSWORD, current_password="not the password 123"
        )
    with pytest.raises(WeakPassword):
        accounts.change_password(alice, "alice", "alice2026", current_password=GOOD_PASSWORD)
    clock.advance(days=3)
    accounts.change_password(alice, "alice", NEW_PASSWORD, current_password=GOOD_PASSWORD)
    accounts.authenticate("alice", NEW_PASSWORD)
    with pytest.raises(BadCredentials):
        accounts.authenticate("alice", GOOD_PASSWORD)
    with db.read() as session:
        row = session.scalars(select(User).where(User.username == "alice")).one()
        assert row.password_changed_at == clock.now()


def test_an_admin_changing_their_own_password_needs_it_too(
    accounts: AccountService, admin: Principal
) -> None:
    with pytest.raises(WrongCurrentPassword):
        accounts.change_password(admin, "root.admin", NEW_PASSWORD)


def test_admin_and_system_reset_without_the_current_password(
    accounts: AccountService, admin: Principal, alice: Principal
) -> None:
    accounts.change_password(admin, "alice", NEW_PASSWORD)
    accounts.authenticate("alice", NEW_PASSWORD)
    accounts.change_password(SYSTEM, "alice", GOOD_PASSWORD)
    accounts.authenticate("alice", GOOD_PASSWORD)
    with pytest.raises(WeakPassword):
        accounts.change_password(admin, "alice", "azertyuiop123")


def test_sso_only_account_has_no_current_password(
    accounts: AccountService, admin: Principal
) -> None:
    info = accounts.create_user(admin, "sso.user", password=None)
    me = accounts.principal_for(info.id)
    with pytest.raises(WrongCurrentPassword):
        accounts.change_password(me, "sso.user", NEW_PASSWORD, current_password="")
    accounts.change_password(admin, "sso.user", NEW_PASSWORD)  # an admin may set one
    accounts.authenticate("sso.user", NEW_PASSWORD)


def test_check_password_policy_is_offered(accounts: AccountService) -> None:
    accounts.check_password_policy("alice", NEW_PASSWORD)
    with pytest.raises(WeakPassword):
        accounts.check_password_policy("alice", "soleil")
