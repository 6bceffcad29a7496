"""API tokens through AccountService: creation rules, use, expiry, revocation."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.engine import Database
from egide.core.db.models import ApiToken
from egide.core.errors import Forbidden, InvalidInput, NotFound
from egide.services.access.policy import (
    Action,
    Decision,
    GlobalRole,
    Principal,
    Scope,
    SpaceRole,
    decide,
)
from egide.services.accounts import AccountService
from egide.services.accounts.errors import InvalidToken, TokenNotAllowed

from .conftest import SYSTEM, MakeUser

READ = [Scope.FILES_READ]


def test_the_secret_is_shown_once_and_only_its_hash_is_stored(
    accounts: AccountService, alice: Principal, db: Database, clock: ManualClock
) -> None:
    info, presented = accounts.create_token(alice, " backup script ", ["files:read"])
    match = re.fullmatch(r"egd_([0-9a-f]{32})_([A-Za-z0-9_-]{43})", presented)
    assert match is not None
    assert match.group(1) == info.id.replace("-", "")
    secret = match.group(2)
    assert info.name == "backup script"
    assert info.user_id == alice.user_id
    assert info.scopes == {Scope.FILES_READ}
    assert info.created_at == clock.now()
    assert info.expires_at == clock.now() + dt.timedelta(days=90)
    assert info.last_used_at is None
    assert info.revoked_at is None
    with db.read() as session:
        row = session.get(ApiToken, info.id)
        assert row is not None
        assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        stored = [str(v) for v in vars(row).values()]
    assert not any(secret in value for value in stored)
    assert all(secret not in repr(value) for value in (info, *accounts.list_tokens(alice)))


def test_authenticate_token_gives_a_scoped_principal(
    accounts: AccountService, make_user: MakeUser, clock: ManualClock
) -> None:
    bob = make_user("bob", GlobalRole.DPO)
    info, presented = accounts.create_token(bob, "reports", ["files:read", Scope.AUDIT_READ])
    principal = accounts.authenticate_token(presented)
    assert principal.user_id == bob.user_id
    assert principal.username == "bob"
    assert principal.scopes == frozenset({Scope.FILES_READ, Scope.AUDIT_READ})
    assert principal.token_id == info.id
    assert principal.global_roles == {GlobalRole.DPO}
    # The scopes restrict what the user may do.
    assert decide(principal, Action.FILE_READ, SpaceRole.MANAGER) is Decision.ALLOW
    assert decide(principal, Action.FILE_WRITE, SpaceRole.MANAGER) is Decision.FORBIDDEN
    assert decide(principal, Action.AUDIT_READ) is Decision.ALLOW


def test_last_used_is_recorded(
    accounts: AccountService, alice: Principal, clock: ManualClock
) -> None:
    _, presented = accounts.create_token(alice, "t", READ)
    clock.advance(hours=1)
    accounts.authenticate_token(presented)
    [listed] = accounts.list_tokens(alice)
    assert listed.last_used_at == clock.now()
    first_use = clock.now()
    clock.advance(seconds=10)  # within a minute: not rewritten (no write per request)
    accounts.authenticate_token(presented)
    assert accounts.list_tokens(alice)[0].last_used_at == first_use
    clock.advance(minutes=5)
    accounts.authenticate_token(presented)
    assert accounts.list_tokens(alice)[0].last_used_at == clock.now()


def test_an_expired_token_is_refused(
    accounts: AccountService, alice: Principal, clock: ManualClock
) -> None:
    _, presented = accounts.create_token(alice, "t", READ, expires_in=dt.timedelta(days=1))
    clock.advance(hours=23, minutes=59)
    accounts.authenticate_token(presented)
    clock.advance(minutes=1)
    with pytest.raises(InvalidToken) as caught:
        accounts.authenticate_token(presented)
    assert str(caught.value) == "This API token is invalid, expired or revoked. Create a new one."


def test_a_wrong_or_malformed_secret_is_refused(accounts: AccountService, alice: Principal) -> None:
    _, presented = accounts.create_token(alice, "t", READ)
    last = presented[-1]
    tampered = presented[:-1] + ("A" if last != "A" else "B")
    unknown_id = "egd_" + "0" * 32 + presented[-44:]
    for bad in (tampered, unknown_id, "egd_nonsense", "", presented + "x"):
        with pytest.raises(InvalidToken):
            accounts.authenticate_token(bad)


def test_disabling_a_user_revokes_every_token_at_once(
    accounts: AccountService, alice: Principal, clock: ManualClock
) -> None:
    tokens = [accounts.create_token(alice, f"t{i}", READ)[1] for i in range(3)]
    accounts.authenticate_token(tokens[0])
    accounts.disable_user(SYSTEM, "alice")
    for presented in tokens:
        with pytest.raises(InvalidToken):
            accounts.authenticate_token(presented)
    assert all(t.revoked_at == clock.now() for t in accounts.list_tokens(SYSTEM, "alice"))
    # Enabling the account again does not bring its tokens back.
    accounts.enable_user(SYSTEM, "alice")
    with pytest.raises(InvalidToken):
        accounts.authenticate_token(tokens[1])


def test_revoke_own_token(accounts: AccountService, alice: Principal) -> None:
    info, presented = accounts.create_token(alice, "t", READ)
    assert accounts.revoke_token(alice, info.id) is True
    assert accounts.revoke_token(alice, info.id) is False
    with pytest.raises(InvalidToken):
        accounts.authenticate_token(presented)


def test_another_users_token_is_not_found_unless_admin(
    accounts: AccountService, alice: Principal, make_user: MakeUser, admin: Principal
) -> None:
    info, presented = accounts.create_token(alice, "t", READ)
    bob = make_user("bob")
    with pytest.raises(NotFound):
        accounts.revoke_token(bob, info.id)
    with pytest.raises(NotFound):
        accounts.revoke_token(bob, "no-such-token")
    accounts.authenticate_token(presented)  # still valid
    with pytest.raises(Forbidden):
        accounts.list_tokens(bob, "alice")
    with pytest.raises(Forbidden):  # whether or not the user exists
        accounts.list_tokens(bob, "nobody.here")
    assert [t.id for t in accounts.list_tokens(admin, "alice")] == [info.id]
    assert accounts.revoke_token(admin, info.id) is True
    with pytest.raises(InvalidToken):
        accounts.authenticate_token(presented)


def test_list_tokens(accounts: AccountService, alice: Principal, clock: ManualClock) -> None:
    first, _ = accounts.create_token(alice, "one", READ)
    clock.advance(seconds=1)
    second, _ = accounts.create_token(alice, "two", READ)
    assert [t.id for t in accounts.list_tokens(alice)] == [first.id, second.id]
    assert [t.id for t in accounts.list_tokens(alice, "Alice")] == [first.id, second.id]
    with pytest.raises(InvalidInput):
        accounts.list_tokens(SYSTEM)  # the local administrator owns no token
    with pytest.raises(NotFound):
        accounts.list_tokens(SYSTEM, "nobody.here")


def test_admin_scope_is_refused_to_a_non_admin(
    accounts: AccountService, alice: Principal, make_user: MakeUser
) -> None:
    with pytest.raises(TokenNotAllowed) as caught:
        accounts.create_token(alice, "t", [Scope.FILES_READ, Scope.ADMIN])
    assert isinstance(caught.value, Forbidden)
    assert "admin" in str(caught.value)
    with pytest.raises(TokenNotAllowed):
        accounts.create_token(alice, "t", [Scope.AUDIT_READ])
    assert accounts.list_tokens(alice) == []
    admin = make_user("boss", GlobalRole.ADMIN)
    info, _ = accounts.create_token(admin, "t", [Scope.ADMIN])
    assert info.scopes == {Scope.ADMIN}


def test_scope_eligibility_uses_the_roles_stored_now(
    accounts: AccountService, make_user: MakeUser
) -> None:
    former = make_user("former.admin", GlobalRole.ADMIN)
    make_user("other.admin", GlobalRole.ADMIN)
    accounts.set_roles(SYSTEM, "former.admin", [])
    with pytest.raises(TokenNotAllowed):
        accounts.create_token(former, "t", [Scope.ADMIN])  # its session still says admin


@pytest.mark.parametrize(
    "case",
    [
        ("", READ, dt.timedelta(days=1), "name"),
        ("x" * 101, READ, dt.timedelta(days=1), "name"),
        ("t", [], dt.timedelta(days=1), "scopes"),
        ("t", ["files:delete"], dt.timedelta(days=1), "scopes"),
        ("t", READ, dt.timedelta(days=366), "expires_in"),
        ("t", READ, dt.timedelta(0), "expires_in"),
        ("t", READ, dt.timedelta(days=-1), "expires_in"),
    ],
)
def test_create_token_checks_its_input(
    accounts: AccountService, alice: Principal, case: tuple[str, list[str], dt.timedelta, str]
) -> None:
    name, scopes, expires_in, field = case
    with pytest.raises(InvalidInput) as caught:
        accounts.create_token(alice, name, scopes, expires_in=expires_in)
    assert caught.value.field == field


def test_a_year_is_the_longest_lifetime(
    accounts: AccountService, alice: Principal, clock: ManualClock
) -> None:
    info, _ = accounts.create_token(alice, "t", READ, expires_in=dt.timedelta(days=365))
    assert info.expires_at == clock.now() + dt.timedelta(days=365)


def test_only_users_in_a_session_create_tokens(
    accounts: AccountService, alice: Principal, db: Database
) -> None:
    with pytest.raises(TokenNotAllowed):
        accounts.create_token(SYSTEM, "t", READ)
    _, presented = accounts.create_token(alice, "t", [Scope.FILES_READ, Scope.FILES_WRITE])
    by_token = accounts.authenticate_token(presented)
    with pytest.raises(TokenNotAllowed):
        accounts.create_token(by_token, "t2", READ)
    with db.read() as session:
        assert len(session.scalars(select(ApiToken)).all()) == 1
