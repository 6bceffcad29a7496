"""EGS1, the encrypted blob format: one per stored content (FORMATS.md section 1).

A streaming AEAD after Tink's AES-GCM-HKDF streaming and the STREAM
construction: the content is cut into segments of `segment_size` bytes, each
sealed with AES-256-GCM under a per-blob key derived from the DEK, with a
nonce that carries the segment index and a "last segment" flag, and the
48-byte header as associated data. Truncation, reordering, segment swapping
and header edits therefore all fail authentication.

    header    = "EGS1" | segment_size u32 | salt (32) | nonce_prefix (7) | 0x00
    file_key  = HKDF-SHA256(ikm=DEK, salt=salt, info="egide stream v1", length=32)
    segment i = AES-256-GCM(file_key).encrypt(nonce_prefix | u32(i) | last, plaintext_i, header)

`StreamSealer` writes blobs chunk by chunk; `StreamOpener` reads them back,
fully or by byte range, releasing no byte of a segment before that segment
authenticated.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from egide.core.crypto.errors import BLOB_REJECTED, SEGMENT_FAILED, IntegrityError
from egide.core.types import RandomAccessReader, Secret

MAGIC: Final = b"EGS1"
HEADER_SIZE: Final = 48
TAG_SIZE: Final = 16
DEFAULT_SEGMENT_SIZE: Final = 65536
MIN_SEGMENT_SIZE: Final = 16
MAX_SEGMENT_SIZE: Final = 1 << 24

KEY_SIZE: Final = 32
SALT_SIZE: Final = 32
NONCE_PREFIX_SIZE: Final = 7
#: The segment index is a u32 in the nonce: a blob holds at most 2^32 segments.
MAX_SEGMENTS: Final = 1 << 32

_HKDF_INFO: Final = b"egide stream v1"
_HEADER: Final = struct.Struct(">4sI32s7sB")
_NONCE: Final = struct.Struct(">7sIB")
#: Readers fetch several segments per call: one ~1 MiB read instead of sixteen
#: 64 KiB reads keeps the per-call cost of a file or S3 reader negligible.
_READ_BATCH_BYTES: Final = 1 << 20


def _check_segment_size(segment_size: int) -> None:
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise ValueError(
            f"segment size must be within {MIN_SEGMENT_SIZE}..{MAX_SEGMENT_SIZE}, "
            f"not {segment_size}"
        )


def _file_key(dek: Secret, salt: bytes) -> AESGCM:
    if len(dek) != KEY_SIZE:
        raise ValueError(f"a DEK is {KEY_SIZE} bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=_HKDF_INFO)
    return AESGCM(hkdf.derive(dek.reveal()))


def blob_size(plaintext_size: int, segment_size: int) -> int:
    """Size of the EGS1 blob holding `plaintext_size` bytes: 48 + 16·n + plaintext size."""
    _check_segment_size(segment_size)
    if plaintext_size < 0:
        raise ValueError("a plaintext size is not negative")
    # n = max(1, ceil(p / s)): an empty content is one empty final segment.
    count = max(1, -(-plaintext_size // segment_size))
    if count > MAX_SEGMENTS:
        raise ValueError("content too large for this segment size (2^32 segments at most)")
    return HEADER_SIZE + TAG_SIZE * count + plaintext_size


def _layout(size: int, segment_size: int) -> tuple[int, int]:
    """(segment count, final segment's stored length) of a blob, or IntegrityError.

    These are the checks FORMATS.md section 1 asks for before reading any segment.
    """
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise IntegrityError(BLOB_REJECTED, problem=f"segment size {segment_size}")
    if size < HEADER_SIZE + TAG_SIZE:
        raise IntegrityError(BLOB_REJECTED, problem=f"blob of {size} bytes")
    stride = segment_size + TAG_SIZE
    body = size - HEADER_SIZE
    count = -(-body // stride)
    final = body - (count - 1) * stride
    if final < TAG_SIZE:
        raise IntegrityError(BLOB_REJECTED, problem=f"final segment of {final} bytes")
    if final == TAG_SIZE and count > 1:
        # A writer never produces an empty final segment after full ones.
        raise IntegrityError(BLOB_REJECTED, problem="empty final segment")
    if count > MAX_SEGMENTS:
        raise IntegrityError(BLOB_REJECTED, problem=f"blob of {size} bytes")
    return count, final


def plaintext_size(blob_size: int, segment_size: int) -> int:
    """Plaintext size held by a blob of `blob_size` bytes; IntegrityError if none can be."""
    count, _ = _layout(blob_size, segment_size)
    return blob_size - HEADER_SIZE - TAG_SIZE * count


class StreamSealer:
    """Encrypts one content into an EGS1 blob, chunk by chunk.

    Write `header`, then every list `update` returns, then what `finish`
    returns. The last full segment is held back until more data arrives,
    because only the final segment carries the "last" flag in its nonce.
    """

    __slots__ = (
        "_aead",
        "_finished",
        "_header",
        "_index",
        "_pending",
        "_plaintext_size",
        "_prefix",
        "_segment_size",
    )

    def __init__(
        self,
        dek: Secret,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        *,
        salt: bytes | None = None,
        nonce_prefix: bytes | None = None,
    ) -> None:
        _check_segment_size(segment_size)
        # Fresh salt and nonce prefix per blob (FORMATS.md section 1); callers
        # pass them only to reproduce test vectors.
        salt = os.urandom(SALT_SIZE) if salt is None else salt
        prefix = os.urandom(NONCE_PREFIX_SIZE) if nonce_prefix is None else nonce_prefix
        if len(salt) != SALT_SIZE or len(prefix) != NONCE_PREFIX_SIZE:
            raise ValueError("EGS1 takes a 32-byte salt and a 7-byte nonce prefix")
        self._segment_size = segment_size
        self._prefix = prefix
        self._header = _HEADER.pack(MAGIC, segment_size, salt, prefix, 0)
        self._aead = _file_key(dek, salt)
        self._pending = bytearray()
        self._index = 0
        self._plaintext_size = 0
        self._finished = False

    def __repr__(self) -> str:
        return f"StreamSealer(segment_size={self._segment_size}, segments={self._index})"

    @property
    def header(self) -> bytes:
        return self._header

    def _seal(self, data: bytes | bytearray | memoryview, last: bool) -> bytes:
        if self._index >= MAX_SEGMENTS:
            raise ValueError("content too large for this segment size (2^32 segments at most)")
        nonce = _NONCE.pack(self._prefix, self._index, last)
        self._index += 1
        return self._aead.encrypt(nonce, data, self._header)

    def update(self, data: bytes | memoryview) -> list[bytes]:
        """Feed plaintext; returns the segments completed so far (maybe none)."""
        if self._finished:
            raise RuntimeError("StreamSealer.update after finish")
        view = memoryview(data).cast("B")
        size = len(view)
        self._plaintext_size += size
        s = self._segment_size
        pending = self._pending
        out: list[bytes] = []
        pos = 0
        if pending:
            pos = min(s - len(pending), size)
            pending += view[:pos]
            if len(pending) < s or pos == size:
                # Not full, or full with nothing after it yet: keep holding it.
                return out
            out.append(self._seal(pending, last=False))
            pending.clear()
        # Seal whole segments straight from the caller's buffer (no copy), but
        # keep the last one back: it is final if no more data comes.
        while size - pos > s:
            out.append(self._seal(view[pos : pos + s], last=False))
            pos += s
        pending += view[pos:]
        return out

    def finish(self) -> bytes:
        """The final segment: what is pending, or one empty segment for an empty content."""
        if self._finished:
            raise RuntimeError("StreamSealer.finish called twice")
        self._finished = True
        final = self._seal(self._pending, last=True)
        self._pending = bytearray()
        return final

    def _require_finished(self) -> None:
        if not self._finished:
            raise RuntimeError("sizes are known once StreamSealer.finish returned")

    @property
    def plaintext_size(self) -> int:
        self._require_finished()
        return self._plaintext_size

    @property
    def blob_size(self) -> int:
        self._require_finished()
        return HEADER_SIZE + TAG_SIZE * self._index + self._plaintext_size


def seal_chunks(
    dek: Secret, chunks: Iterable[bytes], segment_size: int = DEFAULT_SEGMENT_SIZE
) -> Iterator[bytes]:
    """The header, then every segment of the blob sealing `chunks`."""
    sealer = StreamSealer(dek, segment_size)
    yield sealer.header
    for chunk in chunks:
        yield from sealer.update(chunk)
    yield sealer.finish()


class StreamOpener:
    """Reads an EGS1 blob: validates the header at once, decrypts on demand."""

    __slots__ = (
        "_aead",
        "_blob_size",
        "_final_size",
        "_header",
        "_plaintext_size",
        "_prefix",
        "_segment_count",
        "_segment_size",
        "_size_recorded",
        "_source",
    )

    def __init__(
        self,
        dek: Secret,
        source: RandomAccessReader,
        *,
        expected_blob_size: int | None = None,
    ) -> None:
        size = source.size
        if expected_blob_size is not None and size != expected_blob_size:
            raise IntegrityError(
                BLOB_REJECTED,
                problem=f"blob of {size} bytes, the record says {expected_blob_size}",
            )
        if size < HEADER_SIZE + TAG_SIZE:
            raise IntegrityError(BLOB_REJECTED, problem=f"blob of {size} bytes")
        header = bytes(source.read_at(0, HEADER_SIZE))
        if len(header) != HEADER_SIZE:
            raise IntegrityError(BLOB_REJECTED, problem="truncated header")
        magic, segment_size, salt, prefix, reserved = _HEADER.unpack(header)
        if magic != MAGIC:
            raise IntegrityError(BLOB_REJECTED, problem="not an EGS1 blob")
        if reserved != 0:
            raise IntegrityError(BLOB_REJECTED, problem="reserved header byte set")
        count, final = _layout(size, segment_size)
        self._source = source
        self._header = header
        self._prefix: bytes = prefix
        self._segment_size: int = segment_size
        self._segment_count = count
        self._final_size = final
        self._blob_size = size
        self._plaintext_size = size - HEADER_SIZE - TAG_SIZE * count
        self._size_recorded = expected_blob_size is not None
        self._aead = _file_key(dek, salt)

    def __repr__(self) -> str:
        return (
            f"StreamOpener(segment_size={self._segment_size}, "
            f"segments={self._segment_count}, plaintext_size={self._plaintext_size})"
        )

    @property
    def segment_size(self) -> int:
        return self._segment_size

    @property
    def segment_count(self) -> int:
        return self._segment_count

    @property
    def plaintext_size(self) -> int:
        return self._plaintext_size

    @property
    def blob_size(self) -> int:
        return self._blob_size

    def iter_plaintext(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Plaintext bytes [start, end), in chunks, each released once authenticated.

        A full read always ends on the authenticated final segment. A range
        read cannot see a truncated tail, so it requires the blob size
        recorded in the database (`expected_blob_size`), FORMATS.md section 1.
        Arguments are checked now, not at the first `next()`.
        """
        size = self._plaintext_size
        stop = size if end is None else end
        if not 0 <= start <= stop <= size:
            raise ValueError(f"range [{start}, {end}) is outside the content (0..{size})")
        if start == 0 and stop == size:
            return self._decrypt(0, self._segment_count - 1, start, stop)
        if not self._size_recorded:
            raise ValueError(
                "a range read needs the blob size recorded in the database: "
                "open the blob with expected_blob_size"
            )
        if start == stop:
            return iter(())
        s = self._segment_size
        return self._decrypt(start // s, (stop - 1) // s, start, stop)

    def _decrypt(self, first: int, last: int, start: int, stop: int) -> Iterator[bytes]:
        s = self._segment_size
        stride = s + TAG_SIZE
        final_index = self._segment_count - 1
        batch = max(1, _READ_BATCH_BYTES // stride)
        aead, header, prefix, pack = self._aead, self._header, self._prefix, _NONCE.pack
        for batch_first in range(first, last + 1, batch):
            batch_last = min(batch_first + batch, last + 1) - 1
            length = (batch_last - batch_first) * stride
            length += self._final_size if batch_last == final_index else stride
            data = self._source.read_at(HEADER_SIZE + batch_first * stride, length)
            if len(data) != length:
                # A short read is a truncated blob, never a short plaintext.
                bad = min(batch_first + len(data) // stride, batch_last)
                raise IntegrityError(SEGMENT_FAILED, index=bad)
            view = memoryview(data)
            for index in range(batch_first, batch_last + 1):
                pos = (index - batch_first) * stride
                nonce = pack(prefix, index, index == final_index)
                try:
                    plain = aead.decrypt(nonce, view[pos : pos + stride], header)
                except InvalidTag as exc:
                    raise IntegrityError(SEGMENT_FAILED, index=index) from exc
                base = index * s
                lo = start - base if start > base else 0
                hi = stop - base if stop - base < len(plain) else len(plain)
                if lo or hi != len(plain):
                    plain = plain[lo:hi]
                if plain:
                    yield plain


class _BytesReader:
    """A RandomAccessReader over bytes in memory (tests, vectors, small blobs)."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    @property
    def size(self) -> int:
        return len(self._data)

    def read_at(self, offset: int, length: int) -> bytes:
        return bytes(self._data[offset : offset + length])

    def close(self) -> None:
        self._data.release()


def open_bytes(dek: Secret, blob: bytes) -> bytes:
    """Decrypt a whole blob held in memory (tests, vectors, small contents)."""
    reader = _BytesReader(blob)
    try:
        return b"".join(StreamOpener(dek, reader).iter_plaintext())
    finally:
        reader.close()
