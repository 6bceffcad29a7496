"""Log-in by password and the principal behind a session."""

from __future__ import annotations

from typing import Literal

import argon2
import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.engine import Database
from egide.core.db.models import User
from egide.services.access.policy import GlobalRole, Principal, PrincipalKind, Scope
from egide.services.accounts import AccountService
from egide.services.accounts.errors import AccountDisabled, AccountGone, BadCredentials
from egide.services.audit.recorder import AuditRecorder

from .conftest import GOOD_PASSWORD, SYSTEM, MakeUser


class CountingHasher(argon2.PasswordHasher):
    """Counts verifications, to see that every log-in path pays for one."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:  # noqa: A002 - argon2's own parameter name, kept for the override
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def counting(
    db: Database, clock: ManualClock, audit_recorder: AuditRecorder
) -> tuple[AccountService, CountingHasher]:
    hasher = CountingHasher()
    return AccountService(db, hasher=hasher, clock=clock, audit=audit_recorder), hasher


def test_right_password_gives_the_principal(accounts: AccountService, make_user: MakeUser) -> None:
    expected = make_user("alice", GlobalRole.DPO)
    principal = accounts.authenticate("Alice", GOOD_PASSWORD)
    assert principal.kind is PrincipalKind.USER
    assert principal.user_id == expected.user_id
    assert principal.username == "alice"
    assert principal.global_roles == {GlobalRole.DPO}
    assert principal.scopes is None
    assert principal.token_id is None


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "not the right password"),
        ("alice", GOOD_PASSWORD.upper()),
        ("nobody.here", GOOD_PASSWORD),
        ("x", GOOD_PASSWORD),  # not even a valid username
        ("sso.user", GOOD_PASSWORD),
    ],
)
def test_every_failure_looks_the_same_and_costs_a_verification(
    counting: tuple[AccountService, CountingHasher], username: str, password: str
) -> None:
    accounts, hasher = counting
    accounts.create_user(SYSTEM, "alice", password=GOOD_PASSWORD)
    accounts.create_user(SYSTEM, "sso.user", password=None)
    hasher.verified = 0
    with pytest.raises(BadCredentials) as caught:
        accounts.authenticate(username, password)
    assert str(caught.value) == "Wrong username or password."
    assert hasher.verified == 1


def test_a_disabled_account_says_so_only_after_the_right_password(
    accounts: AccountService, make_user: MakeUser
) -> None:
    make_user("alice")
    accounts.disable_user(SYSTEM, "alice")
    with pytest.raises(BadCredentials):
        accounts.authenticate("alice", "not the right password")
    with pytest.raises(AccountDisabled) as caught:
        accounts.authenticate("alice", GOOD_PASSWORD)
    assert str(caught.value) == "This account is disabled. Contact your administrator."


def test_an_outdated_hash_is_upgraded_at_log_in(db: Database, clock: ManualClock) -> None:
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    stronger = argon2.PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    AccountService(db, hasher=weak, clock=clock).create_user(
        SYSTEM, "alice", password=GOOD_PASSWORD
    )
    accounts = AccountService(db, hasher=stronger, clock=clock)
    accounts.authenticate("alice", GOOD_PASSWORD)
    with db.read() as session:
        stored = session.scalars(select(User.password_hash).where(User.username == "alice")).one()
    assert stored is not None
    assert not stronger.check_needs_rehash(stored)
    assert "m=16,t=2" in stored
    accounts.authenticate("alice", GOOD_PASSWORD)


def test_a_current_hash_is_left_alone(accounts: AccountService, db: Database) -> None:
    accounts.create_user(SYSTEM, "alice", password=GOOD_PASSWORD)
    with db.read() as session:
        before = session.scalars(select(User.password_hash).where(User.username == "alice")).one()
    accounts.authenticate("alice", GOOD_PASSWORD)
    with db.read() as session:
        after = session.scalars(select(User.password_hash).where(User.username == "alice")).one()
    assert after == before


def test_principal_for_loads_roles_groups_and_scopes(
    accounts: AccountService, make_user: MakeUser
) -> None:
    alice = make_user("alice", GlobalRole.SECURITY)
    assert alice.user_id is not None
    group = accounts.create_group(SYSTEM, "cardio")
    accounts.add_member(SYSTEM, "cardio", "alice")
    principal = accounts.principal_for(
        alice.user_id, scopes=frozenset({Scope.FILES_READ}), token_id="tok-1"
    )
    assert principal.group_ids == {group.id}
    assert principal.global_roles == {GlobalRole.SECURITY}
    assert principal.scopes == frozenset({Scope.FILES_READ})
    assert principal.token_id == "tok-1"


def test_principal_for_a_disabled_or_missing_account(
    accounts: AccountService, make_user: MakeUser
) -> None:
    alice = make_user("alice")
    assert alice.user_id is not None
    accounts.disable_user(SYSTEM, "alice")
    with pytest.raises(AccountDisabled):
        accounts.principal_for(alice.user_id)
    with pytest.raises(AccountGone):
        accounts.principal_for("00000000-0000-4000-8000-000000000000")


def test_principal_for_username(accounts: AccountService, make_user: MakeUser) -> None:
    alice: Principal = make_user("alice")
    assert accounts.principal_for_username("ALICE") == alice
    accounts.disable_user(SYSTEM, "alice")
    with pytest.raises(AccountDisabled):
        accounts.principal_for_username("alice")
