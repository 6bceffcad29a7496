"""The audit service as the registry wires it: a recorder, the sequencer, checkpoints."""

from __future__ import annotations

from collections.abc import Sequence

from egide.core.audit.checkpoint import parse_verifier_key
from egide.core.clock import Clock
from egide.core.db import Database
from egide.core.errors import Unavailable
from egide.services.audit import tree
from egide.services.audit.checkpoints import (
    AuditSigner,
    Checkpointer,
    CheckpointPolicy,
    StoredCheckpoint,
)
from egide.services.audit.context import ContextSealer
from egide.services.audit.recorder import AuditRecorder
from egide.services.audit.sequencer import Sequencer
from egide.services.audit.verify import VerifyReport, verify_log


class NoAuditSigner(Unavailable):
    code = "audit-no-signer"


class AuditService:
    """What other services, the worker and the CLI use of the audit log."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        sealer: ContextSealer | None = None,
        signer: AuditSigner | None = None,
        policy: CheckpointPolicy | None = None,
    ) -> None:
        self.db = db
        self.recorder = AuditRecorder(clock, sealer)
        self.sequencer = Sequencer(db, clock)
        self.checkpointer = (
            None
            if signer is None or policy is None
            else Checkpointer(db, clock, self.sequencer, signer, policy)
        )

    def tree_head(self, size: int | None = None) -> tuple[int, bytes]:
        """(size, root hash) of the log, after sequencing what is pending (FORMATS.md 3)."""
        self.sequencer.run_pending()
        return tree.tree_head(self.db, size)

    def checkpoint(self, *, force: bool = False) -> StoredCheckpoint | None:
        """Sign a checkpoint if one is due, or now when `force` (see `checkpoints`)."""
        return self._checkpointer().sign_checkpoint(force=force)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return self._checkpointer().latest()

    def verifier_key(self) -> str:
        """The verifier key to hand to auditors (`egide audit key`)."""
        return self._checkpointer().verifier_key()

    def verify(
        self, *, outside_note: str | None = None, extra_vkeys: Sequence[str] = ()
    ) -> VerifyReport:
        """Check the whole log and its checkpoints (`verify`); the first problem in the report.

        `extra_vkeys` are trusted besides this vault's own key: the keys of
        checkpoints signed before a lost key file was rebuilt (keys.md).
        """
        checkpointer = self._checkpointer()
        vkeys = [parse_verifier_key(checkpointer.verifier_key())]
        vkeys.extend(parse_verifier_key(vkey) for vkey in extra_vkeys)
        return verify_log(
            self.db,
            self.sequencer,
            vkeys=vkeys,
            origin=checkpointer.policy.origin,
            outside_note=outside_note,
        )

    def _checkpointer(self) -> Checkpointer:
        if self.checkpointer is None:
            raise NoAuditSigner(
                "This audit service was built without a signing key, so it cannot sign or "
                "name checkpoints. Open the vault with `egide` or `egide serve`."
            )
        return self.checkpointer
