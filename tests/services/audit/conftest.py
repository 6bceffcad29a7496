"""Fixtures of the audit tests: a principal, a context key, events to sequence."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from egide.core.clock import ManualClock
from egide.core.db import Database
from egide.core.db.base import new_id
from egide.core.types import Secret
from egide.services.access.policy import Action, Principal, PrincipalKind
from egide.services.audit import ALLOWED, ContextSealer, record

RecordMany = Callable[[int], list[str]]


@pytest.fixture
def doctor() -> Principal:
    # The audit tables hold ids only, with no foreign key to users: no user row needed.
    return Principal(kind=PrincipalKind.USER, user_id=new_id(), username="doctor")


@pytest.fixture
def sealer() -> ContextSealer:
    return ContextSealer(Secret(os.urandom(32)))


@pytest.fixture
def record_many(db: Database, clock: ManualClock, doctor: Principal) -> RecordMany:
    """Commit `n` file.read events, one transaction each, a millisecond apart."""

    def make(n: int) -> list[str]:
        ids = []
        for i in range(n):
            clock.advance(milliseconds=1)
            with db.write() as session:
                ids.append(
                    record(
                        session,
                        actor=doctor,
                        action=Action.FILE_READ,
                        target={"space": "s-1", "node": f"n-{i}", "version": None},
                        outcome=ALLOWED,
                        details={"range": [0, i]},
                        at=clock.now(),
                    )
                )
        return ids

    return make
