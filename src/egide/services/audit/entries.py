"""Reading the audit log for its readers: entries, the latest checkpoint, proofs (API.md).

Everything here is `audit.read` (administrators and DPOs, and API tokens
with the `audit:read` scope: the access policy decides). What a reader gets
is the log itself, the leaves as sequenced: ids, never the sealed personal
context beside them. Reading entries is itself audited: `entries` and
`inclusion` (which returns one leaf) record an `audit.read` event, and
every refusal is recorded as denied (`records_denials`); the checkpoint and
consistency proofs hold hashes only and are not recorded (a monitor polls
them).

- `entries`: sequenced entries filtered on the event rows' indexed copies
  of the leaf's ids (actor, space, node) and on action, outcome and time,
  paged by `seq` (a cursor, not an offset: a page never shifts as the log
  grows). Entries appear once sequenced, about a second after their action.
- `checkpoint`: the latest signed checkpoint as stored. A read never signs
  one: signing is the worker's (or `egide audit checkpoint`'s) job, and
  none exists until the first one is signed.
- `inclusion` and `consistency`: RFC 9162 proofs in trees no larger than
  the latest signed checkpoint (as a CT log serves proofs up to its latest
  signed tree head only): a proof is worth something only against a head
  someone signed, and the reader can always check it against that note.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from egide.core.audit import errors, merkle
from egide.core.audit.errors import AuditIntegrityError, InvalidTreeRequest
from egide.core.db import Database
from egide.core.db.models import AuditEvent, AuditLeaf
from egide.core.errors import InvalidInput, NotFound
from egide.services.access.policy import Action, Principal, authorize
from egide.services.audit.actions import AuditAction
from egide.services.audit.checkpoints import StoredCheckpoint, latest_checkpoint
from egide.services.audit.denials import records_denials
from egide.services.audit.recorder import ALLOWED, AuditRecorder
from egide.services.audit.tree import node_reader

DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 1000
#: The largest `seq` or size a BIGINT column holds.
MAX_SEQ: Final = (1 << 63) - 1


class NoCheckpointYet(NotFound):
    code = "audit-no-checkpoint"

    def __init__(self) -> None:
        super().__init__(
            "No checkpoint of the audit log has been signed yet. The server signs one "
            "within a minute of the first entry; an administrator can sign one now with "
            "`egide audit checkpoint`."
        )


@dataclass(frozen=True)
class EntryQuery:
    """Filters of `entries`; None matches everything.

    `actor` is a user id (its actions through its API tokens included) or a
    token id; `target` a space, node or version id; `since` is inclusive,
    `until` exclusive.
    """

    actor: str | None = None
    target: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@dataclass(frozen=True)
class EntryPage:
    #: The leaves, parsed (each holds its own `seq`).
    entries: list[dict[str, Any]]
    #: The `cursor` of the next page; None on the last one.
    next_cursor: int | None


@dataclass(frozen=True)
class InclusionProof:
    seq: int
    tree_size: int
    #: The exact leaf bytes; None once retention archived them (the hash stays).
    leaf: bytes | None
    leaf_hash: bytes
    proof: list[bytes]
    #: The tree head at `tree_size`: the root of the checkpoint of that size.
    root: bytes


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: list[bytes]


class AuditReader:
    """The read side of the audit log, for the HTTP API."""

    def __init__(self, db: Database, audit: AuditRecorder) -> None:
        self.db = db
        #: Records the reads (named `audit` as in the other services, for `records_denials`).
        self.audit = audit

    @records_denials
    def entries(
        self,
        principal: Principal,
        query: EntryQuery = EntryQuery(),
        *,
        cursor: int = 0,
        limit: int = DEFAULT_PAGE,
    ) -> EntryPage:
        """Sequenced entries matching `query` from `seq` = `cursor` on, `limit` at most."""
        authorize(principal, Action.AUDIT_READ)
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(
                "A page holds 1 to {most} entries, not {limit}.",
                field="limit",
                most=MAX_PAGE,
                limit=limit,
            )
        if query.since is not None and query.until is not None and query.since >= query.until:
            raise InvalidInput(
                "The period is empty: since ({since}) must be before until ({until}).",
                field="since",
                since=query.since.isoformat(),
                until=query.until.isoformat(),
            )
        statement = _filtered(
            select(AuditLeaf.seq, AuditLeaf.leaf)
            .join(AuditEvent, AuditEvent.seq == AuditLeaf.seq)
            .where(AuditLeaf.seq >= cursor),
            query,
        )
        with self.db.read() as session:
            rows = session.execute(statement.order_by(AuditLeaf.seq).limit(limit + 1)).all()
        page = EntryPage(
            entries=[_parsed(int(seq), bytes(leaf)) for seq, leaf in rows[:limit]],
            next_cursor=int(rows[limit].seq) if len(rows) > limit else None,
        )
        self._record(principal, {"query": _described(query, cursor), "returned": len(page.entries)})
        return page

    @records_denials
    def checkpoint(self, principal: Principal) -> StoredCheckpoint:
        """The latest signed checkpoint, as stored and published."""
        authorize(principal, Action.AUDIT_READ)
        with self.db.read() as session:
            return _signed(session)

    @records_denials
    def inclusion(self, principal: Principal, seq: int, tree_size: int | None) -> InclusionProof:
        """PATH(seq, D[0:tree_size]); `tree_size` defaults to the latest checkpoint's."""
        authorize(principal, Action.AUDIT_READ)
        with self.db.read() as session:
            size = _within_signed(_signed(session), tree_size, field="tree_size")
            if not 0 <= seq < size:
                raise InvalidTreeRequest(
                    "Entry {seq} is not in the tree of {size} entries; ask for an entry "
                    "below the tree size.",
                    field="seq",
                    seq=seq,
                    size=size,
                )
            get = node_reader(session)
            leaf = session.get(AuditLeaf, seq)
            proof = InclusionProof(
                seq=seq,
                tree_size=size,
                leaf=None if leaf is None else bytes(leaf.leaf),
                leaf_hash=_node(get, 0, seq),
                proof=merkle.inclusion_proof(seq, size, get),
                root=merkle.tree_head(size, get),
            )
        self._record(principal, {"seq": seq, "tree_size": size})
        return proof

    @records_denials
    def consistency(self, principal: Principal, first: int, second: int) -> ConsistencyProof:
        """PROOF(first, D[0:second]) between two sizes up to the latest checkpoint's."""
        authorize(principal, Action.AUDIT_READ)
        with self.db.read() as session:
            second = _within_signed(_signed(session), second, field="second")
            if first > second:
                raise InvalidTreeRequest(
                    "No consistency proof goes from a tree of {first} entries to a smaller "
                    "one of {second}; the first size must not exceed the second.",
                    field="first",
                    first=first,
                    second=second,
                )
            get = node_reader(session)
            return ConsistencyProof(
                first=first,
                second=second,
                first_root=merkle.tree_head(first, get),
                second_root=merkle.tree_head(second, get),
                proof=merkle.consistency_proof(first, second, get),
            )

    def _record(self, principal: Principal, details: dict[str, Any]) -> None:
        """The read's event, in a short transaction of its own after the read: on SQLite a
        long query must not hold the one write lock that every audited action needs. If
        it cannot be written, the read fails: nothing is returned without its record."""
        with self.db.write() as session:
            self.audit.record(
                session,
                actor=principal,
                action=AuditAction.AUDIT_READ,
                target={},
                outcome=ALLOWED,
                details=details,
            )


def _described(query: EntryQuery, cursor: int) -> dict[str, Any]:
    """The filters of a read, for its event: ids, names of actions, times; no personal data."""
    described: dict[str, Any] = {"cursor": cursor}
    for name in ("actor", "target", "action", "outcome"):
        value = getattr(query, name)
        if value is not None:
            described[name] = value
    for name in ("since", "until"):
        moment = getattr(query, name)
        if moment is not None:
            described[name] = moment.astimezone(dt.UTC).isoformat()
    return described


def _filtered(statement: Select[int, bytes], query: EntryQuery) -> Select[int, bytes]:
    """The query's filters, on the event row's columns (bound parameters only)."""
    if query.actor is not None:
        statement = statement.where(
            or_(AuditEvent.actor_id == query.actor, AuditEvent.user_id == query.actor)
        )
    if query.target is not None:
        # Versions have no column of their own: match the canonical JSON of the
        # target ({"version":"<id>"}); the LIKE wildcards in an id are escaped.
        version = '"version":' + json.dumps(query.target, ensure_ascii=False)
        statement = statement.where(
            or_(
                AuditEvent.space_id == query.target,
                AuditEvent.node_id == query.target,
                AuditEvent.target.contains(version, autoescape=True),
            )
        )
    if query.action is not None:
        statement = statement.where(AuditEvent.action == query.action)
    if query.outcome is not None:
        statement = statement.where(AuditEvent.outcome == query.outcome)
    if query.since is not None:
        statement = statement.where(AuditEvent.created_at >= query.since)
    if query.until is not None:
        statement = statement.where(AuditEvent.created_at < query.until)
    return statement


def _parsed(seq: int, leaf: bytes) -> dict[str, Any]:
    try:
        value = json.loads(leaf)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise AuditIntegrityError(
            "Audit entry {seq} is not a JSON object: its stored bytes were altered. Run "
            "`egide audit verify`, keep the database as evidence and report a security "
            "incident.",
            seq=seq,
        )
    return value


def _signed(session: Session) -> StoredCheckpoint:
    signed = latest_checkpoint(session)
    if signed is None:
        raise NoCheckpointYet()
    return signed


def _within_signed(signed: StoredCheckpoint, size: int | None, *, field: str) -> int:
    if size is None:
        return signed.size
    if size > signed.size:
        raise InvalidTreeRequest(
            "The latest signed checkpoint covers {signed} entries, so no proof is given in "
            "a tree of {size}; ask for a size of at most {signed}, or wait for the next "
            "checkpoint.",
            field=field,
            signed=signed.size,
            size=size,
        )
    return size


def _node(get: merkle.NodeReader, level: int, index: int) -> bytes:
    value = get(level, index)
    if len(value) != merkle.HASH_SIZE:
        raise AuditIntegrityError(errors.NODE_DAMAGED, level=level, index=index)
    return value
