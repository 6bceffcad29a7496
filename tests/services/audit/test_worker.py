"""The audit worker sequences events and signs due checkpoints in the background."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from egide.core.clock import ManualClock
from egide.core.db import Database
from egide.core.db.models import AuditEvent
from egide.services.access.policy import Principal
from egide.services.audit.tree import stored_size
from egide.services.audit.worker import AuditWorker
from egide.services.registry import Services
from egide.web.app import create_app
from tests.services.audit.signing import make_audit, new_provider


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail("the audit worker did not get there in time")


def test_the_worker_sequences_and_signs_when_due(
    svc: Services, alice: Principal, db: Database, clock: ManualClock, tmp_path: Path
) -> None:
    audit = make_audit(db, clock, new_provider(tmp_path), entries=2, seconds=3600)
    first = audit.checkpoint(force=True)  # over the fixtures' own events
    assert first is not None
    worker = AuditWorker(audit, interval=0.05)
    worker.start()
    try:
        svc.files.write(alice, "cardio", "a.txt", [b"a"])
        clock.advance(seconds=1)
        svc.files.write(alice, "cardio", "b.txt", [b"b"])
        wait_for(
            lambda: (cp := audit.latest_checkpoint()) is not None and cp.size == first.size + 2
        )
    finally:
        worker.stop()
    checkpoint = audit.latest_checkpoint()
    assert checkpoint is not None
    assert (checkpoint.size, checkpoint.root) == audit.tree_head()
    assert audit.verify().clean


def test_a_failing_pass_does_not_end_the_loop(
    db: Database, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = make_audit(db, clock, new_provider(tmp_path))
    worker = AuditWorker(audit, interval=0.01)
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug")

    monkeypatch.setattr(worker, "run_once", flaky)
    worker.start()
    try:
        wait_for(lambda: len(calls) >= 3)
    finally:
        worker.stop()


def test_the_server_runs_the_worker_only_when_asked(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    with TestClient(create_app(svc)):
        svc.files.write(alice, "cardio", "a.txt", [b"a"])
        time.sleep(1.5)  # more than a worker's tick
        assert _stored(svc) == 0, "in-process tests drive the log themselves"
    with svc.db.read() as session:
        recorded = session.scalar(select(func.count()).select_from(AuditEvent))
    with TestClient(create_app(svc, background=True)):
        wait_for(lambda: _stored(svc) == recorded)


def _stored(svc: Services) -> int:
    with svc.db.read() as session:
        return stored_size(session)
