"""Key rotation re-wraps keys, touches no blob, and resumes after an interruption."""

from __future__ import annotations

import hashlib
import os

import pytest
from sqlalchemy import select

from egide.core.db.models import Content, Node, SpaceKey
from egide.services.access.policy import Principal
from egide.services.registry import Services, build_services
from tests.vault_fixtures import SYSTEM


def blob_digests(svc: Services) -> dict[str, str]:
    digests = {}
    for info in svc.blobs.iter_blobs():
        with svc.blobs.open(info.key) as reader:
            digests[info.key] = hashlib.sha256(reader.read_at(0, reader.size)).hexdigest()
    return digests


def populate(svc: Services, alice: Principal) -> dict[str, bytes]:
    files = {}
    svc.nodes.mkdir(alice, "cardio", "Dossier DURAND/Imagerie", parents=True)
    for i in range(7):
        data = os.urandom(5000 + i)
        path = f"Dossier DURAND/Imagerie/coupe {i}.dcm" if i % 2 else f"Dossier DURAND/cr {i}.txt"
        svc.files.write(alice, "cardio", path, [data])
        files[path] = data
    return files


def check_readable(svc: Services, alice: Principal, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        assert b"".join(svc.files.open(alice, "cardio", path).iter_bytes()) == data


def test_master_rotation(svc: Services, alice: Principal) -> None:
    files = populate(svc, alice)
    svc.spaces.create(SYSTEM, "labo")
    before = blob_digests(svc)
    report = svc.rotation.rotate_master(SYSTEM)
    assert report.new_key_id == "m2"
    assert not report.resumed
    assert report.rewrapped == 2
    with svc.db.read() as session:
        assert set(session.scalars(select(SpaceKey.master_key_id))) == {"m2"}
    assert blob_digests(svc) == before
    # A fresh process (empty key cache) reads everything through the new master key.
    fresh = build_services(svc.settings.with_overrides(segment_size=4096))
    try:
        check_readable(fresh, alice, files)
        assert fresh.keys.current_master_id() == "m2"
    finally:
        fresh.close()


def test_master_rotation_resumes_after_interruption(
    svc: Services, alice: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = populate(svc, alice)
    for slug in ("labo", "urgences", "pediatrie"):
        svc.spaces.create(SYSTEM, slug)
    from egide.services.vault import rotation

    monkeypatch.setattr(rotation, "BATCH", 2)
    calls = {"n": 0}
    original = svc.keys.wrap_space_key

    def flaky(key_id: str, key: object) -> tuple[str, bytes]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the operator pressed Ctrl-C mid-way
        return original(key_id, key)  # type: ignore[arg-type]

    monkeypatch.setattr(svc.keys, "wrap_space_key", flaky)
    with pytest.raises(KeyboardInterrupt):
        svc.rotation.rotate_master(SYSTEM)
    with svc.db.read() as session:
        masters = list(session.scalars(select(SpaceKey.master_key_id)))
    assert sorted(masters) == ["m1", "m1", "m2", "m2"]
    report = svc.rotation.rotate_master(SYSTEM)
    assert report.resumed
    assert report.new_key_id == "m2"  # no third master key was made
    with svc.db.read() as session:
        assert set(session.scalars(select(SpaceKey.master_key_id))) == {"m2"}
    check_readable(svc, alice, files)


def test_space_rotation(svc: Services, alice: Principal) -> None:
    files = populate(svc, alice)
    svc.nodes.delete(alice, "cardio", "Dossier DURAND/cr 0.txt")
    del files["Dossier DURAND/cr 0.txt"]
    before = blob_digests(svc)
    report = svc.rotation.rotate_space(SYSTEM, "cardio")
    assert report.new_key_id.endswith("/2")
    with svc.db.read() as session:
        assert set(session.scalars(select(Content.dek_key_id))) == {report.new_key_id}
        keys = {k.id: k for k in session.scalars(select(SpaceKey))}
        space_nodes = session.scalars(select(Node)).all()
        assert {n.name_key_id for n in space_nodes} == {report.new_key_id}
    old = next(k for k in keys.values() if k.id.endswith("/1"))
    assert old.retired_at is not None
    assert old.wrapped == b""  # the old key is destroyed
    assert blob_digests(svc) == before
    check_readable(svc, alice, files)
    # Lookups and uniqueness work under the new key; the trash still restores.
    assert svc.nodes.stat(alice, "cardio", "dossier durand/IMAGERIE").kind == "folder"
    trash = svc.nodes.trash(alice, "cardio")
    svc.nodes.restore(alice, "cardio", trash[0].id)
    assert svc.spaces.get(alice, "cardio").title == "Cardiologie"
    assert svc.maintenance.fsck(SYSTEM).clean


def test_space_rotation_resumes_and_stays_usable_midway(
    svc: Services, alice: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = populate(svc, alice)
    from egide.services.vault import rotation

    monkeypatch.setattr(rotation, "BATCH", 3)
    original = rotation.KeyRotationService._rotate_batch
    calls = {"n": 0}

    def interrupted(self: rotation.KeyRotationService, space_id: str, current: str) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, space_id, current)

    monkeypatch.setattr(rotation.KeyRotationService, "_rotate_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        svc.rotation.rotate_space(SYSTEM, "cardio")
    # Half-rotated: two keys are active; reads, writes and name uniqueness still work.
    check_readable(svc, alice, files)
    svc.files.write(alice, "cardio", "Dossier DURAND/cr 2.txt", [b"updated"])
    files["Dossier DURAND/cr 2.txt"] = b"updated"
    svc.files.write(alice, "cardio", "new during rotation.txt", [b"n"])
    files["new during rotation.txt"] = b"n"
    assert len(svc.nodes.list_folder(alice, "cardio", "Dossier DURAND")) == 5
    monkeypatch.setattr(rotation.KeyRotationService, "_rotate_batch", original)
    report = svc.rotation.rotate_space(SYSTEM, "cardio")
    assert report.resumed
    assert report.new_key_id.endswith("/2")
    check_readable(svc, alice, files)
    assert svc.maintenance.fsck(SYSTEM).clean


def test_a_rotation_finishing_during_an_upload_loses_nothing(
    svc: Services, alice: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The space key changes (and the old one is destroyed) while a body streams."""
    from egide.services.vault.files import FileService

    original = FileService._commit

    def rotate_then_commit(self: FileService, *args: object, **kwargs: object) -> object:
        svc.rotation.rotate_space(SYSTEM, "cardio")
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(FileService, "_commit", rotate_then_commit)
    data = os.urandom(20_000)
    svc.files.write(alice, "cardio", "during-rotation.bin", [data])
    monkeypatch.setattr(FileService, "_commit", original)
    # A fresh process (no cached keys) reads it: the data key was re-wrapped.
    fresh = build_services(svc.settings.with_overrides(segment_size=4096))
    try:
        read = b"".join(fresh.files.open(alice, "cardio", "during-rotation.bin").iter_bytes())
        assert read == data
        assert fresh.maintenance.fsck(SYSTEM).clean
        fresh.rotation.rotate_space(SYSTEM, "cardio")  # a second rotation still works
    finally:
        fresh.close()
