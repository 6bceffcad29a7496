"""`verify`: every kind of tampering done directly in the database is caught, at the right seq."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import delete, insert, select, update

from egide.core.audit import merkle
from egide.core.audit.checkpoint import Checkpoint, sign, sign_with
from egide.core.audit.errors import AuditIntegrityError, UnknownSigner
from egide.core.clock import ManualClock
from egide.core.crypto.provider import FileKeyProvider
from egide.core.db import Database
from egide.core.db.models import AuditCheckpoint, AuditEvent, AuditLeaf, AuditNode
from egide.services.audit import AuditService
from egide.services.audit.verify import (
    ALTERED,
    CHECKPOINT,
    INSERTED,
    MISSING,
    REORDERED,
    REWRITTEN,
    TRUNCATED,
    LogTampered,
)
from tests.services.audit.conftest import RecordMany
from tests.services.audit.helpers import root_of_stored_leaves
from tests.services.audit.signing import ORIGIN, make_audit, new_provider

SIZE = 12


@pytest.fixture
def provider(tmp_path: Path) -> FileKeyProvider:
    return new_provider(tmp_path)


@pytest.fixture
def audit(
    db: Database, clock: ManualClock, provider: FileKeyProvider, record_many: RecordMany
) -> AuditService:
    """A log of 12 entries with checkpoints at 5 and 12."""
    service = make_audit(db, clock, provider)
    record_many(5)
    service.checkpoint(force=True)
    record_many(SIZE - 5)
    service.checkpoint(force=True)
    return service


def leaf_of(db: Database, seq: int) -> bytes:
    with db.read() as session:
        value = session.scalar(select(AuditLeaf.leaf).where(AuditLeaf.seq == seq))
        assert value is not None
        return bytes(value)


def set_leaf(db: Database, seq: int, leaf: bytes) -> None:
    with db.write() as session:
        session.execute(update(AuditLeaf).where(AuditLeaf.seq == seq).values(leaf=leaf))


def finding_of(audit: AuditService) -> tuple[str, int | None]:
    report = audit.verify()
    assert report.finding is not None, "tampering not caught"
    assert isinstance(report.finding.error, AuditIntegrityError)
    return report.finding.kind, report.finding.seq


def test_a_clean_log_verifies(audit: AuditService, db: Database) -> None:
    report = audit.verify()
    assert report.clean
    assert report.entries == SIZE
    assert report.head == root_of_stored_leaves(db)
    assert (report.checkpoints, report.latest_checkpoint) == (2, SIZE)


def test_verify_reads_in_batches(audit: AuditService, db: Database) -> None:
    from egide.services.audit.verify import verify_log

    checkpointer = audit.checkpointer
    assert checkpointer is not None
    from egide.core.audit.checkpoint import parse_verifier_key

    vkeys = [parse_verifier_key(audit.verifier_key())]
    for batch in (1, 2, 5, 100):
        report = verify_log(
            db, audit.sequencer, vkeys=vkeys, origin=checkpointer.policy.origin, batch=batch
        )
        assert report.clean
        assert report.entries == SIZE


def test_an_edited_leaf_is_named(audit: AuditService, db: Database) -> None:
    event = json.loads(leaf_of(db, 7))
    event["outcome"] = "denied"
    set_leaf(db, 7, json.dumps(event, sort_keys=True, separators=(",", ":")).encode())
    assert finding_of(audit) == (ALTERED, 7)


def test_a_deleted_leaf_is_named(audit: AuditService, db: Database) -> None:
    with db.write() as session:
        session.execute(delete(AuditLeaf).where(AuditLeaf.seq == 4))
    assert finding_of(audit) == (MISSING, 4)


def test_two_swapped_leaves_are_named(audit: AuditService, db: Database) -> None:
    third, ninth = leaf_of(db, 3), leaf_of(db, 9)
    set_leaf(db, 3, ninth)
    set_leaf(db, 9, third)
    assert finding_of(audit) == (REORDERED, 3)


def test_swapped_event_rows_are_named(audit: AuditService, db: Database) -> None:
    first = json.loads(leaf_of(db, 2))["event_id"]
    second = json.loads(leaf_of(db, 6))["event_id"]
    with db.write() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == first).values(seq=None))
        session.execute(update(AuditEvent).where(AuditEvent.id == second).values(seq=2))
        session.execute(update(AuditEvent).where(AuditEvent.id == first).values(seq=6))
    assert finding_of(audit) == (REORDERED, 2)


def test_a_tail_truncated_below_the_last_checkpoint_is_named(
    audit: AuditService, db: Database
) -> None:
    # A careful attacker removes the leaves, their nodes and their events alike.
    with db.write() as session:
        session.execute(delete(AuditLeaf).where(AuditLeaf.seq >= 9))
        session.execute(delete(AuditEvent).where(AuditEvent.seq >= 9))
        for level in range(5):
            session.execute(
                delete(AuditNode).where(AuditNode.level == level, AuditNode.idx >= 9 >> level)
            )
    assert finding_of(audit) == (TRUNCATED, 9)


def test_leaf_rows_removed_at_the_tail_are_named(audit: AuditService, db: Database) -> None:
    with db.write() as session:
        session.execute(delete(AuditLeaf).where(AuditLeaf.seq >= 10))
        session.execute(delete(AuditCheckpoint))
    assert finding_of(audit) == (MISSING, 10)


def test_a_forged_leaf_at_the_end_is_named(audit: AuditService, db: Database) -> None:
    forged = leaf_of(db, 11).replace(b'"seq":11', b'"seq":12')
    with db.write() as session:
        session.execute(insert(AuditLeaf).values(seq=SIZE, leaf=forged))
    assert finding_of(audit) == (INSERTED, SIZE)


def test_a_forged_leaf_with_its_leaf_hash_is_named(audit: AuditService, db: Database) -> None:
    forged = leaf_of(db, 11).replace(b'"seq":11', b'"seq":12')
    forged = forged.replace(b'"event_id":"', b'"event_id":"f')
    with db.write() as session:
        session.execute(insert(AuditLeaf).values(seq=SIZE, leaf=forged))
        session.execute(insert(AuditNode).values(level=0, idx=SIZE, hash=merkle.leaf_hash(forged)))
    assert finding_of(audit) == (INSERTED, SIZE)


def test_an_altered_leaf_node_is_named(audit: AuditService, db: Database) -> None:
    with db.write() as session:
        session.execute(
            update(AuditNode).where(AuditNode.level == 0, AuditNode.idx == 6).values(hash=bytes(32))
        )
    assert finding_of(audit) == (ALTERED, 6)


def test_an_altered_interior_node_is_named(audit: AuditService, db: Database) -> None:
    # Level 2, index 1 covers entries 4 to 7.
    with db.write() as session:
        session.execute(
            update(AuditNode).where(AuditNode.level == 2, AuditNode.idx == 1).values(hash=bytes(32))
        )
    report = audit.verify()
    assert report.finding is not None
    assert (report.finding.kind, report.finding.seq) == (ALTERED, 4)
    assert "level 2, index 1" in str(report.finding.error)


def test_a_log_rewritten_with_its_tree_is_caught_by_the_checkpoints(
    audit: AuditService, db: Database
) -> None:
    # Entry 8 rewritten (keeping its seq and event), every node recomputed over it.
    event = json.loads(leaf_of(db, 8))
    event["outcome"] = "denied"
    set_leaf(db, 8, json.dumps(event, sort_keys=True, separators=(",", ":")).encode())
    tree = merkle.MemoryTree()
    for seq in range(SIZE):
        tree.append(merkle.leaf_hash(leaf_of(db, seq)))
    with db.write() as session:
        session.execute(delete(AuditNode))
        session.execute(
            insert(AuditNode),
            [
                {"level": level, "idx": idx, "hash": tree.get(level, idx)}
                for level in range(5)
                for idx in range(SIZE >> level)
            ],
        )
    assert finding_of(audit) == (REWRITTEN, 5)  # after the checkpoint of 5, which holds


def test_an_altered_checkpoint_row_is_caught(audit: AuditService, db: Database) -> None:
    with db.write() as session:
        session.execute(
            update(AuditCheckpoint).where(AuditCheckpoint.size == 5).values(root=bytes(32))
        )
    assert finding_of(audit) == (CHECKPOINT, None)


def test_an_outside_checkpoint_is_checked(
    audit: AuditService, db: Database, record_many: RecordMany
) -> None:
    latest = audit.latest_checkpoint()
    assert latest is not None
    record_many(3)
    report = audit.verify(outside_note=latest.note)
    assert report.clean
    assert report.from_checkpoint == SIZE
    # The database rewritten from entry 2 on, its checkpoints table emptied:
    # only the outside checkpoint still knows.
    with db.write() as session:
        session.execute(delete(AuditCheckpoint))
    event = json.loads(leaf_of(db, 2))
    event["outcome"] = "error"
    set_leaf(db, 2, json.dumps(event, sort_keys=True, separators=(",", ":")).encode())
    tree = merkle.MemoryTree()
    for seq in range(SIZE + 3):
        tree.append(merkle.leaf_hash(leaf_of(db, seq)))
    with db.write() as session:
        session.execute(delete(AuditNode))
        session.execute(
            insert(AuditNode),
            [
                {"level": level, "idx": idx, "hash": tree.get(level, idx)}
                for level in range(5)
                for idx in range((SIZE + 3) >> level)
            ],
        )
    assert audit.verify().clean  # the database alone cannot tell
    report = audit.verify(outside_note=latest.note)
    assert report.finding is not None
    assert report.finding.kind == REWRITTEN


def test_a_checkpoint_of_another_log_is_refused(
    audit: AuditService, db: Database, provider: FileKeyProvider
) -> None:
    size, root = audit.tree_head()
    other_key = Ed25519PrivateKey.generate()
    foreign = sign(Checkpoint("other.example/egide", size, root), "other.example/egide", other_key)
    with pytest.raises(UnknownSigner):
        audit.verify(outside_note=foreign)
    # Signed by this vault's key, but for a log of another name: refused too.
    public = Ed25519PublicKey.from_public_bytes(provider.audit_public_key())
    renamed = sign_with(
        Checkpoint("renamed/egide", size, root), ORIGIN, public, provider.sign_audit
    )
    with pytest.raises(LogTampered, match="not of this log"):
        audit.verify(outside_note=renamed)
