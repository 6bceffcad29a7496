"""The audit log's storage: recording events, sequencing them, reading the tree.

- `recorder`: `record` adds an event to the caller's transaction (it commits
  or rolls back with the action); `record_denied` writes one on its own.
- `sequencer`: `Sequencer.run_once` gives pending events their gap-free `seq`,
  stores their leaves and the tree nodes they complete (FORMATS.md section 3).
- `tree`: heads and proofs read from the stored nodes.
- `context`: the sealed personal context beside an event.
- `service`: `AuditService`, as `Services.audit`.
"""

from egide.services.audit.context import ContextSealer
from egide.services.audit.recorder import (
    ALLOWED,
    DENIED,
    ERROR,
    AuditRecorder,
    record,
    record_denied,
)
from egide.services.audit.sequencer import Sequencer
from egide.services.audit.service import AuditService
from egide.services.audit.tree import consistency_proof, inclusion_proof, tree_head

__all__ = [
    "ALLOWED",
    "DENIED",
    "ERROR",
    "AuditRecorder",
    "AuditService",
    "ContextSealer",
    "Sequencer",
    "consistency_proof",
    "inclusion_proof",
    "record",
    "record_denied",
    "tree_head",
]
