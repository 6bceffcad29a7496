"""An AccountService on the real test database, with fast argon2 and a movable clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import argon2
import pytest

from egide.core.clock import ManualClock
from egide.core.db.engine import Database
from egide.services.access.policy import GlobalRole, Principal
from egide.services.accounts import AccountService
from egide.services.audit.recorder import AuditRecorder

SYSTEM = Principal.system()
#: Long enough, in no list, unrelated to the test usernames.
GOOD_PASSWORD = "violet tramway harbour 1987"

MakeUser = Callable[..., Principal]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def accounts(
    db: Database,
    insecure_fast_argon2: argon2.PasswordHasher,
    clock: ManualClock,
    audit_recorder: AuditRecorder,
) -> AccountService:
    return AccountService(db, hasher=insecure_fast_argon2, clock=clock, audit=audit_recorder)


@pytest.fixture
def make_user(accounts: AccountService) -> MakeUser:
    """Create a user with GOOD_PASSWORD (as the system) and return its principal."""

    def make(name: str, *roles: GlobalRole) -> Principal:
        user = accounts.create_user(SYSTEM, name, password=GOOD_PASSWORD, roles=roles)
        return accounts.principal_for(user.id)

    return make


@pytest.fixture
def admin(make_user: MakeUser) -> Principal:
    return make_user("root.admin", GlobalRole.ADMIN)


@pytest.fixture
def alice(make_user: MakeUser) -> Principal:
    return make_user("alice")
