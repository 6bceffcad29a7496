"""Property tests of EGS1: round trips, sizes, and tampering of every kind (hypothesis)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from egide.core.crypto import egs1
from egide.core.crypto.errors import IntegrityError
from egide.core.types import Secret

DEK = Secret(bytes(range(100, 132)))
SEGMENT_SIZES = st.sampled_from([16, 17, 31, 32, 64, 100, 4096])


@st.composite
def chunked_content(draw: st.DrawFn) -> tuple[bytes, list[bytes], int]:
    segment_size = draw(SEGMENT_SIZES)
    content = draw(st.binary(max_size=6 * segment_size + 3))
    cuts = sorted(draw(st.lists(st.integers(0, len(content)), max_size=8)))
    bounds = [0, *cuts, len(content)]
    return content, [content[a:b] for a, b in itertools.pairwise(bounds)], segment_size


@given(chunked_content(), st.data())
def test_round_trip_sizes_and_ranges(
    case: tuple[bytes, list[bytes], int], data: st.DataObject
) -> None:
    content, chunks, segment_size = case
    sealer = egs1.StreamSealer(DEK, segment_size)
    parts = [sealer.header]
    for chunk in chunks:
        parts.extend(sealer.update(chunk))
    parts.append(sealer.finish())
    blob = b"".join(parts)
    assert len(blob) == egs1.blob_size(len(content), segment_size) == sealer.blob_size
    assert sealer.plaintext_size == len(content)
    assert egs1.plaintext_size(len(blob), segment_size) == len(content)
    # Every segment but the last is full; there is no empty final one after full ones.
    stored = [len(p) - egs1.TAG_SIZE for p in parts[1:]]
    assert all(size == segment_size for size in stored[:-1])
    assert stored[-1] > 0 or len(stored) == 1
    assert egs1.open_bytes(DEK, blob) == content

    opener = egs1.StreamOpener(DEK, _Reader(blob), expected_blob_size=len(blob))
    for _ in range(3):
        start = data.draw(st.integers(0, len(content)))
        end = data.draw(st.integers(start, len(content)))
        assert b"".join(opener.iter_plaintext(start, end)) == content[start:end]


@st.composite
def sealed(draw: st.DrawFn) -> tuple[bytes, bytes, int]:
    segment_size = draw(st.sampled_from([16, 17, 32]))
    content = draw(st.binary(max_size=5 * segment_size))
    return content, b"".join(egs1.seal_chunks(DEK, [content], segment_size)), segment_size


@given(sealed(), st.data())
def test_any_single_bit_flip_is_detected(
    case: tuple[bytes, bytes, int], data: st.DataObject
) -> None:
    content, blob, _ = case
    position = data.draw(st.integers(0, len(blob) * 8 - 1))
    altered = bytearray(blob)
    altered[position // 8] ^= 1 << (position % 8)
    reader = _Reader(bytes(altered))
    released = bytearray()
    with pytest.raises(IntegrityError):
        drain(egs1.StreamOpener(DEK, reader, expected_blob_size=len(blob)), released)
    # Bytes released before the failure are authentic ones.
    assert bytes(released) == content[: len(released)]


@given(sealed())
def test_truncation_at_any_length_is_detected(case: tuple[bytes, bytes, int]) -> None:
    _, blob, _ = case
    for length in range(len(blob)):
        truncated = blob[:length]
        with pytest.raises(IntegrityError):
            egs1.open_bytes(DEK, truncated)
        with pytest.raises(IntegrityError):
            egs1.StreamOpener(DEK, _Reader(truncated), expected_blob_size=len(blob))


def _segments(blob: bytes, segment_size: int) -> list[bytes]:
    stride = segment_size + egs1.TAG_SIZE
    body = blob[egs1.HEADER_SIZE :]
    return [body[i : i + stride] for i in range(0, len(body), stride)]


@given(sealed())
def test_swapping_dropping_or_repeating_segments_is_detected(
    case: tuple[bytes, bytes, int],
) -> None:
    _, blob, segment_size = case
    header, segments = blob[: egs1.HEADER_SIZE], _segments(blob, segment_size)
    variants = []
    for i in range(len(segments)):
        for j in range(i + 1, len(segments)):
            swapped = list(segments)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            if swapped[i] != swapped[j]:
                variants.append(swapped)
        variants.append(segments[:i] + segments[i + 1 :])  # dropped
        variants.append(segments[: i + 1] + segments[i:])  # repeated
    for variant in variants:
        if not variant:
            continue
        with pytest.raises(IntegrityError):
            egs1.open_bytes(DEK, header + b"".join(variant))


@given(sealed(), sealed())
def test_segments_of_another_blob_are_rejected(
    first: tuple[bytes, bytes, int], second: tuple[bytes, bytes, int]
) -> None:
    """Same DEK, other salt: a segment moved between blobs fails (header is the AAD)."""
    _, blob_a, size_a = first
    _, blob_b, size_b = second
    if size_a != size_b:
        return
    spliced = blob_a[: egs1.HEADER_SIZE] + blob_b[egs1.HEADER_SIZE :]
    with pytest.raises(IntegrityError):
        egs1.open_bytes(DEK, spliced)


@given(st.integers(0, 10_000), SEGMENT_SIZES)
def test_plaintext_size_inverts_blob_size(size: int, segment_size: int) -> None:
    assert egs1.plaintext_size(egs1.blob_size(size, segment_size), segment_size) == size


@given(st.integers(0, 10_000), SEGMENT_SIZES)
def test_plaintext_size_accepts_exactly_the_sizes_a_writer_makes(
    size: int, segment_size: int
) -> None:
    try:
        content_size = egs1.plaintext_size(size, segment_size)
    except IntegrityError:
        # No segment count n gives a content whose blob has this size.
        candidates = (size - egs1.HEADER_SIZE - egs1.TAG_SIZE * n for n in range(1, size))
        assert all(egs1.blob_size(p, segment_size) != size for p in candidates if p >= 0)
    else:
        assert egs1.blob_size(content_size, segment_size) == size


def drain(opener: egs1.StreamOpener, released: bytearray) -> None:
    """Read the whole blob lazily, keeping what came out before any failure."""
    for chunk in opener.iter_plaintext():
        released += chunk


class _Reader:
    """A minimal RandomAccessReader (hypothesis and function fixtures do not mix well)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def size(self) -> int:
        return len(self._data)

    def read_at(self, offset: int, length: int) -> bytes:
        return self._data[offset : offset + length]

    def close(self) -> None:
        pass
