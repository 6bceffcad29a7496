"""The notification worker `egide serve` runs beside the audit and mail workers:
a pass every `interval` seconds derives notifications from the audit log and
enqueues the digests that are due (docs/notifications.md).

Mail itself leaves through the mail worker (the outbox): an SMTP outage
delays notification mail and loses none.
"""

from __future__ import annotations

import logging
from typing import Final

from egide.services.notifications.service import NotificationService
from egide.services.periodic import PeriodicWorker

log = logging.getLogger("egide.notifications")

#: Seconds between two passes.
INTERVAL: Final = 5.0


class NotificationWorker(PeriodicWorker):
    """A daemon thread running the derivation and the digests every `interval` seconds."""

    thread_name = "egide-notify"

    def __init__(self, service: NotificationService, *, interval: float = INTERVAL) -> None:
        super().__init__(interval=interval, log=log)
        self.service = service

    def run_once(self) -> None:
        written = self.service.deriver.run_pending()
        digests = self.service.digests.run_pass()
        if written or digests:
            log.info(
                "notification pass",
                extra={"egide": {"notifications": written, "digests": digests}},
            )
