"""Fixtures of the crypto tests.

The vectors under `vectors/` are copies of the design's `vectors/egs1.json`
and `vectors/keywrap.json` (FORMATS.md, "Vectors"), kept beside the tests so
the suite runs from a checkout alone; test modules load them at import time
to parametrise over them.
"""

from __future__ import annotations

import pytest


class MemoryReader:
    """A RandomAccessReader over bytes that records every read.

    `claimed_size` lets a test fake a store whose size disagrees with what
    it can actually return (a blob truncated after its size was recorded).
    """

    def __init__(self, data: bytes, *, claimed_size: int | None = None) -> None:
        self.data = data
        self.reads: list[tuple[int, int]] = []
        self._size = len(data) if claimed_size is None else claimed_size

    @property
    def size(self) -> int:
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        return self.data[offset : offset + length]

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def memory_reader() -> type[MemoryReader]:
    """The MemoryReader class (test modules are not packages and cannot import it)."""
    return MemoryReader
