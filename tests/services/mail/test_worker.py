"""The worker thread `egide serve` runs: it sends what is enqueued, and stops cleanly."""

from __future__ import annotations

import time

import pytest

from egide.core.clock import SystemClock
from egide.services.mail.sender import MailSender
from egide.services.mail.worker import MailWorker
from egide.services.registry import Services
from tests.services.mail.helpers import enqueue, rows
from tests.services.mail.smtp_server import SmtpServer

pytestmark = pytest.mark.db


def test_the_worker_sends_and_survives_an_outage(svc: Services, smtp: SmtpServer) -> None:
    # The real clock: the worker runs in its own time.
    worker = MailWorker(
        MailSender(svc.db, svc.mail.sender.config, clock=SystemClock()), interval=0.05
    )
    smtp.stop()
    enqueue(svc, 1, prefix="down")
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not rows(svc)[0].last_error:
            time.sleep(0.05)
        assert rows(svc)[0].last_error  # tried, deferred, the loop still alive
        smtp.start()
        enqueue(svc, 1, prefix="up")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not smtp.received:
            time.sleep(0.05)
        assert smtp.message_ids() == ["<up.0@egide.hopital.example>"]
    finally:
        worker.stop()
    assert worker._thread is None


def test_the_server_runs_the_mail_worker(svc: Services, smtp: SmtpServer) -> None:
    """`egide serve`'s application (background=True) sends the outbox by itself."""
    from starlette.testclient import TestClient

    from egide.web.app import create_app

    enqueue(svc, 1, prefix="served")
    with TestClient(create_app(svc, background=True)):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not smtp.received:
            time.sleep(0.05)
    assert smtp.message_ids() == ["<served.0@egide.hopital.example>"]
    assert rows(svc)[0].sent_at is not None
