"""The local blob store: publication is all-or-nothing, keys are never reused."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from egide.core.blobstore import BlobExists, BlobNotFound, BlobStoreUnavailable, LocalBlobStore
from egide.core.blobstore.base import check_key


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    blobs = LocalBlobStore(tmp_path / "blobs")
    blobs.initialise()
    return blobs


def _put(store: LocalBlobStore, data: bytes) -> str:
    key = store.new_key()
    with store.create(key) as writer:
        writer.write(data)
        writer.commit()
    return key


def test_round_trip_and_positional_reads(store: LocalBlobStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    key = _put(store, data)
    assert store.exists(key)
    assert store.stat(key).size == len(data)
    with store.open(key) as reader:
        assert reader.size == len(data)
        assert reader.read_at(0, len(data)) == data
        assert reader.read_at(1_000_000, 10) == data[1_000_000:1_000_010]
        # Past the end a read is short, never padded.
        assert reader.read_at(len(data) - 5, 100) == data[-5:]
        assert reader.read_at(len(data) + 10, 100) == b""


def test_keys_are_fresh_sharded_uuids(store: LocalBlobStore) -> None:
    keys = {store.new_key() for _ in range(1000)}
    assert len(keys) == 1000
    for key in keys:
        assert check_key(key) == key
        shard, name = key.split("/")
        assert name.startswith(shard)


def test_nothing_is_visible_before_commit(store: LocalBlobStore) -> None:
    key = store.new_key()
    writer = store.create(key)
    writer.write(b"x" * 100_000)
    assert not store.exists(key)
    assert list(store.iter_blobs()) == []
    assert store.count_partials() == 1
    writer.commit()
    assert store.exists(key)
    assert store.count_partials() == 0


def test_abort_and_exception_leave_nothing(store: LocalBlobStore) -> None:
    key = store.new_key()

    def interrupted_upload() -> None:
        with store.create(key) as writer:
            writer.write(b"partial")
            raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        interrupted_upload()
    assert not store.exists(key)
    assert store.count_partials() == 0
    assert list(store.iter_blobs()) == []


def test_a_key_is_never_overwritten(store: LocalBlobStore) -> None:
    key = _put(store, b"first")
    with pytest.raises(BlobExists):
        store.create(key)
    # Even a writer opened before the first commit cannot replace it.
    other = store.new_key()
    w1, w2 = store.create(other), store.create(other)
    w1.write(b"one")
    w2.write(b"two")
    w1.commit()
    with pytest.raises(BlobExists):
        w2.commit()
    with store.open(other) as reader:
        assert reader.read_at(0, 10) == b"one"
    assert store.count_partials() == 0


def test_keys_cannot_escape_the_store(store: LocalBlobStore) -> None:
    for bad in ("../etc/passwd", "ab/../../x", "/etc/passwd", "zz/not-a-uuid", "ab/" + "a" * 36):
        with pytest.raises(ValueError, match="blob key"):
            store.path_for(bad)


def test_delete_and_missing(store: LocalBlobStore) -> None:
    key = _put(store, b"data")
    assert store.delete(key) is True
    assert store.delete(key) is False
    with pytest.raises(BlobNotFound):
        store.open(key)
    with pytest.raises(BlobNotFound):
        store.stat(key)


def test_iter_blobs_lists_committed_blobs_only(store: LocalBlobStore) -> None:
    keys = {_put(store, os.urandom(10)) for _ in range(20)}
    pending = store.create(store.new_key())
    pending.write(b"not yet")
    assert {info.key for info in store.iter_blobs()} == keys
    pending.abort()


def test_remove_partials_respects_age(store: LocalBlobStore) -> None:
    writer = store.create(store.new_key())
    writer.write(b"left behind by a crash")
    now = dt.datetime.now(dt.UTC)
    assert store.remove_partials(now - dt.timedelta(hours=1)) == 0
    assert store.count_partials() == 1
    assert store.remove_partials(now + dt.timedelta(seconds=1)) == 1
    assert store.count_partials() == 0
    writer.abort()  # closes the handle the "crashed" writer still held


def test_unavailable_store_says_what_to_do(tmp_path: Path) -> None:
    missing = LocalBlobStore(tmp_path / "nowhere")
    with pytest.raises(BlobStoreUnavailable, match="egide init"):
        missing.check()
    with pytest.raises(BlobStoreUnavailable, match="missing"):
        missing.create(missing.new_key())


def test_store_whose_partial_dir_is_not_a_directory_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    root.mkdir()
    (root / ".partial").write_bytes(b"not a directory")
    with pytest.raises(BlobStoreUnavailable, match="not writable"):
        LocalBlobStore(root).check()
