"""Fixtures of the audit core tests.

`vectors/merkle.json` is a copy of the design's `vectors/merkle.json`
(FORMATS.md, "Vectors"), kept beside the tests so the suite runs from a
checkout alone; `test_vector_copies.py` fails when the copy drifts from the
published file. Test modules load it at import time to parametrise over it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest


class CountingReader:
    """A `get(level, index)` over stored nodes that counts reads, as a database query would."""

    def __init__(self, nodes: dict[tuple[int, int], bytes]) -> None:
        self.nodes = nodes
        self.reads = 0

    def __call__(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.nodes[level, index]


@pytest.fixture(scope="session")
def counting_reader() -> Callable[[dict[tuple[int, int], bytes]], CountingReader]:
    """The CountingReader class (test modules are not packages and cannot import it)."""
    return CountingReader
