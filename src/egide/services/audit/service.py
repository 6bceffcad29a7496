"""The audit service as the registry wires it: a recorder and the sequencer."""

from __future__ import annotations

from egide.core.clock import Clock
from egide.core.db import Database
from egide.services.audit import tree
from egide.services.audit.context import ContextSealer
from egide.services.audit.recorder import AuditRecorder
from egide.services.audit.sequencer import Sequencer


class AuditService:
    """What other services and the worker use of the audit log."""

    def __init__(self, db: Database, clock: Clock, *, sealer: ContextSealer | None = None) -> None:
        self.db = db
        self.recorder = AuditRecorder(clock, sealer)
        self.sequencer = Sequencer(db, clock)

    def tree_head(self, size: int | None = None) -> tuple[int, bytes]:
        """(size, root hash) of the log, after sequencing what is pending (FORMATS.md 3)."""
        self.sequencer.run_pending()
        return tree.tree_head(self.db, size)
