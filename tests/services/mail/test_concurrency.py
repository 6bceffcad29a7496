"""Two workers claiming at the same time never send a message twice (FOR UPDATE SKIP
LOCKED on PostgreSQL, the write lock on SQLite)."""

from __future__ import annotations

import threading

import pytest

from egide.core.clock import ManualClock
from egide.core.db import Database
from egide.services.mail.sender import MailSender, SendReport
from egide.services.registry import Services
from tests.services.mail.helpers import enqueue, rows
from tests.services.mail.smtp_server import SmtpServer

pytestmark = pytest.mark.db

MESSAGES = 40


def test_two_workers_claiming_concurrently_send_each_message_once(
    svc: Services, smtp: SmtpServer, clock: ManualClock
) -> None:
    keys = enqueue(svc, MESSAGES)
    # Two engines, as two server processes would have.
    databases = [Database(svc.db.url), Database(svc.db.url)]
    senders = [MailSender(db, svc.mail.sender.config, clock=clock, batch=4) for db in databases]
    start = threading.Barrier(len(senders))
    reports: list[SendReport] = [SendReport() for _ in senders]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            start.wait(timeout=10)
            for _ in range(MESSAGES):  # bounded: far more passes than needed
                done = senders[index].send_pending(max_batches=1)
                reports[index].add(done)
                if done.sent == 0 and done.deferred == 0:
                    return
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(senders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for db in databases:
        db.dispose()
    assert not errors, errors
    assert sum(r.sent for r in reports) == MESSAGES
    assert all(r.sent > 0 for r in reports), "both workers took a share"
    ids = smtp.message_ids()
    assert len(ids) == len(set(ids)) == MESSAGES
    assert sorted(ids) == sorted(f"<{k}@egide.hopital.example>" for k in keys)
    assert all(r.sent_at is not None and r.attempts == 1 for r in rows(svc))


def test_a_claim_passes_over_rows_another_claim_holds(
    svc: Services, smtp: SmtpServer, clock: ManualClock
) -> None:
    """Deterministic: worker A is inside its claim transaction (rows selected and locked,
    not yet committed) when worker B claims. B must take other rows, without waiting."""
    enqueue(svc, 6)
    a = MailSender(Database(svc.db.url), svc.mail.sender.config, clock=clock, batch=3)
    b = MailSender(Database(svc.db.url), svc.mail.sender.config, clock=clock, batch=3)
    try:
        with a.db.write() as session:
            held = {r.id for r in session.scalars(a._due(clock.now(), 3))}
            taken: list[set[str]] = []
            claimer = threading.Thread(target=lambda: taken.append({c.id for c in b.claim()}))
            claimer.start()
            claimer.join(timeout=10 if not svc.db.is_sqlite else 0.5)
            if svc.db.is_sqlite:
                # SQLite: B waits for A's write transaction (one writer at a time).
                assert claimer.is_alive()
        claimer.join(timeout=10)
        assert not claimer.is_alive()
        assert len(held) == 3
        assert len(taken[0]) == 3
        if svc.db.is_sqlite:
            assert taken[0] == held  # A never committed its claim: B takes them, once
        else:
            assert taken[0].isdisjoint(held)
    finally:
        a.db.dispose()
        b.db.dispose()
