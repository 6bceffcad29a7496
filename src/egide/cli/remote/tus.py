"""A small tus 1.0.0 client (https://tus.io/protocols/resumable-upload) whose uploads resume.

An upload is created (POST, `Upload-Metadata` naming `space` and `path`),
then sent in PATCH requests of `CHUNK` bytes, each with `Upload-Checksum:
sha256 <base64>` so a damaged chunk is refused and sent again. Its URL is
remembered in `uploads.json` in the configuration directory (mode 0600),
under the remote and the target, with a fingerprint of the local file (size,
modification time, SHA-256 of its first MiB). Running the same `egide put`
again after an interruption asks the server for its offset (HEAD) and sends
only the rest; an upload the server no longer knows (404: expired, or
completed and gone) or a local file that changed starts afresh.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from egide.cli.remote.client import API, RemoteClient
from egide.cli.remote.config import private_dir, read_private, write_private
from egide.cli.remote.errors import RemoteError, transport_error
from egide.core.errors import ErrorKind

TUS_VERSION = "1.0.0"
OFFSET_STREAM = "application/offset+octet-stream"
MIB = 1 << 20
#: Files of at least this size go through tus (smaller ones: one streamed PUT).
THRESHOLD = 8 * MIB
#: Bytes per PATCH: what a failure can cost to send again.
CHUNK = 8 * MIB
STATE_FILE = "uploads.json"
#: A chunk refused for its checksum (460) is sent again this many times.
CHECKSUM_RETRIES = 3
#: A dropped connection during a PATCH is retried this many times (HEAD, then resume).
TRANSPORT_RETRIES = 3

Progress = Callable[[int], None]


def read_chunk(handle: BinaryIO, size: int) -> bytes:
    """The next `size` bytes of the local file (a seam for tests)."""
    return handle.read(size)


# The state file ------------------------------------------------------------------


def fingerprint(source: Path) -> str:
    """Size, modification time and SHA-256 of the first MiB: changes when the file does."""
    info = source.stat()
    with source.open("rb") as handle:
        head = hashlib.sha256(handle.read(MIB)).hexdigest()
    return f"{info.st_size}:{info.st_mtime_ns}:{head}"


def state_key(remote: str, url: str, username: str, space: str, path: str) -> str:
    raw = json.dumps([remote, url, username, space, path], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


class UploadState:
    """`uploads.json`: state key -> {"fingerprint", "url"} of unfinished uploads."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or private_dir() / STATE_FILE

    def _read(self) -> dict[str, Any]:
        data = read_private(self.path)
        if data is None:
            return {}
        try:
            entries = json.loads(data)
        except ValueError:
            return {}  # damaged: forgetting it costs only a fresh upload
        return entries if isinstance(entries, dict) else {}

    def get(self, key: str) -> dict[str, str] | None:
        entry = self._read().get(key)
        if isinstance(entry, dict) and {"fingerprint", "url"} <= entry.keys():
            return {k: str(v) for k, v in entry.items()}
        return None

    def put(self, key: str, entry: dict[str, str]) -> None:
        entries = self._read()
        entries[key] = entry
        self._write(entries)

    def forget(self, key: str) -> None:
        entries = self._read()
        if entries.pop(key, None) is not None:
            self._write(entries)

    def _write(self, entries: dict[str, Any]) -> None:
        write_private(self.path, json.dumps(entries, indent=1, sort_keys=True).encode())


# The protocol -------------------------------------------------------------------


def _metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _checksum(chunk: bytes) -> str:
    return "sha256 " + base64.b64encode(hashlib.sha256(chunk).digest()).decode()


@dataclass
class TusUploader:
    """Uploads one local file to SPACE/PATH, resuming a remembered upload if there is one."""

    client: RemoteClient
    state: UploadState
    key: str
    source: Path
    space: str
    path: str
    #: The offset a remembered upload resumed from (None for a new upload).
    resumed_from: int | None = None
    _fingerprint: str = ""

    def upload(self, on_start: Callable[[int, int], None], on_progress: Progress) -> None:
        """Send the file; `on_start(offset, size)` once the starting offset is known."""
        size = self.source.stat().st_size
        self._fingerprint = fingerprint(self.source)
        url, offset = self._resume(size)
        if url is None:
            url, offset = self._create(size), 0
        else:
            self.resumed_from = offset
        on_start(offset, size)
        self._send(url, offset, size, on_progress)
        self.state.forget(self.key)

    def _resume(self, size: int) -> tuple[str | None, int]:
        entry = self.state.get(self.key)
        if entry is None:
            return None, 0
        if entry["fingerprint"] != self._fingerprint:
            # The local file changed since: the bytes sent are of no use.
            self._terminate(entry["url"])
            self.state.forget(self.key)
            return None, 0
        try:
            head = self.client.request("HEAD", entry["url"], headers=TUS)
        except RemoteError as exc:
            if exc.status in {404, 410}:  # expired, or gone: start afresh
                self.state.forget(self.key)
                return None, 0
            raise
        if head.headers.get("upload-length") != str(size):
            self._terminate(entry["url"])
            self.state.forget(self.key)
            return None, 0
        return entry["url"], _offset_of(head)

    def _terminate(self, url: str) -> None:
        # Best effort (tus termination): an upload left behind expires on the server anyway.
        with contextlib.suppress(RemoteError):
            self.client.request("DELETE", url, headers=TUS)

    def _create(self, size: int) -> str:
        response = self.client.request(
            "POST",
            f"{API}/uploads",
            headers={
                **TUS,
                "Upload-Length": str(size),
                "Upload-Metadata": _metadata(space=self.space, path=self.path),
            },
        )
        location = response.headers.get("location")
        if not location:
            raise RemoteError(
                "The server created an upload but sent no Location: it does not speak tus "
                "as expected. Ask its administrator.",
                kind=ErrorKind.UNAVAILABLE,
            )
        # Location may be relative (RFC 9110 section 10.2.2); the token goes nowhere else.
        url = response.url.join(location)
        if _origin(url) != _origin(response.url):
            raise RemoteError(
                f"The server placed the upload on another site ({url.host}); refusing to send "
                "the token there. Ask the server's administrator.",
                kind=ErrorKind.UNAVAILABLE,
            )
        self.state.put(self.key, {"fingerprint": self._fingerprint, "url": str(url)})
        return str(url)

    def _send(self, url: str, offset: int, size: int, on_progress: Progress) -> None:
        checksum_failures = transport_failures = 0
        with self.source.open("rb") as handle:
            while True:
                handle.seek(offset)
                chunk = read_chunk(handle, min(CHUNK, size - offset))
                if offset < size and not chunk:
                    raise RemoteError(
                        f"{self.source} became shorter during the upload; run the command "
                        "again once it is complete.",
                        kind=ErrorKind.CONFLICT,
                    )
                headers = {
                    **TUS,
                    "Content-Type": OFFSET_STREAM,
                    "Upload-Offset": str(offset),
                    "Upload-Checksum": _checksum(chunk),
                }
                try:
                    response = self.client.http.patch(url, content=chunk, headers=headers)
                except httpx.TransportError as exc:
                    transport_failures += 1
                    if transport_failures > TRANSPORT_RETRIES:
                        raise transport_error(self.client.url, exc) from None
                    time.sleep(2**transport_failures)
                    offset = self._offset(url)
                    continue
                if response.status_code == 460 and checksum_failures < CHECKSUM_RETRIES:
                    checksum_failures += 1  # damaged on the way: send it again
                    continue
                if response.status_code == 409:
                    # Our offset is stale (another run sent bytes meanwhile): take the
                    # server's. Else the 409 is the completed file's own conflict.
                    held = self._offset(url)
                    if held not in {offset, size}:
                        offset = held
                        continue
                self.client.check(response)
                new_offset = _offset_of(response, default=offset + len(chunk))
                on_progress(new_offset - offset)
                offset, checksum_failures, transport_failures = new_offset, 0, 0
                if offset >= size:
                    return

    def _offset(self, url: str) -> int:
        return _offset_of(self.client.request("HEAD", url, headers=TUS))


TUS = {"Tus-Resumable": TUS_VERSION}


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _offset_of(response: httpx.Response, *, default: int | None = None) -> int:
    value = response.headers.get("upload-offset")
    if value is not None and value.isdigit():
        return int(value)
    if default is not None:
        return default
    raise RemoteError(
        "The server's tus answer has no valid Upload-Offset. Ask its administrator.",
        kind=ErrorKind.UNAVAILABLE,
    )
