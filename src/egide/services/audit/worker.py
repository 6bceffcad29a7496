"""The audit worker: sequences recorded events, signs due checkpoints, forwards to syslog.

Audited actions only insert an outbox row; this loop gives them their `seq`
within about a second (FORMATS.md section 3) and signs a checkpoint whenever
`audit_checkpoint_entries` or `audit_checkpoint_seconds` says one is due
(the checkpointer decides). Then, when `audit_syslog_url` is set, it sends
the next batch of entries to the syslog collector (`forward.py`), after
sequencing so that what was just recorded goes out in the same pass. Several
server processes may each run one: the sequencer, the checkpointer and the
forwarder serialise on their own locks.

A collector that is down costs the loop a failed connection (bounded by a
timeout), then nothing until its back-off ends: user actions never wait on
it, and sequencing and checkpoints go on.

A failure is logged (its code and message: ids and sizes, never personal
data) and retried at the next tick; an integrity failure (the log or a
checkpoint was tampered with) stops nothing else in the server but is
logged at error level on every tick until an operator acts
(operations.md, "Audit log").
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from egide.services.audit.forward import SyslogForwarder
from egide.services.audit.service import AuditService
from egide.services.periodic import PeriodicWorker

if TYPE_CHECKING:
    from egide.services.registry import Services

log = logging.getLogger("egide.audit")

#: Seconds between two passes.
INTERVAL: Final = 1.0


class AuditWorker(PeriodicWorker):
    """A daemon thread running `AuditService.checkpoint()`, then the forwarder, every
    `interval` seconds."""

    thread_name = "egide-audit"

    def __init__(
        self,
        audit: AuditService,
        *,
        interval: float = INTERVAL,
        forwarder: SyslogForwarder | None = None,
    ) -> None:
        super().__init__(interval=interval, log=log)
        self.audit = audit
        self.forwarder = forwarder

    @classmethod
    def for_services(cls, services: Services) -> AuditWorker:
        """The worker `egide serve` runs: forwarding to syslog when the settings ask for it."""
        return cls(
            services.audit,
            forwarder=SyslogForwarder.from_settings(services.db, services.settings),
        )

    def run_once(self) -> None:
        """One pass: sequence what is pending, sign a checkpoint if one is due, forward.

        Forwarding runs even when signing failed: the two are independent, and
        the failure is raised after it.
        """
        try:
            if self.audit.checkpointer is None:
                self.audit.sequencer.run_pending()
            else:
                self.audit.checkpoint()
        finally:
            if self.forwarder is not None:
                self.forwarder.run_once()
