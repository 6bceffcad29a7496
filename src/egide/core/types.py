"""Type aliases and small value types shared across layers."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from typing import Any, Final, Protocol, TypeAlias

#: A stream of byte chunks, as produced by a request body or a local file reader.
ByteChunks: TypeAlias = Iterable[bytes]
ByteIterator: TypeAlias = Iterator[bytes]


class Secret:
    """Bytes that must never be printed: keys, passwords, token secrets.

    `repr` and `str` are masked so a secret that reaches a log line, a
    traceback or an assertion message shows nothing. Comparison is constant
    time. Use `.reveal()` at the one place the raw bytes are needed.
    """

    __slots__ = ("_value",)
    _MASK: Final = "Secret(***)"

    def __init__(self, value: bytes) -> None:
        if not isinstance(value, bytes):
            raise TypeError("Secret holds bytes")
        self._value = value

    def reveal(self) -> bytes:
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return self._MASK

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        raise TypeError("Secret is not hashable")

    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("Secret cannot be pickled")


class RandomAccessReader(Protocol):
    """Structural interface of a readable blob: its size and positional reads.

    Implemented by the blob store's readers; consumed by the EGS1 reader, so
    core.crypto never imports core.blobstore.
    """

    @property
    def size(self) -> int: ...

    def read_at(self, offset: int, length: int) -> bytes:
        """Exactly `length` bytes from `offset` (fewer only at the end of the blob)."""
        ...

    def close(self) -> None: ...
