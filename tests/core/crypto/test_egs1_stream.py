"""StreamSealer and StreamOpener behaviour beyond the vectors (FORMATS.md section 1)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from egide.core.crypto import egs1
from egide.core.crypto.errors import IntegrityError
from egide.core.crypto.keys import generate_key
from egide.core.types import Secret

DEK = Secret(bytes(range(32)))


def drain(chunks: Iterator[bytes], released: bytearray) -> None:
    """Consume chunks one by one, keeping what came out before any failure."""
    for chunk in chunks:
        released += chunk


def seal(data: bytes, segment_size: int, dek: Secret = DEK) -> bytes:
    return b"".join(egs1.seal_chunks(dek, [data], segment_size))


def test_last_full_segment_is_held_back_until_more_data_follows() -> None:
    sealer = egs1.StreamSealer(DEK, 16)
    assert sealer.update(b"a" * 16) == []  # could be the final segment
    first = sealer.update(b"b")
    assert len(first) == 1
    assert len(first[0]) == 16 + egs1.TAG_SIZE
    final = sealer.finish()
    assert len(final) == 1 + egs1.TAG_SIZE
    assert sealer.plaintext_size == 17
    assert sealer.blob_size == egs1.HEADER_SIZE + 2 * egs1.TAG_SIZE + 17
    blob = sealer.header + first[0] + final
    assert egs1.open_bytes(DEK, blob) == b"a" * 16 + b"b"


def test_content_of_whole_segments_has_no_empty_final_segment() -> None:
    sealer = egs1.StreamSealer(DEK, 16)
    segments = sealer.update(b"x" * 48)
    assert len(segments) == 2
    assert len(sealer.finish()) == 16 + egs1.TAG_SIZE
    assert sealer.blob_size == egs1.blob_size(48, 16) == egs1.HEADER_SIZE + 3 * 32


def test_empty_content_is_one_empty_final_segment() -> None:
    sealer = egs1.StreamSealer(DEK)
    assert sealer.update(b"") == []
    final = sealer.finish()
    assert len(final) == egs1.TAG_SIZE
    assert sealer.blob_size == 64
    assert sealer.plaintext_size == 0
    assert egs1.open_bytes(DEK, sealer.header + final) == b""


def test_sealer_misuse_raises() -> None:
    sealer = egs1.StreamSealer(DEK, 16)
    with pytest.raises(RuntimeError):
        _ = sealer.blob_size
    with pytest.raises(RuntimeError):
        _ = sealer.plaintext_size
    sealer.finish()
    with pytest.raises(RuntimeError):
        sealer.update(b"late")
    with pytest.raises(RuntimeError):
        sealer.finish()


@pytest.mark.parametrize("segment_size", [0, 15, (1 << 24) + 1])
def test_segment_size_outside_limits_is_refused(segment_size: int) -> None:
    with pytest.raises(ValueError, match="segment size"):
        egs1.StreamSealer(DEK, segment_size)
    with pytest.raises(ValueError, match="segment size"):
        egs1.blob_size(10, segment_size)


def test_bad_key_salt_or_prefix_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="DEK"):
        egs1.StreamSealer(Secret(b"short"))
    with pytest.raises(ValueError, match="salt"):
        egs1.StreamSealer(DEK, salt=b"\0" * 31)
    with pytest.raises(ValueError, match="prefix"):
        egs1.StreamSealer(DEK, nonce_prefix=b"\0" * 8)


def test_fresh_salt_and_nonce_prefix_for_every_blob() -> None:
    headers = {egs1.StreamSealer(DEK).header for _ in range(20)}
    assert len(headers) == 20
    assert seal(b"same", 16) != seal(b"same", 16)


def test_sealer_copies_what_it_holds_back() -> None:
    """A caller may reuse its buffer (readinto) as soon as update returns."""
    buffer = bytearray(b"A" * 40)
    sealer = egs1.StreamSealer(DEK, 16)
    parts = [sealer.header, *sealer.update(memoryview(buffer))]
    buffer[:] = b"B" * 40
    parts.append(sealer.finish())
    assert egs1.open_bytes(DEK, b"".join(parts)) == b"A" * 40


def test_update_takes_memoryviews_of_any_format() -> None:
    words = memoryview(bytearray(range(64))).cast("I")
    sealer = egs1.StreamSealer(DEK, 16)
    blob = sealer.header + b"".join(sealer.update(words)) + sealer.finish()
    assert egs1.open_bytes(DEK, blob) == bytes(range(64))


def test_seal_chunks_yields_header_then_segments() -> None:
    parts = list(egs1.seal_chunks(DEK, [b"ab" * 10, b"", b"c" * 30], 16))
    assert parts[0][:4] == egs1.MAGIC
    assert len(parts[0]) == egs1.HEADER_SIZE
    assert [len(p) for p in parts[1:]] == [32, 32, 32, 2 + 16]
    assert egs1.open_bytes(DEK, b"".join(parts)) == b"ab" * 10 + b"c" * 30


def test_plaintext_size_rejects_impossible_blob_sizes() -> None:
    sizes = {64: 0, 65: 1, 80: 16, 97: 17, 112: 32}
    for blob_size, plaintext_size in sizes.items():
        assert egs1.plaintext_size(blob_size, 16) == plaintext_size
    for impossible in (0, 63, 81, 90, 95, 96):
        # 81..95: final segment shorter than a tag; 96: an empty final segment.
        with pytest.raises(IntegrityError):
            egs1.plaintext_size(impossible, 16)
    with pytest.raises(IntegrityError):
        egs1.plaintext_size(100, 8)


def test_range_read_requires_the_recorded_blob_size(memory_reader: Any) -> None:
    blob = seal(b"0123456789" * 10, 16)
    opener = egs1.StreamOpener(DEK, memory_reader(blob))
    with pytest.raises(ValueError, match="expected_blob_size"):
        opener.iter_plaintext(1, 50)
    with pytest.raises(ValueError, match="expected_blob_size"):
        opener.iter_plaintext(20)
    # A full read needs nothing more: it ends on the authenticated final segment.
    assert b"".join(opener.iter_plaintext()) == b"0123456789" * 10
    assert b"".join(opener.iter_plaintext(0, 100)) == b"0123456789" * 10


def test_range_outside_the_content_is_refused_at_call_time(memory_reader: Any) -> None:
    blob = seal(b"x" * 100, 16)
    opener = egs1.StreamOpener(DEK, memory_reader(blob), expected_blob_size=len(blob))
    for start, end in ((-1, 10), (10, 5), (0, 101), (101, None)):
        with pytest.raises(ValueError, match="outside"):
            opener.iter_plaintext(start, end)


def test_empty_range_reads_nothing(memory_reader: Any) -> None:
    blob = seal(b"x" * 100, 16)
    reader = memory_reader(blob)
    opener = egs1.StreamOpener(DEK, reader, expected_blob_size=len(blob))
    assert list(opener.iter_plaintext(50, 50)) == []
    assert reader.reads == [(0, egs1.HEADER_SIZE)]


def test_properties(memory_reader: Any) -> None:
    blob = seal(b"x" * 100, 16)
    opener = egs1.StreamOpener(DEK, memory_reader(blob))
    assert (opener.segment_size, opener.segment_count, opener.plaintext_size) == (16, 7, 100)
    assert opener.blob_size == len(blob)
    assert "x" * 10 not in repr(opener)


def test_recorded_size_mismatch_is_rejected_before_reading(memory_reader: Any) -> None:
    blob = seal(b"x" * 100, 16)
    reader = memory_reader(blob)
    with pytest.raises(IntegrityError, match="the record says"):
        egs1.StreamOpener(DEK, reader, expected_blob_size=len(blob) + 32)
    assert reader.reads == []


def test_short_read_from_the_store_is_an_integrity_error(memory_reader: Any) -> None:
    """The store says the blob is whole, then returns fewer bytes: never a short read."""
    content = os.urandom(200)
    blob = seal(content, 16)
    for cut in (len(blob) - 1, len(blob) - 17, 48 + 32 * 3 + 5):
        reader = memory_reader(blob[:cut], claimed_size=len(blob))
        opener = egs1.StreamOpener(DEK, reader, expected_blob_size=len(blob))
        released = bytearray()
        with pytest.raises(IntegrityError) as caught:
            drain(opener.iter_plaintext(), released)
        assert bytes(released) == content[: len(released)]
        assert len(released) <= caught.value.params["index"] * 16
        reader = memory_reader(blob[:cut], claimed_size=len(blob))
        opener = egs1.StreamOpener(DEK, reader, expected_blob_size=len(blob))
        with pytest.raises(IntegrityError):
            b"".join(opener.iter_plaintext(150, 200))


def test_short_header_read_is_an_integrity_error(memory_reader: Any) -> None:
    blob = seal(b"abc", 16)
    with pytest.raises(IntegrityError):
        egs1.StreamOpener(DEK, memory_reader(blob[:40], claimed_size=len(blob)))


def test_reads_are_batched_to_about_one_mebibyte(memory_reader: Any) -> None:
    content = os.urandom(4 << 20)
    blob = seal(content, egs1.DEFAULT_SEGMENT_SIZE)
    reader = memory_reader(blob)
    opener = egs1.StreamOpener(DEK, reader)
    assert b"".join(opener.iter_plaintext()) == content
    segment_reads = reader.reads[1:]
    assert len(segment_reads) <= 5
    assert all(length <= 1 << 20 for _, length in segment_reads)


def test_wrong_dek_fails_at_the_first_segment() -> None:
    blob = seal(b"secret", 16)
    with pytest.raises(IntegrityError) as caught:
        egs1.open_bytes(generate_key(), blob)
    assert caught.value.params == {"index": 0}


def test_altered_header_fails_range_reads_too(memory_reader: Any) -> None:
    content = os.urandom(100)
    blob = bytearray(seal(content, 16))
    blob[20] ^= 0x01  # a salt byte: another file key, and another AAD
    opener = egs1.StreamOpener(DEK, memory_reader(bytes(blob)), expected_blob_size=len(blob))
    with pytest.raises(IntegrityError):
        b"".join(opener.iter_plaintext(50, 60))


def test_integrity_message_names_no_secret() -> None:
    blob = bytearray(seal(b"patient DUPONT", 16))
    blob[-1] ^= 0x80
    with pytest.raises(IntegrityError) as caught:
        egs1.open_bytes(DEK, bytes(blob))
    message = str(caught.value)
    assert "DUPONT" not in message
    assert DEK.reveal().hex() not in message
    assert "segment 0" in message
    assert caught.value.code == "integrity"
