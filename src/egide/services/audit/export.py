"""The audit export bundle (FORMATS.md section 5, issue 4 item 6): `egide audit export`.

A bundle is a directory an auditor checks with no Égide code
(`tools/verify_audit_bundle.py`, docs/audit.md):

- `entries.jsonl`: the exact leaf bytes of a contiguous range of entries;
- `checkpoint.txt`: a signed checkpoint whose tree covers the last of them;
- `vkey.txt`: the verifier key;
- `proofs.jsonl`: each entry's inclusion proof in that checkpoint's tree;
- `prefix.json`: when the range does not start at entry 0, the compact
  range of the entries before it, so the head can be recomputed.

Only the live log is exported: entries moved out by the retention step
(`archive`) are in their own archive bundles, written by the same
`write_bundle`. A window (`--since`, `--until`) selects by the entries'
time and exports the contiguous range from the first entry in it to the
last (`time` is not strictly increasing along `seq`, ADR 0014), so no
entry between two exported ones is ever left out.

Files are written into `<DIR>/.partial/`, synced, then renamed into `DIR`
with `checkpoint.txt` last: an interrupted export leaves no directory that
holds a checkpoint, so none looks complete. The export is itself an audit
event (`audit.export`), recorded before the bundle is published.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from egide.core.audit import merkle
from egide.core.db import Database
from egide.core.db.models import AuditEvent, AuditLeaf, AuditNode
from egide.core.errors import Conflict, EgideError, InvalidInput, NotFound, Unavailable
from egide.services.access.policy import Action, Principal, authorize
from egide.services.audit.actions import AuditAction
from egide.services.audit.checkpoints import StoredCheckpoint
from egide.services.audit.recorder import ALLOWED
from egide.services.audit.tree import stored_size
from egide.services.audit.verify import LEAF_ALTERED, LEAF_MISSING, LogTampered, archived_end

if TYPE_CHECKING:
    from egide.services.audit.service import AuditService

ENTRIES: Final = "entries.jsonl"
PROOFS: Final = "proofs.jsonl"
PREFIX: Final = "prefix.json"
VKEY: Final = "vkey.txt"
CHECKPOINT: Final = "checkpoint.txt"
#: Where a bundle is written before it is published; its presence marks an interrupted one.
PARTIAL: Final = ".partial"

_BATCH: Final = 1000
#: Nodes read per query by the proof reader, and blocks kept (see `_BlockReader`).
_BLOCK: Final = 512
_BLOCKS_KEPT: Final = 256


class BundleDirNotEmpty(Conflict):
    code = "audit-bundle-dir-not-empty"


class BundleDirUnavailable(Unavailable):
    code = "audit-bundle-dir-unavailable"


class NothingToExport(NotFound):
    code = "audit-nothing-to-export"


class InvalidTimeBound(InvalidInput):
    code = "audit-invalid-time"


@dataclass(frozen=True)
class Bundle:
    """What a written bundle holds: entries [first_seq, end_seq) under a checkpoint."""

    first_seq: int
    end_seq: int
    checkpoint_size: int
    #: SHA-256 hex of `entries.jsonl`, to check a copy against (`audit_archives`).
    entries_sha256: str

    @property
    def entries(self) -> int:
        return self.end_seq - self.first_seq


@dataclass(frozen=True)
class ExportSummary:
    directory: Path
    bundle: Bundle
    #: Entries below this seq were archived (retention): not in the live log, not exported.
    archived_end: int


def parse_time(value: str, *, option: str) -> dt.datetime:
    """An RFC 3339 date-time with its offset, or a date (midnight UTC that day)."""
    text = value.strip()
    try:
        if len(text) == 10:  # YYYY-MM-DD
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidTimeBound(
            "{option} takes an RFC 3339 time with its offset (2026-03-01T08:00:00Z, "
            "2026-03-01T09:00:00+01:00) or a date (2026-03-01, midnight UTC), not '{value}'.",
            field=option,
            option=option,
            value=value,
        )
    return moment.astimezone(dt.UTC)


def export_bundle(
    audit: AuditService,
    actor: Principal,
    out: Path,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> ExportSummary:
    """Write the bundle of the live log (or of a time window) into `out`, which must be empty.

    `since` is inclusive, `until` exclusive. Pending events are sequenced
    first; a checkpoint is signed when the latest one does not cover the
    last exported entry.
    """
    authorize_audit(audit, actor, Action.AUDIT_READ, AuditAction.AUDIT_EXPORT)
    if since is not None and until is not None and since >= until:
        raise InvalidTimeBound(
            "--since must come before --until: the window [since, until) is empty.",
            field="since",
        )
    with Staging(out) as staging:
        audit.sequencer.run_pending()
        with audit.db.read() as session:
            start = archived_end(session)
            window = _window(session, start, since, until)
            size = stored_size(session)
        if size <= start:  # checked before a checkpoint is signed for nothing
            raise NothingToExport(
                "The live audit log holds no entry to export (entries before {start} are "
                "archived). Nothing was written.",
                start=start,
            )
        checkpoint = covering_checkpoint(audit, size if window is None else window[1])
        first, end = (start, checkpoint.size) if window is None else window
        bundle = write_bundle(
            audit.db,
            staging.partial,
            first=first,
            end=end,
            checkpoint=checkpoint,
            vkey=audit.verifier_key(),
        )
        with audit.db.write() as session:
            audit.recorder.record(
                session,
                actor=actor,
                action=AuditAction.AUDIT_EXPORT,
                target={},
                outcome=ALLOWED,
                details={
                    "first_seq": first,
                    "end_seq": end,
                    "entries": end - first,
                    "checkpoint_size": checkpoint.size,
                    "since": None if since is None else since.isoformat(),
                    "until": None if until is None else until.isoformat(),
                },
            )
        staging.publish()
    return ExportSummary(out, bundle, start)


def covering_checkpoint(audit: AuditService, end: int) -> StoredCheckpoint:
    """The latest signed checkpoint if it covers entries [0, end), else one signed now."""
    latest = audit.latest_checkpoint()
    if latest is None or latest.size < end:
        latest = audit.checkpoint(force=True)
    if latest is None or latest.size < end:  # pragma: no cover - a forced one covers the log
        raise NothingToExport("The audit log holds no entry to export. Nothing was written.")
    return latest


def _window(
    session: Session, start: int, since: dt.datetime | None, until: dt.datetime | None
) -> tuple[int, int] | None:
    """[first, end) of the live entries from the first in the window to the last; None: all."""
    if since is None and until is None:
        return None
    query = select(func.min(AuditEvent.seq), func.max(AuditEvent.seq)).where(
        AuditEvent.seq >= start
    )
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if until is not None:
        query = query.where(AuditEvent.created_at < until)
    first, last = session.execute(query).one()
    if first is None or last is None:
        raise NothingToExport(
            "No entry of the live audit log falls in this window (entries before {start} are "
            "archived). Nothing was written; widen --since or --until.",
            start=start,
        )
    return int(first), int(last) + 1


def authorize_audit(
    audit: AuditService, actor: Principal, action: Action, attempted: AuditAction
) -> None:
    """Through the policy; a refusal is recorded under what was attempted (outcome `denied`)."""
    try:
        authorize(actor, action)
    except EgideError as exc:
        audit.recorder.record_denied(
            audit.db, actor=actor, action=attempted, target={}, details={"reason": exc.code}
        )
        raise


# Writing a bundle -----------------------------------------------------------------


def write_bundle(
    db: Database,
    directory: Path,
    *,
    first: int,
    end: int,
    checkpoint: StoredCheckpoint,
    vkey: str,
    check_leaves: bool = False,
) -> Bundle:
    """Write the five files of entries [first, end) under `checkpoint` into `directory`, synced.

    With `check_leaves` (the archive step, before it deletes the leaves), a
    leaf whose bytes no longer hash to the tree's leaf hash stops the write.
    """
    try:
        return _write_bundle(
            db,
            directory,
            first=first,
            end=end,
            checkpoint=checkpoint,
            vkey=vkey,
            check_leaves=check_leaves,
        )
    except OSError as exc:  # a full disk, a share gone: the caller removes the partial files
        raise _unavailable(directory.parent, exc) from exc


def _write_bundle(
    db: Database,
    directory: Path,
    *,
    first: int,
    end: int,
    checkpoint: StoredCheckpoint,
    vkey: str,
    check_leaves: bool,
) -> Bundle:
    size = checkpoint.size
    with db.read() as session:
        reader = _BlockReader(session)
        if first > 0:
            hashes = [value.hex() for value in merkle.compact_range(first, reader)]
            _write_file(directory / PREFIX, _json_line({"first": first, "hashes": hashes}))
        digest = hashlib.sha256()
        with (directory / ENTRIES).open("xb") as entries, (directory / PROOFS).open("xb") as proofs:
            for seq, leaf in _leaves(session, first, end, size):
                if check_leaves and not hmac.compare_digest(merkle.leaf_hash(leaf), reader(0, seq)):
                    raise LogTampered(LEAF_ALTERED, seq=seq)
                line = leaf + b"\n"
                entries.write(line)
                digest.update(line)
                proof = merkle.inclusion_proof(seq, size, reader)
                proofs.write(
                    _json_line({"seq": seq, "tree_size": size, "proof": [p.hex() for p in proof]})
                )
            _sync(entries)
            _sync(proofs)
    _write_file(directory / VKEY, (vkey + "\n").encode())
    _write_file(directory / CHECKPOINT, checkpoint.note.encode())
    return Bundle(first, end, size, digest.hexdigest())


def _leaves(session: Session, first: int, end: int, size: int) -> Iterator[tuple[int, bytes]]:
    """Leaves [first, end) in seq order, in batches; a missing one is an integrity error."""
    expected = first
    while expected < end:
        rows = session.execute(
            select(AuditLeaf.seq, AuditLeaf.leaf)
            .where(AuditLeaf.seq >= expected, AuditLeaf.seq < end)
            .order_by(AuditLeaf.seq)
            .limit(_BATCH)
        ).all()
        if not rows:
            raise LogTampered(LEAF_MISSING, seq=expected, size=size)
        for seq, leaf in rows:
            if seq != expected:
                raise LogTampered(LEAF_MISSING, seq=expected, size=size)
            yield int(seq), bytes(leaf)
            expected += 1


class _BlockReader:
    """A `NodeReader` that reads nodes by blocks of consecutive indexes, a few blocks kept.

    The proofs of consecutive entries share most of their nodes and walk each
    level left to right, so one query serves hundreds of proofs instead of
    one query per node (O(n log n) reads for n entries otherwise).
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._blocks: dict[tuple[int, int], dict[int, bytes]] = {}

    def __call__(self, level: int, index: int) -> bytes:
        key = (level, index // _BLOCK)
        block = self._blocks.pop(key, None)
        if block is None:
            block = self._load(level, key[1] * _BLOCK)
            if len(self._blocks) >= _BLOCKS_KEPT:
                del self._blocks[next(iter(self._blocks))]  # the least recently used
        self._blocks[key] = block
        return block.get(index, b"")  # missing reads as damaged, as `tree.node_reader`

    def _load(self, level: int, start: int) -> dict[int, bytes]:
        rows = self._session.execute(
            select(AuditNode.idx, AuditNode.hash).where(
                AuditNode.level == level, AuditNode.idx >= start, AuditNode.idx < start + _BLOCK
            )
        )
        return {int(idx): bytes(value) for idx, value in rows}


def _json_line(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


def _sync(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())


def _write_file(path: Path, data: bytes) -> None:
    with path.open("xb") as file:  # never over an existing file
        file.write(data)
        _sync(file)


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Staging:
    """A bundle directory being written: refused unless empty, published all at once.

    On entry `directory` is created if absent and must be empty; the files go
    to `directory/.partial/`. `publish` renames them into `directory`,
    `checkpoint.txt` last, and syncs it. Leaving without `publish` (an error)
    removes what was written, and `directory` itself if this created it.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.partial = directory / PARTIAL
        self._created = False
        self._published = False

    def __enter__(self) -> Staging:
        try:
            if self.directory.exists() and not self.directory.is_dir():
                raise BundleDirNotEmpty(
                    "{path} is a file, not a directory; give an empty or new directory for "
                    "the bundle.",
                    path=str(self.directory),
                )
            self._created = not self.directory.exists()
            self.directory.mkdir(parents=True, exist_ok=True)
            if any(self.directory.iterdir()):
                raise BundleDirNotEmpty(
                    "{path} is not empty: a bundle is never written over files, an earlier "
                    "bundle above all. Give a new or empty directory.",
                    path=str(self.directory),
                )
            self.partial.mkdir()
        except FileExistsError:  # another export started in the same directory meanwhile
            raise BundleDirNotEmpty(
                "{path} is not empty: a bundle is never written over files, an earlier "
                "bundle above all. Give a new or empty directory.",
                path=str(self.directory),
            ) from None
        except OSError as exc:
            raise _unavailable(self.directory, exc) from exc
        return self

    def publish(self) -> None:
        try:
            names = sorted(p.name for p in self.partial.iterdir())
            names.sort(key=lambda name: name == CHECKPOINT)  # the checkpoint last
            for name in names:
                (self.partial / name).rename(self.directory / name)
                if name == CHECKPOINT:
                    self.partial.rmdir()
                _sync_dir(self.directory)
        except OSError as exc:
            raise _unavailable(self.directory, exc) from exc
        self._published = True

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self._published or exc_type is None:
            return
        shutil.rmtree(self.partial, ignore_errors=True)
        if self._created:
            shutil.rmtree(self.directory, ignore_errors=True)


def _unavailable(directory: Path, exc: OSError) -> BundleDirUnavailable:
    return BundleDirUnavailable(
        "The bundle directory {path} cannot be written ({reason}). Check that it is mounted "
        "and writable by this user, and that there is space left.",
        path=str(directory),
        reason=exc.strerror or "error",
    )
