"""The sequencer: gap-free seq, exact leaves, the stored tree, O(log n) appends."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select, update

from egide.core.audit import leaves, merkle
from egide.core.audit.errors import AuditIntegrityError, InvalidTreeRequest, ProofRejected
from egide.core.clock import ManualClock, SystemClock
from egide.core.db import Database
from egide.core.db.models import AuditEvent, AuditLeaf
from egide.services.access.policy import Action, Principal
from egide.services.audit import (
    ALLOWED,
    Sequencer,
    consistency_proof,
    inclusion_proof,
    record,
    tree_head,
)
from tests.services.audit.conftest import RecordMany
from tests.services.audit.helpers import (
    leaf_node_hashes,
    root_of_stored_leaves,
    stored_leaves,
    stored_seqs,
)


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement the database runs inside the block."""
    seen: list[str] = []

    def listen(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)


def node_reads(seen: list[str]) -> int:
    """Reads of one stored node (the `get` callback); the size is one more, separate query."""
    return sum(1 for sql in seen if sql.lstrip().startswith("SELECT audit_nodes.hash"))


def test_seq_is_gap_free_over_batches_and_a_restart(
    db: Database, clock: ManualClock, record_many: RecordMany
) -> None:
    ids = record_many(23)
    first = Sequencer(db, clock)
    assert [first.run_once(limit=5) for _ in range(3)] == [5, 5, 5]
    # A new process picks up from the stored tree exactly where the first stopped.
    second = Sequencer(db, clock)
    assert second.run_pending(limit=5) == 8
    assert second.run_once() == 0
    assert sorted(s for s in stored_seqs(db) if s is not None) == list(range(23))
    # Taken in (created_at, id) order: here, the order they were recorded in.
    with db.read() as session:
        by_seq = session.scalars(select(AuditEvent.id).order_by(AuditEvent.seq)).all()
    assert list(by_seq) == ids
    # ... and the first instance, whose cached edge is now stale, continues just as well.
    record_many(4)
    assert first.run_pending() == 4
    assert sorted(stored_seqs(db)) == list(range(27))  # type: ignore[type-var]
    assert tree_head(db) == (27, root_of_stored_leaves(db))


def test_leaf_bytes_are_stored_exactly_as_hashed(
    db: Database, clock: ManualClock, record_many: RecordMany
) -> None:
    record_many(9)
    Sequencer(db, clock).run_pending()
    stored = stored_leaves(db)
    assert [seq for seq, _ in stored] == list(range(9))
    assert [merkle.leaf_hash(leaf) for _, leaf in stored] == leaf_node_hashes(db)
    with db.read() as session:
        events = {e.id: e for e in session.scalars(select(AuditEvent))}
    for seq, leaf in stored:
        fields = json.loads(leaf)
        # Canonical JSON (FORMATS.md 3), every required field, ids only.
        assert leaves.leaf_bytes(fields) == leaf
        assert fields["seq"] == seq
        source = events[fields["event_id"]]
        assert source.seq == seq
        assert fields["time"].endswith("Z")
        assert fields["actor"] == {"kind": "user", "id": source.actor_id}
        assert fields["action"] == "file.read"
        assert fields["target"] == json.loads(source.target)
        assert fields["outcome"] == ALLOWED
        assert fields["context_hash"] == ""


def test_the_stored_head_is_the_rfc_9162_root_of_the_stored_leaves(
    db: Database, clock: ManualClock, record_many: RecordMany
) -> None:
    sequencer = Sequencer(db, clock)
    assert tree_head(db) == (0, merkle.EMPTY_ROOT)
    for batch in (1, 2, 5, 13):
        record_many(batch)
        sequencer.run_once(limit=4)
        sequencer.run_pending(limit=4)
        size, head = tree_head(db)
        assert head == root_of_stored_leaves(db)
        assert head == merkle.root(leaf_node_hashes(db))
    assert size == 21


def test_proofs_read_from_the_database_verify(
    db: Database, clock: ManualClock, record_many: RecordMany
) -> None:
    record_many(13)
    Sequencer(db, clock).run_pending(limit=3)
    hashes = leaf_node_hashes(db)
    heads = {size: tree_head(db, size)[1] for size in range(14)}
    for size in range(1, 14):
        assert heads[size] == merkle.root(hashes[:size])
        for seq in range(size):
            proof = inclusion_proof(db, seq, size)
            merkle.verify_inclusion(hashes[seq], seq, size, proof, heads[size])
        for first in range(size + 1):
            proof = consistency_proof(db, first, size)
            merkle.verify_consistency(first, size, heads[first], heads[size], proof)


def test_a_proof_beyond_the_log_is_refused(
    db: Database, clock: ManualClock, record_many: RecordMany
) -> None:
    record_many(2)
    Sequencer(db, clock).run_pending()
    with pytest.raises(InvalidTreeRequest):
        inclusion_proof(db, 0, 3)
    with pytest.raises(InvalidTreeRequest):
        tree_head(db, 3)


def test_appending_reads_o_log_n_nodes_and_never_rescans_the_log(
    db: Database, clock: ManualClock, record_many: RecordMany
) -> None:
    record_many(100)
    Sequencer(db, clock).run_pending(limit=100)
    record_many(1)
    # A fresh sequencer rebuilds the right edge: one read per complete subtree of 100 = 64+32+4.
    fresh = Sequencer(db, clock)
    with statements(db) as seen:
        assert fresh.run_once() == 1
    assert node_reads(seen) == bin(100).count("1")
    assert not any("FROM audit_leaves" in sql for sql in seen)
    fixed = len(seen)
    # A warm one reads no node at all, and its statements do not grow with the log.
    record_many(1)
    with statements(db) as seen:
        assert fresh.run_once() == 1
    assert node_reads(seen) == 0
    assert not any("FROM audit_leaves" in sql for sql in seen)
    assert len(seen) <= fixed
    assert tree_head(db) == (102, root_of_stored_leaves(db))


def test_a_failed_batch_leaves_no_trace_and_the_next_run_resumes(
    db: Database, clock: ManualClock, record_many: RecordMany
) -> None:
    ids = record_many(3)
    sequencer = Sequencer(db, clock)
    sequencer.run_once(limit=1)
    with db.write() as session:  # a row no leaf can be made of
        session.execute(update(AuditEvent).where(AuditEvent.id == ids[2]).values(details="[]"))
    with pytest.raises(AuditIntegrityError, match=ids[2]):
        sequencer.run_pending()
    assert sorted(s for s in stored_seqs(db) if s is not None) == [0]
    assert len(stored_leaves(db)) == 1
    with db.write() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == ids[2]).values(details="{}"))
    assert sequencer.run_pending() == 2
    assert tree_head(db) == (3, root_of_stored_leaves(db))


def test_a_row_edited_after_sequencing_changes_the_recomputed_head(
    db: Database, clock: ManualClock, record_many: RecordMany
) -> None:
    record_many(5)
    Sequencer(db, clock).run_pending()
    _, head = tree_head(db)
    leaf = dict(stored_leaves(db))[2]
    forged = leaf.replace(b'"outcome":"allowed"', b'"outcome":"denied"')
    with db.write() as session:
        session.execute(update(AuditLeaf).where(AuditLeaf.seq == 2).values(leaf=forged))
    # The head recomputed from the leaves moves; the stored nodes still give the
    # old head, so comparing the two exposes the edit, and no proof carries it.
    assert root_of_stored_leaves(db) != head
    assert tree_head(db) == (5, head)
    proof = inclusion_proof(db, 2, 5)
    merkle.verify_inclusion(merkle.leaf_hash(leaf), 2, 5, proof, head)
    with pytest.raises(ProofRejected):
        merkle.verify_inclusion(merkle.leaf_hash(forged), 2, 5, proof, head)


def _recorder(db: Database, principal: Principal, count: int, errors: list[BaseException]) -> None:
    clock = SystemClock()
    try:
        for i in range(count):
            with db.write() as session:
                record(
                    session,
                    actor=principal,
                    action=Action.FILE_READ,
                    target={"node": f"n-{i}"},
                    outcome=ALLOWED,
                    details={},
                    at=clock.now(),
                )
    except BaseException as exc:  # pragma: no cover - reported by the test
        errors.append(exc)
        raise


def test_concurrent_recorders_and_sequencers_give_a_gap_free_log(
    db: Database, doctor: Principal
) -> None:
    errors: list[BaseException] = []
    writers = [threading.Thread(target=_recorder, args=(db, doctor, 25, errors)) for _ in range(2)]
    done = threading.Event()

    def sequence(sequencer: Sequencer) -> None:
        try:
            while not done.is_set():
                sequencer.run_once(limit=7)
            sequencer.run_pending(limit=7)
        except BaseException as exc:  # pragma: no cover - reported by the test
            errors.append(exc)
            raise

    # Two sequencers at once: the lock makes them take turns.
    sequencers = [
        threading.Thread(target=sequence, args=(Sequencer(db, SystemClock()),)) for _ in range(2)
    ]
    for thread in writers + sequencers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in sequencers:
        thread.join()
    assert errors == []
    assert sorted(stored_seqs(db)) == list(range(50))  # type: ignore[type-var]
    assert [seq for seq, _ in stored_leaves(db)] == list(range(50))
    assert tree_head(db) == (50, root_of_stored_leaves(db))
