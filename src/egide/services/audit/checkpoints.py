"""Signed checkpoints of the audit log (FORMATS.md section 4, issue 4 item 4).

`Checkpointer.sign_checkpoint` sequences what is pending, then, when a
checkpoint is due (the log grew by `entries` since the last one, or
`seconds` passed and it grew at all, or the caller forces one):

1. computes the tree head from the stored nodes;
2. checks it is consistent with the previous stored checkpoint: a
   consistency proof read from the stored nodes must lead from the previous
   *signed* root to the new one (RFC 9162 2.1.4.2). A log rewritten under an
   old checkpoint is refused here, before anything is signed over it;
3. has the key provider sign the note (the private key never leaves it);
4. stores it, and writes it to the checkpoint directory when one is set, as
   `<size>.txt`, created exclusively and synced: an existing file is never
   replaced, and one holding another checkpoint of the same size is a fork.

Checkpointers serialise on a lock of their own (a PostgreSQL advisory lock;
on SQLite the write transaction), so two never sign the same size at once.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from egide.core.audit import checkpoint as notes
from egide.core.audit import merkle
from egide.core.audit.errors import AuditIntegrityError
from egide.core.clock import Clock
from egide.core.db import Database
from egide.core.db.models import AuditCheckpoint
from egide.core.errors import Unavailable
from egide.services.audit.sequencer import Sequencer
from egide.services.audit.tree import node_reader, stored_size

#: The PostgreSQL advisory lock key of checkpoint signing: "EgideCkp" as a big-endian int64.
CHECKPOINT_LOCK: Final = int.from_bytes(b"EgideCkp", "big")
_REPORT: Final = " Keep the material as evidence and report a security incident."
LOG_SHRANK: Final = (
    "The audit log holds {size} entries, fewer than the {signed} of its last signed "
    "checkpoint: entries were removed. No checkpoint is signed over it." + _REPORT
)
CHECKPOINT_MISMATCH: Final = (
    "The stored checkpoint of {size} entries does not hold what its signed note says "
    "(size, root or origin differ): the checkpoints table was altered." + _REPORT
)
CHECKPOINT_FORK: Final = (
    "The checkpoint directory already holds {path}, a different checkpoint of the same "
    "size: the log was rewritten or the file altered. Nothing was overwritten or signed." + _REPORT
)


class CheckpointDirUnavailable(Unavailable):
    code = "audit-checkpoint-dir-unavailable"


class AuditSigner(Protocol):
    """What checkpoints need of the key provider: a public key and a signature."""

    def audit_public_key(self) -> bytes: ...

    def sign_audit(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class CheckpointPolicy:
    """The log's name and when a checkpoint is due (settings `audit_*`)."""

    origin: str
    entries: int = 1000
    seconds: int = 60
    directory: Path | None = None


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str
    created_at: dt.datetime


class Checkpointer:
    """Signs, stores and publishes checkpoints of one log."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        sequencer: Sequencer,
        signer: AuditSigner,
        policy: CheckpointPolicy,
    ) -> None:
        self.db = db
        self.clock = clock
        self.sequencer = sequencer
        self.signer = signer
        self.policy = policy

    def verifier_key(self) -> str:
        """`<origin>+<key hash>+<base64(0x01 | public key)>` (FORMATS.md section 4)."""
        return notes.verifier_key(self.policy.origin, self._public_key())

    def latest(self) -> StoredCheckpoint | None:
        with self.db.read() as session:
            return latest_checkpoint(session)

    def sign_checkpoint(self, *, force: bool = False) -> StoredCheckpoint | None:
        """Sign a checkpoint if one is due (always when `force`); return it, else None.

        Forced on a log that has not grown since the last checkpoint, the last
        one is returned: a size is signed once.
        """
        self.sequencer.run_pending()
        with self.db.write() as session:
            if not self.db.is_sqlite:
                session.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHECKPOINT_LOCK}
                )
            previous = latest_checkpoint(session)
            size = stored_size(session)
            now = self.clock.now()
            if not self._due(previous, size, now, force=force):
                return previous if force else None
            reader = node_reader(session)
            root = merkle.tree_head(size, reader)
            if previous is not None:
                # The previous root as its note says, not only as its row says.
                recorded = notes.parse_note(previous.note).checkpoint
                if recorded.size != previous.size or not hmac.compare_digest(
                    recorded.root, previous.root
                ):
                    raise AuditIntegrityError(CHECKPOINT_MISMATCH, size=previous.size)
                check_extends(previous.size, previous.root, size, root, reader)
            note = notes.sign_with(
                notes.Checkpoint(self.policy.origin, size, root),
                self.policy.origin,
                self._public_key(),
                self.signer.sign_audit,
            )
            session.add(AuditCheckpoint(size=size, root=root, note=note, created_at=now))
            session.flush()
            # Published before the commit: a crash in between leaves a published,
            # correctly signed checkpoint that the next run finds identical.
            if self.policy.directory is not None:
                publish(self.policy.directory, size, note)
            return StoredCheckpoint(size, root, note, now)

    def _due(
        self, previous: StoredCheckpoint | None, size: int, now: dt.datetime, *, force: bool
    ) -> bool:
        if previous is None:
            return force or size > 0
        if size == previous.size:
            return False
        if size < previous.size:
            raise AuditIntegrityError(LOG_SHRANK, size=size, signed=previous.size)
        if force or size - previous.size >= self.policy.entries:
            return True
        return now - previous.created_at >= dt.timedelta(seconds=self.policy.seconds)

    def _public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.signer.audit_public_key())


def latest_checkpoint(session: Session) -> StoredCheckpoint | None:
    row = session.execute(
        select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1)
    ).scalar_one_or_none()
    if row is None:
        return None
    return StoredCheckpoint(row.size, bytes(row.root), row.note, row.created_at)


def check_extends(
    first: int, first_root: bytes, second: int, second_root: bytes, reader: merkle.NodeReader
) -> None:
    """Raise unless the stored tree of `second` entries extends the signed one of `first`."""
    if second < first:
        raise AuditIntegrityError(LOG_SHRANK, size=second, signed=first)
    proof = merkle.consistency_proof(first, second, reader)
    merkle.verify_consistency(first, second, first_root, second_root, proof)


def publish(directory: Path, size: int, note: str) -> Path:
    """Write `<directory>/<size>.txt` once (O_CREAT | O_EXCL), synced; never overwrite.

    An existing file with the very same note is accepted (a retry after a crash:
    Ed25519 signatures are deterministic); any other content is a fork.
    """
    path = directory / f"{size}.txt"
    data = note.encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        try:
            existing = path.read_bytes()
        except OSError as exc:
            raise _unavailable(directory, exc) from exc
        if hmac.compare_digest(existing, data):
            return path
        raise AuditIntegrityError(CHECKPOINT_FORK, path=str(path)) from None
    except OSError as exc:
        raise _unavailable(directory, exc) from exc
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        # Our own half-written file: left there, it would read as a fork next time.
        path.unlink(missing_ok=True)
        raise _unavailable(directory, exc) from exc
    os.close(fd)
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise _unavailable(directory, exc) from exc
    return path


def _unavailable(directory: Path, exc: OSError) -> CheckpointDirUnavailable:
    return CheckpointDirUnavailable(
        "The checkpoint directory {path} cannot be written ({reason}). Check that the share "
        "is mounted and writable by this user; no checkpoint was signed.",
        path=str(directory),
        reason=exc.strerror or "error",
    )
