"""The write path and the read path of files."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from egide.core.db.models import Content, Version
from egide.core.errors import Forbidden, NotFound
from egide.services.access.policy import Principal
from egide.services.registry import Services
from egide.services.vault.errors import (
    AlreadyExists,
    NotAFile,
    ParentMissing,
    QuotaExceeded,
    StaleVersion,
)
from tests.vault_fixtures import SYSTEM, MakeUser


def chunks(data: bytes, size: int = 7000) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def read_all(svc: Services, actor: Principal, path: str, version_id: str | None = None) -> bytes:
    return b"".join(svc.files.open(actor, "cardio", path, version_id=version_id).iter_bytes())


def blob_count(svc: Services) -> int:
    return sum(1 for _ in svc.blobs.iter_blobs())


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 100_000])
def test_round_trip(svc: Services, alice: Principal, size: int) -> None:
    data = os.urandom(size)
    version = svc.files.write(alice, "cardio", "/report.pdf", chunks(data))
    assert version.size == size
    assert version.sha256 == hashlib.sha256(data).hexdigest()
    assert read_all(svc, alice, "report.pdf") == data


def test_range_reads(svc: Services, alice: Principal) -> None:
    data = os.urandom(50_000)
    svc.files.write(alice, "cardio", "scan.dcm", [data])
    download = svc.files.open(alice, "cardio", "scan.dcm")
    for start, end in [(0, 1), (4095, 4097), (8192, 8192 + 4096), (49_999, 50_000), (123, None)]:
        assert b"".join(download.iter_bytes(start, end)) == data[start:end]


def test_blob_holds_no_plaintext(svc: Services, alice: Principal) -> None:
    marker = b"DUPONT Jean, ne le 01/02/1960 " * 200
    svc.files.write(alice, "cardio", "cr.txt", [marker])
    for info in svc.blobs.iter_blobs():
        with svc.blobs.open(info.key) as reader:
            raw = reader.read_at(0, reader.size)
        assert b"DUPONT" not in raw
        assert raw.startswith(b"EGS1")


def test_new_versions_and_etags(svc: Services, alice: Principal) -> None:
    v1 = svc.files.write(alice, "cardio", "note.txt", [b"one"])
    v2 = svc.files.write(alice, "cardio", "note.txt", [b"two"], if_match=v1.id)
    assert v1.id != v2.id
    assert svc.nodes.stat(alice, "cardio", "note.txt").version_id == v2.id
    assert read_all(svc, alice, "note.txt") == b"two"
    assert read_all(svc, alice, "note.txt", version_id=v1.id) == b"one"
    history = svc.files.versions(alice, "cardio", "note.txt")
    assert [v.id for v in history] == [v2.id, v1.id]
    assert [v.is_current for v in history] == [True, False]


def test_stale_version_is_refused_and_nothing_kept(svc: Services, alice: Principal) -> None:
    v1 = svc.files.write(alice, "cardio", "note.txt", [b"one"])
    svc.files.write(alice, "cardio", "note.txt", [b"two"])
    before = blob_count(svc)
    with pytest.raises(StaleVersion, match="changed by someone else"):
        svc.files.write(alice, "cardio", "note.txt", [b"mine"], if_match=v1.id)
    assert blob_count(svc) == before
    assert read_all(svc, alice, "note.txt") == b"two"


def test_if_none_match(svc: Services, alice: Principal) -> None:
    svc.files.write(alice, "cardio", "a.txt", [b"a"], if_none_match=True)
    with pytest.raises(AlreadyExists):
        svc.files.write(alice, "cardio", "A.TXT", [b"b"], if_none_match=True)
    assert read_all(svc, alice, "a.txt") == b"a"


def test_missing_parent_and_folder_name(svc: Services, alice: Principal) -> None:
    with pytest.raises(ParentMissing, match="/dossiers"):
        svc.files.write(alice, "cardio", "dossiers/patient/cr.txt", [b"x"])
    svc.nodes.mkdir(alice, "cardio", "dossiers")
    with pytest.raises(NotAFile):
        svc.files.write(alice, "cardio", "dossiers", [b"x"])
    assert blob_count(svc) == 0


def test_roles_decide_writes_and_reads(
    svc: Services, alice: Principal, make_user: MakeUser
) -> None:
    svc.files.write(alice, "cardio", "cr.txt", [b"x"])
    bob = make_user("bob")
    with pytest.raises(NotFound) as hidden:
        svc.files.open(bob, "cardio", "cr.txt")
    with pytest.raises(NotFound) as missing:
        svc.files.open(bob, "cardio", "absent.txt")
    assert str(hidden.value) == str(missing.value)  # existence never leaks
    with pytest.raises(NotFound):
        svc.files.write(bob, "cardio", "new.txt", [b"y"])
    svc.spaces.grant(SYSTEM, "cardio", "", "user:bob", "reader")
    assert read_all(svc, bob, "cr.txt") == b"x"
    with pytest.raises(Forbidden):
        svc.files.write(bob, "cardio", "cr.txt", [b"y"])
    assert blob_count(svc) == 1


def test_admins_have_no_content_access_without_a_role(
    svc: Services, alice: Principal, make_user: MakeUser
) -> None:
    from egide.services.access.policy import GlobalRole

    svc.files.write(alice, "cardio", "cr.txt", [b"x"])
    root = make_user("root-admin", GlobalRole.ADMIN)
    with pytest.raises(NotFound):
        svc.files.open(root, "cardio", "cr.txt")
    with pytest.raises(NotFound):
        svc.files.open(SYSTEM, "cardio", "cr.txt")


def test_a_failing_source_leaves_nothing(svc: Services, alice: Principal) -> None:
    def broken() -> Iterator[bytes]:
        yield os.urandom(50_000)
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        svc.files.write(alice, "cardio", "big.bin", broken())
    assert blob_count(svc) == 0
    assert svc.blobs.count_partials() == 0
    assert svc.nodes.list_folder(alice, "cardio") == []


def test_quota(svc: Services, alice: Principal) -> None:
    svc.spaces.set_quota(SYSTEM, "cardio", quota_bytes=10_000)
    svc.files.write(alice, "cardio", "a.bin", [os.urandom(6_000)])
    with pytest.raises(QuotaExceeded, match="quota"):
        svc.files.write(alice, "cardio", "b.bin", chunks(os.urandom(6_000), 1000))
    with pytest.raises(QuotaExceeded):
        svc.files.write(alice, "cardio", "b.bin", [os.urandom(6_000)], size_hint=6_000)
    assert blob_count(svc) == 1
    # Replacing a file counts only the difference; old versions do not count.
    svc.files.write(alice, "cardio", "a.bin", [os.urandom(9_000)])
    assert svc.spaces.get(alice, "cardio").used_bytes == 9_000
    svc.nodes.delete(alice, "cardio", "a.bin")
    assert svc.spaces.get(alice, "cardio").used_bytes == 0
    svc.files.write(alice, "cardio", "c.bin", [os.urandom(10_000)])


def test_concurrent_writers_cannot_exceed_the_quota(svc: Services, alice: Principal) -> None:
    svc.spaces.set_quota(SYSTEM, "cardio", quota_bytes=50_000)
    errors: list[Exception] = []

    def upload(i: int) -> None:
        try:
            svc.files.write(alice, "cardio", f"f{i}.bin", [os.urandom(20_000)])
        except QuotaExceeded as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    used = svc.spaces.get(alice, "cardio").used_bytes
    assert used <= 50_000
    assert len(errors) == 6 - used // 20_000
    assert blob_count(svc) == used // 20_000


def test_concurrent_conditional_writes_one_wins(svc: Services, alice: Principal) -> None:
    base = svc.files.write(alice, "cardio", "shared.txt", [b"v1"])
    outcomes: list[str] = []

    def edit(i: int) -> None:
        try:
            svc.files.write(alice, "cardio", "shared.txt", [b"edit %d" % i], if_match=base.id)
            outcomes.append("ok")
        except StaleVersion:
            outcomes.append("stale")

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "stale", "stale", "stale"]
    assert len(svc.files.versions(alice, "cardio", "shared.txt")) == 2


def test_concurrent_creation_of_one_name_makes_versions(svc: Services, alice: Principal) -> None:
    threads = [
        threading.Thread(target=svc.files.write, args=(alice, "cardio", "same.txt", [b"%d" % i]))
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(svc.nodes.list_folder(alice, "cardio")) == 1
    assert len(svc.files.versions(alice, "cardio", "same.txt")) == 4


def test_restore_version_shares_content(svc: Services, alice: Principal) -> None:
    v1 = svc.files.write(alice, "cardio", "cr.txt", [b"first"])
    svc.files.write(alice, "cardio", "cr.txt", [b"second text"])
    blobs = blob_count(svc)
    restored = svc.files.restore_version(alice, "cardio", "cr.txt", v1.id)
    assert restored.restored_from == v1.id
    assert restored.id not in {v1.id}
    assert blob_count(svc) == blobs  # no byte copied
    assert read_all(svc, alice, "cr.txt") == b"first"
    assert svc.spaces.get(alice, "cardio").used_bytes == len(b"first")
    with svc.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Content)) == 2
        assert session.scalar(select(func.count()).select_from(Version)) == 3


def test_unknown_version_is_not_found(svc: Services, alice: Principal) -> None:
    svc.files.write(alice, "cardio", "a.txt", [b"a"])
    other = svc.files.write(alice, "cardio", "b.txt", [b"b"])
    with pytest.raises(NotFound):
        svc.files.open(alice, "cardio", "a.txt", version_id=other.id)
    with pytest.raises(NotFound):
        svc.files.restore_version(alice, "cardio", "a.txt", "no-such-version")
