"""The mail worker `egide serve` runs beside the audit worker: a sending pass every
`interval` seconds (docs/mail.md).

A pass sends what is due (`MailSender.send_pending`); a server that is down
costs one failed connection per pass at most, then nothing until the
messages' back-off ends. Failures are logged (kind and code, never content)
and retried at a later pass; the loop never ends on an error.
"""

from __future__ import annotations

import logging
from typing import Final

from egide.services.mail.sender import MailSender
from egide.services.periodic import PeriodicWorker

log = logging.getLogger("egide.mail")

#: Seconds between two passes.
INTERVAL: Final = 5.0


class MailWorker(PeriodicWorker):
    """A daemon thread running `MailSender.send_pending()` every `interval` seconds."""

    thread_name = "egide-mail"

    def __init__(self, sender: MailSender, *, interval: float = INTERVAL) -> None:
        super().__init__(interval=interval, log=log)
        self.sender = sender

    def run_once(self) -> None:
        report = self.sender.send_pending()
        if report.sent or report.failed:
            log.info(
                "mail pass",
                extra={
                    "egide": {
                        "sent": report.sent,
                        "failed": report.failed,
                        "deferred": report.deferred,
                    }
                },
            )
