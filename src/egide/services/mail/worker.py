"""The mail worker `egide serve` runs beside the audit worker: a sending pass every
`interval` seconds (docs/mail.md).

A pass sends what is due (`MailSender.send_pending`); a server that is down
costs one failed connection per pass at most, then nothing until the
messages' back-off ends. Failures are logged (kind and code, never content)
and retried at a later pass; the loop never ends on an error.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from egide.core.errors import EgideError
from egide.services.mail.sender import MailSender

log = logging.getLogger("egide.mail")

#: Seconds between two passes.
INTERVAL: Final = 5.0


class MailWorker:
    """A daemon thread running `MailSender.send_pending()` every `interval` seconds."""

    def __init__(self, sender: MailSender, *, interval: float = INTERVAL) -> None:
        self.sender = sender
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="egide-mail", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end and wait for the pass in progress (bounded by `timeout`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
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
            except EgideError as exc:
                log.warning(
                    "mail pass failed", extra={"egide": {"code": exc.code, "detail": exc.render()}}
                )
            except Exception:  # a bug must not end the loop, nor the server
                log.exception("mail pass failed unexpectedly")
            self._stop.wait(self.interval)
