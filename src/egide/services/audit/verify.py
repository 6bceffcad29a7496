"""Verifying the whole audit log (issue 4 item 5): `egide audit verify`.

`verify_log` reads every leaf in `seq` order, in batches (memory does not
grow with the log), and checks, stopping at the first entry found wrong:

- the leaf rows run 0, 1, 2 ... with no gap, and none lies beyond the tree;
- each leaf's bytes hash (RFC 9162, 0x00 | bytes) to the stored level-0 node;
- the leaf names its own `seq`, and the event row it names carries that `seq`;
- every interior node, recomputed from the leaves alone (a `Frontier`, not
  the stored nodes), equals the stored one.

Entries moved out by the retention step (`archive`, FORMATS.md section 5)
are absent by design: the `audit_archives` rows must run contiguously from
entry 0, and below their end the stored leaf hashes (level-0 nodes) stand
for the leaves, so the tree is still rebuilt and checked above them. A leaf
deleted from the live log, above the archived end, is still `missing`.

Then every stored checkpoint: signed by the log's key over exactly its row's
size and root, equal to the head recomputed at its size, and consistent with
the previous one (a proof from the stored nodes); the log must not end
before any of them. With an outside checkpoint (`--from-checkpoint`), the
log must extend it too: the one check the database cannot fake by rewriting
its own checkpoints table.

The first problem is returned as a `Finding`: the first entry (`seq`) that
is wrong, what is wrong with it (`kind`), and the typed error to show.
Messages hold sizes and indexes, never entry content.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from egide.core.audit import checkpoint as notes
from egide.core.audit import merkle
from egide.core.audit.errors import AuditIntegrityError
from egide.core.db import Database
from egide.core.db.models import AuditArchive, AuditCheckpoint, AuditEvent, AuditLeaf, AuditNode
from egide.services.audit.checkpoints import CHECKPOINT_MISMATCH, check_extends
from egide.services.audit.sequencer import Sequencer
from egide.services.audit.tree import node_reader, stored_size

DEFAULT_BATCH: Final = 1000

ALTERED: Final = "altered"
MISSING: Final = "missing"
REORDERED: Final = "reordered"
INSERTED: Final = "inserted"
TRUNCATED: Final = "truncated"
REWRITTEN: Final = "rewritten"
CHECKPOINT: Final = "checkpoint"

_REPORT: Final = " Keep the material as evidence and report a security incident."
LEAF_ALTERED: Final = (
    "Audit entry {seq} was altered: its stored bytes no longer hash to the leaf hash of "
    "the tree, or that hash was changed." + _REPORT
)
NODE_ALTERED: Final = (
    "The audit tree node at level {level}, index {index} (entries {seq} to {last}) does not "
    "match the entries below it: the tree was altered from entry {seq} on." + _REPORT
)
LEAF_MISSING: Final = (
    "Audit entry {seq} is missing: its leaf row was deleted while the tree still counts "
    "{size} entries." + _REPORT
)
LEAF_REORDERED: Final = (
    "Audit entry {seq} is out of place: its row holds the leaf of entry {found}. Rows were "
    "swapped or renumbered." + _REPORT
)
EVENT_MISMATCH: Final = (
    "Audit entry {seq} names an event whose row is at entry {found}: the event rows and "
    "the leaves were reordered." + _REPORT
)
LEAF_INSERTED: Final = (
    "Audit entry {seq} was inserted: the tree of {size} entries never held it, or no event "
    "row names it." + _REPORT
)
LOG_TRUNCATED: Final = (
    "The audit log ends at entry {seq}, before the {size} entries of a signed checkpoint: "
    "entries from {seq} on were removed." + _REPORT
)
LOG_REWRITTEN: Final = (
    "The audit log no longer matches its signed checkpoint of {size} entries: an entry "
    "from {seq} to {last} was rewritten together with the tree." + _REPORT
)
ARCHIVES_BROKEN: Final = (
    "The archive records of the audit log do not run contiguously from entry 0: entries "
    "from {seq} on are neither in the live log nor in a recorded archive, or two archives "
    "overlap. The audit_archives table was altered." + _REPORT
)
FOREIGN_CHECKPOINT: Final = (
    "The outside checkpoint is of the log {found}, not of this log {origin}: check that "
    "you gave the checkpoint of this vault."
)


class LogTampered(AuditIntegrityError):
    """Verification found an entry, a node or a checkpoint that is not as signed."""

    code = "audit-log-tampered"


@dataclass(frozen=True)
class Finding:
    """The first problem: the first entry found wrong (None: a checkpoint alone), and why."""

    kind: str
    seq: int | None
    error: AuditIntegrityError


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    head: bytes
    checkpoints: int
    latest_checkpoint: int | None
    from_checkpoint: int | None
    finding: Finding | None = None
    #: Entries below this seq were archived: checked through their leaf hashes only.
    archived: int = 0

    @property
    def clean(self) -> bool:
        return self.finding is None


@dataclass
class _Walk:
    """The running state of the pass over the leaves."""

    tree_size: int
    targets: set[int]
    frontier: merkle.Frontier = field(default_factory=merkle.Frontier)
    roots: dict[int, bytes] = field(default_factory=dict)
    finding: Finding | None = None


def archived_end(session: Session) -> int:
    """Where the live log starts: the end of the archived ranges, which run from entry 0.

    Raises `LogTampered` when they leave a gap or overlap: the entries in
    between would be neither live nor archived.
    """
    end = 0
    rows = session.execute(
        select(AuditArchive.first_seq, AuditArchive.end_seq).order_by(AuditArchive.first_seq)
    )
    for first, last in rows:
        if first != end or last <= first:
            raise LogTampered(ARCHIVES_BROKEN, seq=end)
        end = int(last)
    return end


def check_note(text: str, vkeys: Sequence[notes.VerifierKey], origin: str) -> notes.Checkpoint:
    """The checkpoint of a note signed by one of `vkeys` for this log; raise otherwise."""
    error: AuditIntegrityError | None = None
    for vkey in vkeys:
        try:
            signed = notes.verify_note(text, vkey)
        except AuditIntegrityError as exc:
            error = exc
            continue
        if signed.origin != origin:
            raise LogTampered(FOREIGN_CHECKPOINT, found=signed.origin, origin=origin)
        return signed
    if error is None:  # pragma: no cover - there is always the vault's own key
        raise ValueError("no verifier key given")
    raise error


def verify_log(
    db: Database,
    sequencer: Sequencer,
    *,
    vkeys: Sequence[notes.VerifierKey],
    origin: str,
    outside_note: str | None = None,
    batch: int = DEFAULT_BATCH,
) -> VerifyReport:
    """Check the whole log (see the module docstring); the first problem in `finding`.

    An outside checkpoint that is not signed by one of `vkeys` for `origin`
    raises (it proves nothing about this log); everything else is reported.
    """
    outside = None if outside_note is None else check_note(outside_note, vkeys, origin)
    sequencer.run_pending()
    with db.read() as session:
        rows = session.execute(
            select(AuditCheckpoint.size, AuditCheckpoint.root, AuditCheckpoint.note).order_by(
                AuditCheckpoint.size
            )
        ).all()
        stored = [(int(size), bytes(root), note) for size, root, note in rows]
        targets = {size for size, _, _ in stored}
        if outside is not None:
            targets.add(outside.size)
        walk = _Walk(stored_size(session), targets)
        if 0 in targets:
            walk.roots[0] = merkle.EMPTY_ROOT
        try:
            archived = archived_end(session)
        except LogTampered as exc:
            archived = 0
            walk.finding = Finding(MISSING, exc.params["seq"], exc)
        if walk.finding is None:
            _walk_archived(session, walk, archived, batch)
        _walk_leaves(session, walk, batch, after=archived - 1)
        count = walk.frontier.size
        finding = walk.finding
        if finding is None:
            finding = _check_tail(session, walk, stored, outside)
        if finding is None:
            finding = _check_checkpoints(session, walk, stored, vkeys, origin)
        if finding is None and outside is not None:
            finding = _against(walk, outside.size, outside.root, previous=0)
        return VerifyReport(
            entries=count,
            head=walk.frontier.root(),
            checkpoints=len(stored),
            latest_checkpoint=stored[-1][0] if stored else None,
            from_checkpoint=None if outside is None else outside.size,
            finding=finding,
            archived=archived,
        )


def _walk_archived(session: Session, walk: _Walk, end: int, batch: int) -> None:
    """Entries [0, end), archived: their stored leaf hashes stand for the leaves."""
    while walk.finding is None and walk.frontier.size < end:
        start = walk.frontier.size
        hashes = _nodes(session, 0, start, min(start + batch, end) - 1)
        completed: list[merkle.Node] = []
        for seq in range(start, min(start + batch, end)):
            digest = hashes.get(seq)
            if digest is None or seq >= walk.tree_size:
                size = max(walk.tree_size, end)
                walk.finding = Finding(MISSING, seq, LogTampered(LEAF_MISSING, seq=seq, size=size))
                break
            if len(digest) != merkle.HASH_SIZE:
                walk.finding = Finding(ALTERED, seq, LogTampered(LEAF_ALTERED, seq=seq))
                break
            _append(walk, digest, completed)
        walk.finding = _check_nodes(session, completed) or walk.finding


def _append(walk: _Walk, digest: bytes, completed: list[merkle.Node]) -> None:
    """Add a checked leaf hash to the rebuilt tree; note the head at each checkpoint size."""
    completed.extend(walk.frontier.append(digest)[1:])
    if walk.frontier.size in walk.targets:
        walk.roots[walk.frontier.size] = walk.frontier.root()


def _walk_leaves(session: Session, walk: _Walk, batch: int, *, after: int) -> None:
    """The live entries, above `after`; leaf rows at or below it (archived) are not read."""
    while walk.finding is None:
        rows = session.execute(
            select(AuditLeaf.seq, AuditLeaf.leaf)
            .where(AuditLeaf.seq > after)
            .order_by(AuditLeaf.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        leaves = [(int(seq), bytes(leaf)) for seq, leaf in rows]
        after = leaves[-1][0]
        walk.finding = _check_batch(session, walk, leaves)


def _check_batch(session: Session, walk: _Walk, leaves: list[tuple[int, bytes]]) -> Finding | None:
    """Check one batch of leaves; the interior nodes they complete are read per level at once.

    A node is complete before any later leaf is read, so a wrong node found
    here comes before a wrong leaf later in the same batch.
    """
    completed: list[merkle.Node] = []
    finding = _check_leaves(session, walk, leaves, completed)
    return _check_nodes(session, completed) or finding


def _check_leaves(  # noqa: PLR0911 - one return per kind of finding, in checking order
    session: Session,
    walk: _Walk,
    leaves: list[tuple[int, bytes]],
    completed: list[merkle.Node],
) -> Finding | None:
    first, last = leaves[0][0], leaves[-1][0]
    level0 = _nodes(session, 0, first, last)
    parsed = [_parse(leaf) for _, leaf in leaves]
    event_ids = [event_id for _, event_id in parsed if event_id is not None]
    events: dict[str, int | None] = {
        row.id: row.seq
        for row in session.execute(
            select(AuditEvent.id, AuditEvent.seq).where(AuditEvent.id.in_(event_ids))
        )
    }
    for (seq, leaf), (leaf_seq, event_id) in zip(leaves, parsed, strict=True):
        expected = walk.frontier.size
        if seq != expected or seq >= walk.tree_size:
            if expected < walk.tree_size:
                return Finding(
                    MISSING, expected, LogTampered(LEAF_MISSING, seq=expected, size=walk.tree_size)
                )
            return Finding(INSERTED, seq, LogTampered(LEAF_INSERTED, seq=seq, size=walk.tree_size))
        digest = merkle.leaf_hash(leaf)
        if leaf_seq is not None and leaf_seq != seq:
            return Finding(REORDERED, seq, LogTampered(LEAF_REORDERED, seq=seq, found=leaf_seq))
        if not hmac.compare_digest(digest, level0.get(seq, b"")):
            return Finding(ALTERED, seq, LogTampered(LEAF_ALTERED, seq=seq))
        if leaf_seq is None or event_id is None:
            # Hashes to the tree's leaf hash yet is not an entry: the tree was forged too.
            return Finding(ALTERED, seq, LogTampered(LEAF_ALTERED, seq=seq))
        if event_id not in events:
            return Finding(INSERTED, seq, LogTampered(LEAF_INSERTED, seq=seq, size=walk.tree_size))
        if events[event_id] != seq:
            found = events[event_id]
            return Finding(REORDERED, seq, LogTampered(EVENT_MISMATCH, seq=seq, found=str(found)))
        _append(walk, digest, completed)
    return None


def _check_nodes(session: Session, completed: list[merkle.Node]) -> Finding | None:
    """Recomputed interior nodes against the stored ones; the first wrong in leaf order."""
    stored: dict[tuple[int, int], bytes] = {}
    for level in sorted({node.level for node in completed}):
        indexes = [node.index for node in completed if node.level == level]
        for index, value in _nodes(session, level, min(indexes), max(indexes)).items():
            stored[level, index] = value
    for node in completed:
        if not hmac.compare_digest(node.hash, stored.get((node.level, node.index), b"")):
            start = node.index << node.level
            return Finding(
                ALTERED,
                start,
                LogTampered(
                    NODE_ALTERED,
                    seq=start,
                    level=node.level,
                    index=node.index,
                    last=start + (1 << node.level) - 1,
                ),
            )
    return None


def _check_tail(
    session: Session,
    walk: _Walk,
    stored: list[tuple[int, bytes, str]],
    outside: notes.Checkpoint | None,
) -> Finding | None:
    count = walk.frontier.size
    signed_sizes = [size for size, _, _ in stored]
    if outside is not None:
        signed_sizes.append(outside.size)
    if any(size > count for size in signed_sizes):
        return Finding(
            TRUNCATED, count, LogTampered(LOG_TRUNCATED, seq=count, size=max(signed_sizes))
        )
    if walk.tree_size > count:
        return Finding(MISSING, count, LogTampered(LEAF_MISSING, seq=count, size=walk.tree_size))
    highest = session.execute(select(func.max(AuditEvent.seq))).scalar_one_or_none()
    if highest is not None and int(highest) >= count:
        return Finding(MISSING, count, LogTampered(LEAF_MISSING, seq=count, size=int(highest) + 1))
    return None


def _check_checkpoints(
    session: Session,
    walk: _Walk,
    stored: list[tuple[int, bytes, str]],
    vkeys: Sequence[notes.VerifierKey],
    origin: str,
) -> Finding | None:
    reader = node_reader(session)
    previous: tuple[int, bytes] | None = None
    for size, root, note in stored:
        try:
            signed = check_note(note, vkeys, origin)
        except AuditIntegrityError as exc:
            return Finding(CHECKPOINT, None, exc)
        if signed.size != size or not hmac.compare_digest(signed.root, root):
            return Finding(CHECKPOINT, None, LogTampered(CHECKPOINT_MISMATCH, size=size))
        problem = _against(walk, size, root, previous=0 if previous is None else previous[0])
        if problem is not None:
            return problem
        if previous is not None:
            try:
                check_extends(previous[0], previous[1], size, root, reader)
            except AuditIntegrityError as exc:
                return Finding(CHECKPOINT, previous[0], exc)
        previous = (size, root)
    return None


def _against(walk: _Walk, size: int, root: bytes, *, previous: int) -> Finding | None:
    """The recomputed head at `size` against a signed root."""
    if hmac.compare_digest(walk.roots.get(size, b""), root):
        return None
    first = previous if previous < size else 0
    return Finding(
        REWRITTEN, first, LogTampered(LOG_REWRITTEN, seq=first, size=size, last=max(size - 1, 0))
    )


def _nodes(session: Session, level: int, first: int, last: int) -> dict[int, bytes]:
    rows = session.execute(
        select(AuditNode.idx, AuditNode.hash).where(
            AuditNode.level == level, AuditNode.idx >= first, AuditNode.idx <= last
        )
    )
    return {int(idx): bytes(value) for idx, value in rows}


def _parse(leaf: bytes) -> tuple[int | None, str | None]:
    """(seq, event_id) named by a leaf; None for what is not there or not of its type."""
    try:
        value: Any = json.loads(leaf)
    except ValueError:
        return None, None
    if not isinstance(value, dict):
        return None, None
    seq, event_id = value.get("seq"), value.get("event_id")
    return (
        seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        event_id if isinstance(event_id, str) else None,
    )
