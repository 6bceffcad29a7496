"""HTTP details shared by the routers: ETags, Range, Content-Disposition, body streams."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import anyio.from_thread

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def etag(version_id: str) -> str:
    return f'"{version_id}"'


def parse_etag(header: str | None) -> str | None:
    """The version id named by an If-Match header (`"id"` or `W/"id"`), if any."""
    if header is None:
        return None
    value = header.strip().removeprefix("W/").strip('"')
    return value or None


def etag_matches(header: str | None, version_id: str) -> bool:
    """Whether an If-None-Match header names this version (or is `*`)."""
    if not header:
        return False
    tags = {parse_etag(part) for part in header.split(",")}
    return "*" in {part.strip() for part in header.split(",")} or version_id in tags


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single `bytes=` range (RFC 9110 section 14.1.2), None for the whole.

    Several ranges answer the whole file, as API.md allows; a syntactically
    invalid header is ignored (RFC 9110: a server may ignore Range).
    """
    if not header or "," in header:
        return None
    match = _RANGE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if first == "":
        if last == "":
            return None
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable
        return max(0, size - length), size
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if start >= size or (last != "" and int(last) < start):
        raise RangeNotSatisfiable
    return start, end


def media_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def content_disposition(name: str, *, inline: bool = False) -> str:
    """RFC 6266 with an ASCII fallback and the exact UTF-8 name (RFC 8187)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


#: Size of the pieces a download is sent in (see `coalesce`).
SEND_SIZE = 1 << 20


def coalesce(chunks: Iterator[bytes], size: int = SEND_SIZE) -> Iterator[bytes]:
    """Join a stream's small chunks into pieces of about `size` bytes.

    A download decrypts 64 KiB segments; sent one by one, each costs a hop
    from the worker thread to the event loop and a pass through the ASGI
    stack and the transport's flow control, which cost more than its
    decryption. Pieces of 1 MiB cost one copy and keep memory bounded.
    """
    pending: list[bytes] = []
    length = 0
    try:
        for chunk in chunks:
            pending.append(chunk)
            length += len(chunk)
            if length >= size:
                yield pending[0] if len(pending) == 1 else b"".join(pending)
                pending, length = [], 0
        if pending:
            yield b"".join(pending)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # release the blob now, even when the client went away


#: Body bytes gathered per crossing from the write thread to the event loop.
PULL_BYTES = 1 << 20


def sync_chunks(stream: AsyncIterator[bytes]) -> Iterator[bytes]:
    """Pull an async body stream from a worker thread, about a MiB at a time.

    The service's write path is synchronous; running it in a worker thread and
    feeding it the request body this way keeps the body streaming straight into
    the encryption, with no spooled copy on disk. The server hands the body over
    in small pieces (64 KiB or less); crossing from the thread to the event loop
    for each one cost more than encrypting it, so the loop gathers up to
    `PULL_BYTES` per crossing: memory stays bounded by that, whatever the size.
    """

    async def next_batch() -> tuple[bytes, bool, Exception | None]:
        """(bytes gathered, whether the body ended, what stopped it early)."""
        parts: list[bytes] = []
        size = 0
        while size < PULL_BYTES:
            try:
                chunk = await stream.__anext__()
            except StopAsyncIteration:
                return b"".join(parts), True, None
            except Exception as exc:  # noqa: BLE001 - a client gone mid-body: raised after
                # What did arrive is handed over first: a tus PATCH keeps it.
                return b"".join(parts), True, exc
            parts.append(chunk)
            size += len(chunk)
        return b"".join(parts), False, None

    while True:
        data, finished, error = anyio.from_thread.run(next_batch)
        if data:
            yield data
        if error is not None:
            raise error
        if finished:
            return
