"""The blob store interface, shared by the local directory and (later) S3 stores.

A blob store keeps opaque encrypted bytes under keys it makes itself
(`new_key`), never derived from user input and never reused. A blob becomes
visible under its key only when `BlobWriter.commit` returns, after it is
durable; a writer that is aborted, or a process that dies mid-write, leaves
nothing under the key.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from egide.core.errors import Conflict, NotFound, Unavailable

#: "<first two hex digits>/<uuid4>": the shard keeps directories small.
KEY_PATTERN = re.compile(
    r"^([0-9a-f]{2})/([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12})$"
)


class BlobNotFound(NotFound):
    code = "blob-not-found"


class BlobExists(Conflict):
    code = "blob-exists"


class BlobStoreUnavailable(Unavailable):
    code = "blobstore-unavailable"


def make_key() -> str:
    value = str(uuid.uuid4())
    return f"{value[:2]}/{value}"


def check_key(key: str) -> str:
    match = KEY_PATTERN.match(key)
    if not match or not match.group(2).startswith(match.group(1)):
        raise ValueError("not a blob key made by this store")
    return key


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    modified: dt.datetime


class BlobWriter(Protocol):
    key: str

    @property
    def size(self) -> int: ...

    def write(self, data: bytes) -> None: ...

    def commit(self) -> int:
        """Make the blob durable and visible under its key; returns its size."""
        ...

    def abort(self) -> None:
        """Discard what was written; safe to call more than once or after commit fails."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class BlobReader(Protocol):
    key: str

    @property
    def size(self) -> int: ...

    def read_at(self, offset: int, length: int) -> bytes: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class BlobStore(Protocol):
    def new_key(self) -> str: ...

    def create(self, key: str) -> BlobWriter: ...

    def open(self, key: str) -> BlobReader: ...

    def exists(self, key: str) -> bool: ...

    def stat(self, key: str) -> BlobInfo: ...

    def delete(self, key: str) -> bool:
        """Remove a blob; False when it was already gone."""
        ...

    def iter_blobs(self) -> Iterator[BlobInfo]: ...

    def remove_partials(self, older_than: dt.datetime) -> int:
        """Delete writes abandoned by a crash before `older_than`; returns how many."""
        ...

    def count_partials(self) -> int: ...

    def check(self) -> None:
        """Raise BlobStoreUnavailable when the store cannot be written."""
        ...
