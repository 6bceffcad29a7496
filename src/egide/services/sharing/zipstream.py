"""A zip archive written as a stream, in bounded memory (a folder behind a link).

The standard library's `zipfile` writes to a stream that cannot seek: each
entry's sizes and CRC then follow its data in a data descriptor (APPNOTE
4.3.9), and the central directory comes at the end. So the archive leaves as
it is made, one decrypted segment at a time, and memory holds a segment and
the compressor's window whatever the folder's size. Entries are ZIP64 when
large, so files over 4 GiB stay readable.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

#: Zip dates cannot be before 1980 (MS-DOS time).
_EPOCH = dt.datetime(1980, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class ZipEntry:
    #: The path inside the archive ("scanner/irm.pdf"), a vault path: no "..", no "/" first.
    name: str
    size: int
    modified_at: dt.datetime
    chunks: Callable[[], Iterable[bytes]]


class _Sink:
    """A write-only stream: what zipfile wrote since the last `drain`."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def drain(self) -> Iterator[bytes]:
        if self._parts:
            data = b"".join(self._parts)
            self._parts.clear()
            yield data


def zip_stream(entries: Iterable[ZipEntry]) -> Iterator[bytes]:
    """The bytes of a zip archive holding `entries`, produced as they are read."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for entry in entries:
            moment = max(entry.modified_at.astimezone(dt.UTC), _EPOCH)
            info = zipfile.ZipInfo(entry.name, date_time=moment.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = entry.size
            with archive.open(info, "w") as member:
                for chunk in entry.chunks():
                    member.write(chunk)
                    yield from sink.drain()
            yield from sink.drain()
    yield from sink.drain()
