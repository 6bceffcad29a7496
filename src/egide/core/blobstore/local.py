"""Blobs in a local directory: `<root>/<shard>/<uuid>`, partial writes in `<root>/.partial/`.

Publication protocol (the blob is either complete and durable under its key,
or absent): write to a temporary file in `.partial` on the same file system,
fsync it, hard-link it to its final name (`link` fails if the name exists,
so a key is never overwritten), fsync the shard directory, then unlink the
temporary name. A crash leaves at most a file in `.partial`, which
`remove_partials` deletes after a grace period.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

from egide.core.blobstore.base import (
    BlobExists,
    BlobInfo,
    BlobNotFound,
    BlobStoreUnavailable,
    check_key,
    make_key,
)

PARTIAL_DIR = ".partial"
_WRITE_BUFFER = 1 << 20
_KEY_IN_USE = "A stored blob already uses this key; nothing was overwritten."


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mtime(stat: os.stat_result) -> dt.datetime:
    return dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)


class LocalBlobWriter:
    def __init__(self, store: LocalBlobStore, key: str) -> None:
        self.key = key
        self._store = store
        self._final = store.path_for(key)
        self._partial = store.partial_dir / f"{secrets.token_hex(16)}.part"
        self._file = self._partial.open("xb", buffering=_WRITE_BUFFER)
        self._size = 0
        self._done = False

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes) -> None:
        if self._done:
            raise RuntimeError("blob writer is closed")
        self._file.write(data)
        self._size += len(data)

    def commit(self) -> int:
        if self._done:
            raise RuntimeError("blob writer is closed")
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            shard = self._final.parent
            if not shard.is_dir():
                shard.mkdir(mode=0o700, exist_ok=True)
                _fsync_dir(shard.parent)
            try:
                os.link(self._partial, self._final)
            except FileExistsError as exc:
                raise BlobExists(_KEY_IN_USE) from exc
            _fsync_dir(shard)
        except BaseException:
            self.abort()
            raise
        self._partial.unlink()
        self._done = True
        return self._size

    def abort(self) -> None:
        self._done = True
        if not self._file.closed:
            self._file.close()
        self._partial.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            self.abort()


class LocalBlobReader:
    def __init__(self, key: str, path: Path) -> None:
        self.key = key
        try:
            self._fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError as exc:
            raise BlobNotFound("The stored content is missing from the blob store.") from exc
        self._size = os.fstat(self._fd).st_size

    @property
    def size(self) -> int:
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        parts: list[bytes] = []
        while length > 0:
            chunk = os.pread(self._fd, length, offset)
            if not chunk:
                break
            parts.append(chunk)
            offset += len(chunk)
            length -= len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self.partial_dir = self.root / PARTIAL_DIR

    def initialise(self) -> None:
        """Create the directories (idempotent)."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.partial_dir.mkdir(mode=0o700, exist_ok=True)

    def path_for(self, key: str) -> Path:
        check_key(key)
        path = self.root / key
        # Containment (SecureDrop's `verify`): the key pattern already forbids
        # separators and dots, this guards against a future pattern change.
        if os.path.commonpath([os.path.realpath(path), os.path.realpath(self.root)]) != str(
            os.path.realpath(self.root)
        ):
            raise ValueError("blob key escapes the store")
        return path

    def new_key(self) -> str:
        return make_key()

    def create(self, key: str) -> LocalBlobWriter:
        if self.path_for(key).exists():
            raise BlobExists(_KEY_IN_USE)
        try:
            return LocalBlobWriter(self, key)
        except FileNotFoundError as exc:
            raise BlobStoreUnavailable(
                "The blob directory {path} is missing. Check EGIDE_BLOB_DIR or run `egide init`.",
                path=str(self.root),
            ) from exc
        except PermissionError as exc:
            raise BlobStoreUnavailable(
                "The blob directory {path} cannot be written. Check its owner and permissions.",
                path=str(self.root),
            ) from exc
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise BlobStoreUnavailable(
                    "The blob directory {path} is full. Free space or add storage.",
                    path=str(self.root),
                ) from exc
            raise

    def open(self, key: str) -> LocalBlobReader:
        return LocalBlobReader(key, self.path_for(key))

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def stat(self, key: str) -> BlobInfo:
        try:
            st = self.path_for(key).stat()
        except FileNotFoundError as exc:
            raise BlobNotFound("The stored content is missing from the blob store.") from exc
        return BlobInfo(key=key, size=st.st_size, modified=_mtime(st))

    def delete(self, key: str) -> bool:
        path = self.path_for(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True

    def iter_blobs(self) -> Iterator[BlobInfo]:
        if not self.root.is_dir():
            return
        with os.scandir(self.root) as shards:
            for shard in shards:
                if shard.name == PARTIAL_DIR or not shard.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(shard.path) as entries:
                    for entry in entries:
                        key = f"{shard.name}/{entry.name}"
                        try:
                            check_key(key)
                        except ValueError:
                            continue
                        st = entry.stat(follow_symlinks=False)
                        yield BlobInfo(key=key, size=st.st_size, modified=_mtime(st))

    def _partials(self) -> Iterator[os.DirEntry[str]]:
        if not self.partial_dir.is_dir():
            return
        with os.scandir(self.partial_dir) as entries:
            yield from (e for e in entries if e.name.endswith(".part"))

    def count_partials(self) -> int:
        return sum(1 for _ in self._partials())

    def remove_partials(self, older_than: dt.datetime) -> int:
        removed = 0
        for entry in list(self._partials()):
            if _mtime(entry.stat(follow_symlinks=False)) < older_than:
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
        return removed

    def check(self) -> None:
        if not self.partial_dir.is_dir() or not os.access(self.partial_dir, os.W_OK):
            raise BlobStoreUnavailable(
                "The blob directory {path} is missing or not writable. Check EGIDE_BLOB_DIR "
                "and its permissions, or run `egide init`.",
                path=str(self.root),
            )
