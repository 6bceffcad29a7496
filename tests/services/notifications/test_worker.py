"""The notification worker `egide serve` runs: a thread that derives and mails."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from egide.core.db.models import Notification
from egide.services.access.policy import Principal
from egide.services.notifications.worker import NotificationWorker
from egide.services.registry import Services

pytestmark = pytest.mark.db


def test_the_worker_thread_notifies_within_its_interval(
    svc: Services, alice: Principal, bob: Principal
) -> None:
    worker = NotificationWorker(svc.notifications, interval=0.05)
    worker.start()
    try:
        svc.files.write(alice, "cardio", "Patients/a.pdf", [b"x"])
        svc.audit.sequencer.run_pending()
        deadline = time.monotonic() + 10
        count: int | None = 0
        while time.monotonic() < deadline:
            with svc.db.read() as session:
                count = session.scalar(
                    select(func.count())
                    .select_from(Notification)
                    .where(Notification.user_id == bob.user_id)
                )
            if count:
                break
            time.sleep(0.05)
        assert count == 1
    finally:
        worker.stop()
