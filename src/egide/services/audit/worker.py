"""The audit worker: sequences recorded events and signs checkpoints as they fall due.

Audited actions only insert an outbox row; this loop gives them their `seq`
within about a second (FORMATS.md section 3) and signs a checkpoint whenever
`audit_checkpoint_entries` or `audit_checkpoint_seconds` says one is due
(the checkpointer decides). Several server processes may each run one: the
sequencer and the checkpointer serialise on their own locks.

A failure is logged (its code and message: ids and sizes, never personal
data) and retried at the next tick; an integrity failure (the log or a
checkpoint was tampered with) stops nothing else in the server but is
logged at error level on every tick until an operator acts
(operations.md, "Audit log").
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from egide.core.errors import EgideError, ErrorKind
from egide.services.audit.service import AuditService

log = logging.getLogger("egide.audit")

#: Seconds between two passes.
INTERVAL: Final = 1.0


class AuditWorker:
    """A daemon thread running `AuditService.checkpoint()` every `interval` seconds."""

    def __init__(self, audit: AuditService, *, interval: float = INTERVAL) -> None:
        self.audit = audit
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="egide-audit", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end and wait for the pass in progress (bounded by `timeout`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> None:
        """One pass: sequence what is pending, sign a checkpoint if one is due."""
        if self.audit.checkpointer is None:
            self.audit.sequencer.run_pending()
        else:
            self.audit.checkpoint()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except EgideError as exc:
                level = logging.ERROR if exc.kind is ErrorKind.INTEGRITY else logging.WARNING
                fields = {"code": exc.code, "detail": exc.render()}
                log.log(level, "audit pass failed", extra={"egide": fields})
            except Exception:  # a bug must not end the loop, nor the server
                log.exception("audit pass failed unexpectedly")
            self._stop.wait(self.interval)
