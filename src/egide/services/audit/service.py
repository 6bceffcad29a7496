"""The audit service as the registry wires it: a recorder, the sequencer, checkpoints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import select

from egide.core.audit.checkpoint import parse_verifier_key
from egide.core.clock import Clock
from egide.core.db import Database
from egide.core.db.models import AuditContext
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


class NoContextKey(Unavailable):
    code = "audit-no-context-key"


#: Contexts opened per query: well under every database's bound-parameter limit.
_BATCH: Final = 500


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

    def open_context(self, event_id: str) -> dict[str, Any] | None:
        """The personal context of an event, opened; None when it has none or it was erased."""
        with self.db.read() as session:
            row = session.get(AuditContext, event_id)
            if row is None:
                return None
            key_id, sealed = row.key_id, row.sealed
        return self._sealer().open(key_id, event_id, sealed)

    def open_contexts(self, event_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The opened contexts of many events (for reports); events without one are absent."""
        found: dict[str, dict[str, Any]] = {}
        sealer = self._sealer()
        for start in range(0, len(event_ids), _BATCH):
            batch = list(event_ids[start : start + _BATCH])
            with self.db.read() as session:
                rows = session.execute(
                    select(AuditContext.event_id, AuditContext.key_id, AuditContext.sealed).where(
                        AuditContext.event_id.in_(batch)
                    )
                ).all()
            for event_id, key_id, sealed in rows:
                found[event_id] = sealer.open(key_id, event_id, sealed)
        return found

    def _sealer(self) -> ContextSealer:
        sealer = self.recorder.sealer
        if sealer is None:
            raise NoContextKey(
                "This audit service was built without the key provider, so it cannot open "
                "personal contexts. Open the vault with `egide` or `egide serve`."
            )
        return sealer

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
