"""Fixtures of the audit tests: a principal, a context key, events to sequence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from egide.core.clock import ManualClock
from egide.core.db import Database
from egide.core.db.base import new_id
from egide.services.access.policy import Action, Principal, PrincipalKind
from egide.services.audit import ALLOWED, ContextSealer, record
from tests.services.audit.signing import new_provider

RecordMany = Callable[[int], list[str]]


@pytest.fixture
def doctor() -> Principal:
    # The audit tables hold ids only, with no foreign key to users: no user row needed.
    return Principal(kind=PrincipalKind.USER, user_id=new_id(), username="doctor")


@pytest.fixture
def sealer(tmp_path: Path) -> ContextSealer:
    return ContextSealer(new_provider(tmp_path / "context-keys"))


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
