"""The sequencer: gives committed events their place in the log (FORMATS.md section 3).

One sequencer at a time holds the sequencing lock: on PostgreSQL a
transaction-level advisory lock, on SQLite the write transaction itself
(`BEGIN IMMEDIATE` makes it the only writer). Under the lock it reads the
size of the log, takes pending events, builds their leaves, stores the leaf
bytes and the tree nodes they complete, and sets their `seq`, all in one
transaction per batch. Audited actions never wait on it: they only insert
an outbox row.

Cost: the right edge of the tree (a `Frontier`) is kept in memory between
runs, keyed by the log size; when the size on disk differs (another process
sequenced, or this is the first run) it is rebuilt from the compact range,
O(log n) primary-key reads. An append then writes 1 + (trailing one bits of
the old size) nodes and reads none: nothing ever rescans the log.
"""

from __future__ import annotations

import json
from typing import Any, Final

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from egide.core.audit import leaves, merkle
from egide.core.audit.errors import AuditIntegrityError, InvalidEvent
from egide.core.clock import Clock
from egide.core.db import Database
from egide.core.db.models import AuditEvent, AuditLeaf, AuditNode
from egide.services.audit.recorder import event_fields
from egide.services.audit.tree import node_reader, stored_size

#: The PostgreSQL advisory lock key of the sequencer: "EgideSeq" as a big-endian int64.
SEQUENCER_LOCK: Final = int.from_bytes(b"EgideSeq", "big")
DEFAULT_BATCH: Final = 500
_EVENT_DAMAGED: Final = (
    "The pending audit event {event_id} cannot be made into a leaf: its row was altered "
    "after it was recorded. Sequencing stops here until it is repaired. Keep the row as "
    "evidence and report a security incident."
)


class Sequencer:
    """Appends pending audit events to the Merkle log, one batch per transaction.

    Order. Events are taken by (`created_at`, `id`), the closest the database
    offers to commit order. On SQLite the two agree: writers are serialised,
    so an action that commits later also took its time later. On PostgreSQL,
    under concurrency, they can differ: a transaction that took its
    `created_at` first may commit after one that took it later, and the later
    event may already be sequenced when the earlier one becomes visible; it
    then gets the next `seq`, after it. So `seq` order is the order in which
    the sequencer saw events committed, and `time` in the leaves is not
    strictly increasing.

    Gap-free `seq` holds whatever the order: the sequencer assigns `seq` only
    to rows already committed (it cannot see the others), only under the lock
    (so no two runs interleave), from the size it reads under that lock, and in
    the same transaction as the leaves and nodes (so a failed batch leaves no
    trace). The lock is taken by the first statement and every later
    statement reads after it: this relies on READ COMMITTED, PostgreSQL's
    default, where each statement sees what committed before it started.
    `seq` is also unique in the table, so even a bug could not give one place
    twice.
    """

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        #: Kept for the worker loop and checkpoints; sequencing itself reads no time.
        self.clock = clock
        self._frontier: merkle.Frontier | None = None

    def run_once(self, limit: int = DEFAULT_BATCH) -> int:
        """Sequence up to `limit` pending events in one transaction; return how many."""
        if limit < 1:
            raise ValueError("a batch holds at least one event")
        with self.db.write() as session:
            self._lock(session)
            size = stored_size(session)
            frontier = self._frontier_at(session, size)
            pending = session.execute(
                select(
                    AuditEvent.id,
                    AuditEvent.created_at,
                    AuditEvent.actor_kind,
                    AuditEvent.actor_id,
                    AuditEvent.action,
                    AuditEvent.target,
                    AuditEvent.outcome,
                    AuditEvent.details,
                    AuditEvent.context_hash,
                )
                .where(AuditEvent.seq.is_(None))
                .order_by(AuditEvent.created_at, AuditEvent.id)
                .limit(limit)
            ).all()
            if not pending:
                self._frontier = frontier
                return 0
            leaf_rows: list[dict[str, Any]] = []
            node_rows: list[dict[str, Any]] = []
            seq_rows: list[dict[str, Any]] = []
            for seq, event in enumerate(pending, start=size):
                leaf = _leaf(seq, event)
                leaf_rows.append({"seq": seq, "leaf": leaf})
                node_rows.extend(
                    {"level": node.level, "idx": node.index, "hash": node.hash}
                    for node in frontier.append(merkle.leaf_hash(leaf))
                )
                seq_rows.append({"id": event.id, "seq": seq})
            session.execute(insert(AuditLeaf), leaf_rows)
            session.execute(insert(AuditNode), node_rows)
            session.execute(update(AuditEvent), seq_rows)
        # Only a committed batch moves the cached edge forward.
        self._frontier = frontier
        return len(pending)

    def run_pending(self, limit: int = DEFAULT_BATCH) -> int:
        """Sequence every event pending now, batch after batch; return how many."""
        total = 0
        while True:
            done = self.run_once(limit)
            total += done
            if done < limit:
                return total

    def _lock(self, session: Session) -> None:
        if not self.db.is_sqlite:
            # Held until the transaction ends; SQLite's BEGIN IMMEDIATE already is the lock.
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQUENCER_LOCK})

    def _frontier_at(self, session: Session, size: int) -> merkle.Frontier:
        """A private copy of the right edge at `size`: from the cache, else from the nodes."""
        cached = self._frontier
        if cached is not None and cached.size == size:
            return merkle.Frontier.from_hashes(size, cached.hashes)
        return merkle.Frontier.from_hashes(size, merkle.compact_range(size, node_reader(session)))


def _leaf(seq: int, event: Any) -> bytes:  # a row of `run_once`'s pending query
    """The leaf of a pending event; a row no leaf can be made of stops the batch."""
    try:
        return leaves.leaf_bytes(
            event_fields(
                seq=seq,
                event_id=event.id,
                created_at=event.created_at,
                actor_kind=event.actor_kind,
                actor_id=event.actor_id,
                action=event.action,
                target=_json_object(event.target),
                outcome=event.outcome,
                details=_json_object(event.details),
                context_hash=event.context_hash,
            )
        )
    except (InvalidEvent, TypeError, ValueError) as exc:
        # `record` checked the event when it was written: the row changed since.
        raise AuditIntegrityError(_EVENT_DAMAGED, event_id=event.id) from exc


def _json_object(stored: str) -> dict[str, Any]:
    value = json.loads(stored)  # a JSONDecodeError is a ValueError
    if not isinstance(value, dict):
        raise TypeError("an audit event's target and details are JSON objects")
    return value
