"""EGS1 against the shared test vectors (FORMATS.md section 1, vectors/egs1.json)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from egide.core.crypto import egs1
from egide.core.crypto.errors import IntegrityError
from egide.core.types import Secret

VECTORS: Any = json.loads((Path(__file__).parent / "vectors" / "egs1.json").read_text("utf-8"))
VALID: list[dict[str, Any]] = VECTORS["valid"]
INVALID: dict[str, Any] = VECTORS["invalid"]

#: Invalid blobs that FORMATS.md section 1 rejects before reading any segment.
REJECTED_BEFORE_SEGMENTS = {
    "empty final segment after full segments",
    "blob shorter than 64 bytes",
    "reserved header byte 47 not zero",
    "segment size 2^32-1",
    "segment size 8 (below 16)",
    "final segment of 7 bytes",
    "magic EGS2",
}
#: Invalid blobs whose header passes: a segment fails authentication.
REJECTED_AT_A_SEGMENT = {
    "last segment dropped (truncation)",
    "segments 0 and 1 swapped",
    "one ciphertext bit flipped",
    "header segment size changed",
    "extra segment appended",
}


def b64(value: str) -> bytes:
    return base64.b64decode(value)


def vector_id(vector: dict[str, Any]) -> str:
    return f"s{vector['segment_size']}-p{len(b64(vector['plaintext']))}"


def seal(vector: dict[str, Any], chunks: list[bytes]) -> bytes:
    sealer = egs1.StreamSealer(
        Secret(b64(vector["dek"])),
        vector["segment_size"],
        salt=b64(vector["salt"]),
        nonce_prefix=b64(vector["nonce_prefix"]),
    )
    parts = [sealer.header]
    for chunk in chunks:
        parts.extend(sealer.update(chunk))
    parts.append(sealer.finish())
    return b"".join(parts)


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("vector", VALID, ids=vector_id)
def test_sealing_reproduces_the_vector_blob(vector: dict[str, Any]) -> None:
    plaintext, blob = b64(vector["plaintext"]), b64(vector["blob"])
    segment_size = vector["segment_size"]
    for chunk_size in (1, 7, segment_size - 1, segment_size, segment_size + 1, 1 << 20):
        if chunk_size == 1 and len(plaintext) > 5000:
            continue  # one byte at a time over 64 KiB adds nothing the others miss
        assert seal(vector, chunked(plaintext, chunk_size)) == blob, chunk_size
    assert seal(vector, [plaintext]) == blob
    assert egs1.blob_size(len(plaintext), segment_size) == len(blob)
    assert egs1.plaintext_size(len(blob), segment_size) == len(plaintext)


@pytest.mark.parametrize("vector", VALID, ids=vector_id)
def test_opening_reproduces_the_vector_plaintext(vector: dict[str, Any]) -> None:
    plaintext = egs1.open_bytes(Secret(b64(vector["dek"])), b64(vector["blob"]))
    assert plaintext == b64(vector["plaintext"])
    assert hashlib.sha256(plaintext).hexdigest() == vector["plaintext_sha256"]


def boundaries(size: int, segment_size: int) -> list[int]:
    points = {0, size}
    for edge in range(segment_size, size + segment_size, segment_size):
        points.update({edge - 1, edge, edge + 1})
    return sorted(p for p in points if 0 <= p <= size)


@pytest.mark.parametrize("vector", VALID, ids=vector_id)
def test_range_reads_equal_slices_and_touch_only_their_segments(
    vector: dict[str, Any], memory_reader: Any
) -> None:
    dek, blob = Secret(b64(vector["dek"])), b64(vector["blob"])
    plaintext, s = b64(vector["plaintext"]), vector["segment_size"]
    stride = s + egs1.TAG_SIZE
    points = boundaries(len(plaintext), s)
    for start in points:
        for end in points:
            if end < start:
                continue
            reader = memory_reader(blob)
            opener = egs1.StreamOpener(dek, reader, expected_blob_size=len(blob))
            assert b"".join(opener.iter_plaintext(start, end)) == plaintext[start:end]
            if start == end:
                continue
            first, last = start // s, (end - 1) // s
            if (start, end) == (0, len(plaintext)):
                first, last = 0, opener.segment_count - 1
            low = egs1.HEADER_SIZE + first * stride
            high = min(egs1.HEADER_SIZE + (last + 1) * stride, len(blob))
            segment_reads = reader.reads[1:]  # the first read is the header
            assert segment_reads, (start, end)
            assert min(offset for offset, _ in segment_reads) == low
            assert max(offset + length for offset, length in segment_reads) == high


def drain(chunks: Iterator[bytes], released: bytearray) -> None:
    """Consume chunks one by one, keeping what came out before any failure."""
    for chunk in chunks:
        released += chunk


def invalid_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = INVALID["cases"]
    assert {case["why"] for case in cases} == REJECTED_BEFORE_SEGMENTS | REJECTED_AT_A_SEGMENT
    return cases


@pytest.mark.parametrize(
    "case",
    [c for c in invalid_cases() if c["why"] in REJECTED_BEFORE_SEGMENTS],
    ids=lambda case: case["why"],
)
def test_invalid_header_or_size_is_rejected_by_the_constructor(
    case: dict[str, Any], memory_reader: Any
) -> None:
    dek, blob = Secret(b64(INVALID["dek"])), b64(case["blob"])
    reader = memory_reader(blob)
    with pytest.raises(IntegrityError):
        egs1.StreamOpener(dek, reader)
    # No segment was read: at most the header.
    assert all(offset == 0 and length <= egs1.HEADER_SIZE for offset, length in reader.reads)
    with pytest.raises(IntegrityError):
        egs1.StreamOpener(dek, memory_reader(blob), expected_blob_size=len(blob))
    with pytest.raises(IntegrityError):
        egs1.open_bytes(dek, blob)


@pytest.mark.parametrize(
    "case",
    [c for c in invalid_cases() if c["why"] in REJECTED_AT_A_SEGMENT],
    ids=lambda case: case["why"],
)
@pytest.mark.parametrize("record_size", [False, True])
def test_invalid_segment_releases_no_byte_of_it(
    case: dict[str, Any], record_size: bool, memory_reader: Any
) -> None:
    dek, blob = Secret(b64(INVALID["dek"])), b64(case["blob"])
    original = b64(INVALID["plaintext"])
    expected = len(blob) if record_size else None
    opener = egs1.StreamOpener(dek, memory_reader(blob), expected_blob_size=expected)
    released = bytearray()
    with pytest.raises(IntegrityError) as caught:
        drain(opener.iter_plaintext(), released)
    failed = caught.value.params["index"]
    assert len(released) <= failed * opener.segment_size
    # What came out was authentic: whole earlier segments of the real content.
    assert bytes(released) == original[: len(released)]
    assert len(released) % opener.segment_size == 0
    assert "segment" in str(caught.value)
