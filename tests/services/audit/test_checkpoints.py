"""Signed checkpoints: the audit key in the key provider, thresholds, consistency, publication."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update

from egide.core.audit import merkle
from egide.core.audit.checkpoint import verify_note
from egide.core.audit.errors import AuditIntegrityError, ProofRejected
from egide.core.clock import ManualClock
from egide.core.crypto import keyfile
from egide.core.crypto.errors import KeyUnavailable
from egide.core.crypto.provider import FileKeyProvider
from egide.core.db import Database
from egide.core.db.models import AuditCheckpoint, AuditLeaf, AuditNode
from egide.services.audit import AuditService
from egide.services.audit.checkpoints import CheckpointDirUnavailable
from egide.services.audit.service import NoAuditSigner
from tests.services.audit.conftest import RecordMany
from tests.services.audit.helpers import root_of_stored_leaves
from tests.services.audit.signing import ORIGIN, make_audit, new_provider


@pytest.fixture
def provider(tmp_path: Path) -> FileKeyProvider:
    return new_provider(tmp_path)


# -- the audit key in the key provider ------------------------------------------------


def test_a_key_file_without_audit_key_loads_and_gets_one_on_first_use(
    tmp_path: Path, provider: FileKeyProvider
) -> None:
    path = tmp_path / "keys" / "egide.keys"
    before = json.loads(path.read_text())
    assert "audit_signing_key" not in before  # as made before checkpoints existed
    reopened = FileKeyProvider.open(path)
    public = reopened.audit_public_key()  # lazily created, then kept
    after = json.loads(path.read_text())
    assert after["master_keys"] == before["master_keys"]  # beside, not mixed with
    assert set(after["audit_signing_key"]) == {"seed", "created"}
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert FileKeyProvider.open(path).audit_public_key() == public
    assert reopened.ensure_audit_key() is False
    # Rotating the master key keeps the audit key.
    reopened.add_master_key(tmp_path / "escrow.json")
    assert FileKeyProvider.open(path).audit_public_key() == public


def test_an_unwritable_key_file_is_a_clear_error(
    tmp_path: Path, provider: FileKeyProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    # As a read-only key directory would (the tests may run as root, which chmod cannot stop).
    monkeypatch.setattr("egide.core.crypto._files.write_atomic", refuse)
    with pytest.raises(KeyUnavailable, match="holds no audit signing key"):
        FileKeyProvider.open(tmp_path / "keys" / "egide.keys").audit_public_key()


def test_the_private_key_never_leaves_the_provider(provider: FileKeyProvider) -> None:
    signature = provider.sign_audit(b"hello")
    assert len(signature) == 64
    ring = keyfile.load_key_file(provider._key_file.read_bytes(), provider._key_file)
    assert ring.audit_key is not None
    seed = ring.audit_key.seed.reveal()
    assert seed.hex() not in repr(provider)
    assert seed.hex() not in repr(ring.audit_key)


def test_initialise_creates_the_audit_key(svc: object) -> None:
    from egide.services.registry import Services

    assert isinstance(svc, Services)
    document = json.loads(svc.settings.resolved_key_file.read_text())
    assert "audit_signing_key" in document
    assert svc.audit.verifier_key().startswith(svc.settings.resolved_audit_origin + "+")


# -- thresholds -----------------------------------------------------------------------


def test_checkpoints_follow_the_entry_and_time_thresholds(
    db: Database, clock: ManualClock, provider: FileKeyProvider, record_many: RecordMany
) -> None:
    audit = make_audit(db, clock, provider, entries=10, seconds=60)
    assert audit.checkpoint() is None  # empty log: nothing to sign
    record_many(3)
    first = audit.checkpoint()
    assert first is not None
    assert first.size == 3  # the first as soon as there is something
    record_many(9)
    assert audit.checkpoint() is None  # grew by 9 < 10, and no time passed
    record_many(1)
    second = audit.checkpoint()
    assert second is not None
    assert second.size == 13  # grew by 10
    record_many(1)
    clock.advance(seconds=59)
    assert audit.checkpoint() is None
    clock.advance(seconds=1)
    third = audit.checkpoint()
    assert third is not None
    assert third.size == 14  # 60 s passed and it grew
    clock.advance(seconds=600)
    assert audit.checkpoint() is None  # time alone, without growth, signs nothing
    # Forced: signed now whatever the thresholds; no growth returns the last one.
    record_many(1)
    forced = audit.checkpoint(force=True)
    assert forced is not None
    assert forced.size == 15
    assert audit.checkpoint(force=True) == forced
    assert audit.latest_checkpoint() == forced
    with db.read() as session:
        sizes = list(session.scalars(select(AuditCheckpoint.size).order_by(AuditCheckpoint.size)))
    assert sizes == [3, 13, 14, 15]


def test_the_note_verifies_with_the_verifier_key(
    db: Database, clock: ManualClock, provider: FileKeyProvider, record_many: RecordMany
) -> None:
    audit = make_audit(db, clock, provider)
    record_many(7)
    signed = audit.checkpoint(force=True)
    assert signed is not None
    vkey = audit.verifier_key()
    assert vkey.startswith(ORIGIN + "+")
    checkpoint = verify_note(signed.note, vkey)
    assert (checkpoint.origin, checkpoint.size) == (ORIGIN, 7)
    assert checkpoint.root == signed.root == root_of_stored_leaves(db)


def test_a_forced_checkpoint_of_the_empty_log(
    db: Database, clock: ManualClock, provider: FileKeyProvider
) -> None:
    signed = make_audit(db, clock, provider).checkpoint(force=True)
    assert signed is not None
    assert (signed.size, signed.root) == (0, merkle.EMPTY_ROOT)


def test_no_signer_is_a_clear_error(db: Database, clock: ManualClock) -> None:
    with pytest.raises(NoAuditSigner):
        AuditService(db, clock).checkpoint(force=True)


# -- consistency before signing -------------------------------------------------------


def test_no_checkpoint_is_signed_over_a_rewritten_log(
    db: Database, clock: ManualClock, provider: FileKeyProvider, record_many: RecordMany
) -> None:
    audit = make_audit(db, clock, provider)
    record_many(5)
    assert audit.checkpoint(force=True) is not None
    # Someone rewrites entry 2 and recomputes every stored node over it.
    with db.write() as session:
        session.execute(update(AuditLeaf).where(AuditLeaf.seq == 2).values(leaf=b'{"forged":1}'))
        session.execute(delete(AuditNode))
        tree = merkle.MemoryTree()
        for seq in range(5):
            leaf = session.scalar(select(AuditLeaf.leaf).where(AuditLeaf.seq == seq))
            assert leaf is not None
            tree.append(merkle.leaf_hash(bytes(leaf)))
        rows = [
            {"level": level, "idx": idx, "hash": tree.get(level, idx)}
            for level in range(4)
            for idx in range(5 >> level)
        ]
        session.execute(insert(AuditNode), rows)
    record_many(1)
    with pytest.raises(ProofRejected):
        audit.checkpoint(force=True)
    assert audit.latest_checkpoint() is not None
    assert audit.latest_checkpoint().size == 5  # type: ignore[union-attr]


def test_a_log_shorter_than_its_last_checkpoint_is_refused(
    db: Database, clock: ManualClock, provider: FileKeyProvider, record_many: RecordMany
) -> None:
    audit = make_audit(db, clock, provider)
    record_many(4)
    assert audit.checkpoint(force=True) is not None
    with db.write() as session:
        session.execute(delete(AuditNode))
    with pytest.raises(AuditIntegrityError, match="fewer than the 4"):
        audit.checkpoint(force=True)


def test_an_altered_checkpoint_row_stops_signing(
    db: Database, clock: ManualClock, provider: FileKeyProvider, record_many: RecordMany
) -> None:
    audit = make_audit(db, clock, provider)
    record_many(3)
    assert audit.checkpoint(force=True) is not None
    with db.write() as session:
        session.execute(update(AuditCheckpoint).values(root=bytes(32)))
    record_many(1)
    with pytest.raises(AuditIntegrityError, match="checkpoints table was altered"):
        audit.checkpoint(force=True)


# -- the external directory -----------------------------------------------------------


def test_each_checkpoint_is_written_once_to_the_directory(
    tmp_path: Path,
    db: Database,
    clock: ManualClock,
    provider: FileKeyProvider,
    record_many: RecordMany,
) -> None:
    directory = tmp_path / "worm"
    directory.mkdir()
    audit = make_audit(db, clock, provider, directory=directory)
    record_many(2)
    first = audit.checkpoint(force=True)
    record_many(1)
    second = audit.checkpoint(force=True)
    assert first is not None
    assert second is not None
    assert sorted(p.name for p in directory.iterdir()) == ["2.txt", "3.txt"]
    assert (directory / "3.txt").read_text() == second.note


def test_an_existing_different_file_is_never_overwritten(
    tmp_path: Path,
    db: Database,
    clock: ManualClock,
    provider: FileKeyProvider,
    record_many: RecordMany,
) -> None:
    directory = tmp_path / "worm"
    directory.mkdir()
    planted = directory / "2.txt"
    planted.write_text("another log's checkpoint\n")
    audit = make_audit(db, clock, provider, directory=directory)
    record_many(2)
    with pytest.raises(AuditIntegrityError, match="different checkpoint"):
        audit.checkpoint(force=True)
    assert planted.read_text() == "another log's checkpoint\n"
    assert audit.latest_checkpoint() is None  # nothing stored either


def test_the_same_note_already_published_is_accepted(
    tmp_path: Path,
    db: Database,
    clock: ManualClock,
    provider: FileKeyProvider,
    record_many: RecordMany,
) -> None:
    # A crash after publication but before the commit: the retry signs the same note.
    directory = tmp_path / "worm"
    directory.mkdir()
    record_many(2)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    note = make_audit(db, clock, provider, directory=scratch).checkpoint(force=True)
    assert note is not None
    with db.write() as session:
        session.execute(delete(AuditCheckpoint))
    (directory / "2.txt").write_text(note.note)
    again = make_audit(db, clock, provider, directory=directory).checkpoint(force=True)
    assert again is not None
    assert again.note == note.note


def test_an_unwritable_directory_signs_nothing(
    tmp_path: Path,
    db: Database,
    clock: ManualClock,
    provider: FileKeyProvider,
    record_many: RecordMany,
) -> None:
    audit = make_audit(db, clock, provider, directory=tmp_path / "not-mounted")
    record_many(1)
    with pytest.raises(CheckpointDirUnavailable):
        audit.checkpoint(force=True)
    assert audit.latest_checkpoint() is None
    assert not (tmp_path / "not-mounted").exists()
