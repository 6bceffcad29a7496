"""Resumable uploads at the service level: parts sealed, completion by FileService.write."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.models import Space, Upload, UploadPart
from egide.core.errors import NotFound
from egide.services.access.errors import ActionForbidden
from egide.services.access.policy import Principal
from egide.services.registry import Services, build_services
from egide.services.uploads.errors import (
    BeyondLength,
    ChecksumMismatch,
    InvalidChecksum,
    OffsetMismatch,
    UploadExpired,
)
from egide.services.uploads.service import Checksum
from egide.services.vault.errors import ParentMissing, QuotaExceeded
from tests.vault_fixtures import SYSTEM, MakeUser

MARKER = b"PLAINTEXT-MARKER-"


def data(size: int) -> bytes:
    """Random bytes with a recognisable marker every 1 KiB."""
    raw = bytearray(os.urandom(size))
    for pos in range(0, size - len(MARKER), 1024):
        raw[pos : pos + len(MARKER)] = MARKER
    return bytes(raw)


def blob_files(svc: Services) -> list[Path]:
    return [svc.blobs.path_for(info.key) for info in svc.blobs.iter_blobs()]


def parts(svc: Services, upload_id: str) -> list[UploadPart]:
    with svc.db.read() as session:
        return list(session.query(UploadPart).filter_by(upload_id=upload_id))


def read(svc: Services, actor: Principal, path: str) -> bytes:
    return b"".join(svc.files.open(actor, "cardio", path).iter_bytes())


def sha(algorithm: str, body: bytes) -> Checksum:
    digest = hashlib.new(algorithm, body).digest()
    return Checksum.parse(f"{algorithm} {base64.b64encode(digest).decode()}")


def test_upload_in_parts_completes_through_the_write_path(svc: Services, alice: Principal) -> None:
    body = data(50_000)
    info = svc.uploads.create(alice, "cardio", "scan.bin", len(body))
    assert info.offset == 0
    assert not info.completed
    offset = 0
    for size in (10_000, 15_000):
        info = svc.uploads.append(alice, info.id, offset, [body[offset : offset + size]])
        offset += size
        assert info.offset == offset
    assert len(parts(svc, info.id)) == 2
    stored = b"".join(p.read_bytes() for p in blob_files(svc))
    assert MARKER not in stored, "an upload part holds plaintext"
    info = svc.uploads.append(alice, info.id, offset, [body[offset:]])
    assert info.completed
    assert info.version is not None
    assert info.version.sha256 == hashlib.sha256(body).hexdigest()
    assert read(svc, alice, "scan.bin") == body
    assert len(svc.files.versions(alice, "cardio", "scan.bin")) == 1
    assert parts(svc, info.id) == []
    assert len(blob_files(svc)) == 1, "part blobs are deleted once the file is written"
    assert svc.uploads.status(alice, info.id).offset == len(body)


def test_creation_with_upload_and_empty_file(svc: Services, alice: Principal) -> None:
    body = data(3000)
    info = svc.uploads.create(alice, "cardio", "whole.bin", len(body), body=[body])
    assert info.completed
    assert read(svc, alice, "whole.bin") == body
    empty = svc.uploads.create(alice, "cardio", "empty.bin", 0)
    assert empty.completed
    assert read(svc, alice, "empty.bin") == b""


def test_a_short_body_is_kept_and_the_upload_resumes(svc: Services, alice: Principal) -> None:
    body = data(20_000)
    info = svc.uploads.create(alice, "cardio", "cut.bin", len(body), body=[body[:7000]])
    assert info.offset == 7000
    info = svc.uploads.append(alice, info.id, 7000, [body[7000:]])
    assert info.completed
    assert read(svc, alice, "cut.bin") == body


def test_wrong_offset_conflicts(svc: Services, alice: Principal) -> None:
    info = svc.uploads.create(alice, "cardio", "a.bin", 100)
    svc.uploads.append(alice, info.id, 0, [b"x" * 10])
    with pytest.raises(OffsetMismatch, match="10 bytes"):
        svc.uploads.append(alice, info.id, 0, [b"y" * 10])
    assert svc.uploads.status(alice, info.id).offset == 10
    assert len(parts(svc, info.id)) == 1
    assert len(blob_files(svc)) == 1


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_checksums(svc: Services, alice: Principal, algorithm: str) -> None:
    info = svc.uploads.create(alice, "cardio", "c.bin", 100)
    with pytest.raises(ChecksumMismatch):
        svc.uploads.append(alice, info.id, 0, [b"a" * 50], checksum=sha(algorithm, b"b" * 50))
    assert svc.uploads.status(alice, info.id).offset == 0
    assert blob_files(svc) == []
    info = svc.uploads.append(alice, info.id, 0, [b"a" * 50], checksum=sha(algorithm, b"a" * 50))
    assert info.offset == 50


def test_bad_checksum_headers() -> None:
    with pytest.raises(InvalidChecksum, match="md5"):
        Checksum.parse("md5 AAAA")
    with pytest.raises(InvalidChecksum, match="base64"):
        Checksum.parse("sha256 not-base64!")


def test_a_body_beyond_the_length_is_refused(svc: Services, alice: Principal) -> None:
    info = svc.uploads.create(alice, "cardio", "b.bin", 100)
    with pytest.raises(BeyondLength):
        svc.uploads.append(alice, info.id, 0, [b"z" * 60, b"z" * 60])
    with pytest.raises(BeyondLength):
        svc.uploads.append(alice, info.id, 0, [b"z"], size_hint=101)
    assert svc.uploads.status(alice, info.id).offset == 0
    assert blob_files(svc) == []


def test_termination_deletes_the_parts(svc: Services, alice: Principal) -> None:
    info = svc.uploads.create(alice, "cardio", "t.bin", 100)
    svc.uploads.append(alice, info.id, 0, [b"t" * 40])
    assert len(blob_files(svc)) == 1
    svc.uploads.terminate(alice, info.id)
    assert blob_files(svc) == []
    with pytest.raises(NotFound):
        svc.uploads.status(alice, info.id)


def test_only_the_owner_sees_an_upload(
    svc: Services, alice: Principal, make_user: MakeUser
) -> None:
    bob = make_user("bob")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:bob", "contributor")
    info = svc.uploads.create(alice, "cardio", "mine.bin", 100)
    for call in (
        lambda: svc.uploads.status(bob, info.id),
        lambda: svc.uploads.append(bob, info.id, 0, [b"b"]),
        lambda: svc.uploads.terminate(bob, info.id),
    ):
        with pytest.raises(NotFound) as caught:
            call()
        assert not isinstance(caught.value, UploadExpired)
    with pytest.raises(ActionForbidden):
        svc.uploads.create(SYSTEM, "cardio", "system.bin", 1)
    assert svc.uploads.status(alice, info.id).offset == 0


def test_expired_uploads_are_refused_and_collected(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    old = svc.uploads.create(alice, "cardio", "old.bin", 100)
    svc.uploads.append(alice, old.id, 0, [b"o" * 30])
    clock.advance(hours=20)
    live = svc.uploads.create(alice, "cardio", "live.bin", 100)
    svc.uploads.append(alice, live.id, 0, [b"l" * 30])
    clock.advance(hours=5)
    with pytest.raises(UploadExpired):
        svc.uploads.append(alice, old.id, 30, [b"o"])
    with pytest.raises(UploadExpired):
        svc.uploads.status(alice, old.id)
    report = svc.maintenance.gc(SYSTEM, grace=dt.timedelta(0))
    assert report.uploads_expired == 1
    (kept,) = blob_files(svc)
    (part,) = parts(svc, live.id)
    assert svc.blobs.path_for(part.blob_key) == kept, "gc deleted a live upload's part"
    with svc.db.read() as session:
        assert session.get(Upload, old.id) is None
    assert svc.uploads.append(alice, live.id, 30, [b"l" * 70]).completed


def test_a_completion_over_quota_keeps_the_parts(svc: Services, alice: Principal) -> None:
    info = svc.uploads.create(alice, "cardio", "big.bin", 5000)
    svc.uploads.append(alice, info.id, 0, [b"q" * 3000])
    svc.spaces.set_quota(SYSTEM, "cardio", quota_bytes=1000)
    with pytest.raises(QuotaExceeded, match="kept"):
        svc.uploads.append(alice, info.id, 3000, [b"q" * 2000])
    assert svc.uploads.status(alice, info.id).offset == 5000
    assert len(parts(svc, info.id)) == 2
    svc.spaces.set_quota(SYSTEM, "cardio", quota_bytes=None)
    # Completing again: an empty body at the final offset.
    done = svc.uploads.append(alice, info.id, 5000, [])
    assert done.completed
    assert read(svc, alice, "big.bin") == b"q" * 5000


def test_a_forbidden_or_hidden_target_fails_at_creation(
    svc: Services, alice: Principal, make_user: MakeUser
) -> None:
    carol = make_user("carol")
    svc.spaces.create(SYSTEM, "onco", title="Oncologie")
    svc.spaces.grant(SYSTEM, "onco", "", "user:carol", "reader")
    with pytest.raises(NotFound):
        svc.uploads.create(alice, "onco", "x.bin", 10)
    with pytest.raises(ActionForbidden):
        svc.uploads.create(carol, "onco", "x.bin", 10)
    with pytest.raises(ParentMissing):
        svc.uploads.create(alice, "cardio", "no/such/folder.bin", 10)
    svc.spaces.set_quota(SYSTEM, "cardio", quota_bytes=100)
    with pytest.raises(QuotaExceeded):
        svc.uploads.create(alice, "cardio", "huge.bin", 101)
    assert blob_files(svc) == []
    with svc.db.read() as session:
        assert session.query(Upload).count() == 0


def test_the_target_path_is_sealed(svc: Services, alice: Principal) -> None:
    svc.uploads.create(alice, "cardio", "dossier-dupont.pdf", 10)
    with svc.db.read() as session:
        (upload,) = session.query(Upload).all()
        assert b"dupont" not in upload.target_enc


def test_an_upload_in_progress_survives_space_key_rotations(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    """Parts and the sealed target are re-wrapped, including a part streaming during one."""
    body = data(30_000)
    info = svc.uploads.create(alice, "cardio", "irm.bin", len(body))
    svc.uploads.append(alice, info.id, 0, [body[:10_000]])
    svc.rotation.rotate_space(SYSTEM, "cardio")

    def rotating_body() -> Iterator[bytes]:
        yield body[10_000:15_000]
        svc.rotation.rotate_space(SYSTEM, "cardio")  # finishes while this part streams
        yield body[15_000:20_000]

    svc.uploads.append(alice, info.id, 10_000, rotating_body())
    with svc.db.read() as session:
        space = session.scalars(select(Space).filter_by(slug="cardio")).one()
        upload = session.get(Upload, info.id)
        assert upload is not None
        assert upload.target_key_id == space.current_key_id
        assert {p.dek_key_id for p in parts(svc, info.id)} == {space.current_key_id}
    # A fresh process (no cached keys) completes it: nothing names a retired key.
    fresh = build_services(svc.settings, clock=clock)
    try:
        done = fresh.uploads.append(alice, info.id, 20_000, [body[20_000:]])
        assert done.completed
        assert b"".join(fresh.files.open(alice, "cardio", "irm.bin").iter_bytes()) == body
        assert fresh.maintenance.fsck(SYSTEM).clean
    finally:
        fresh.close()
