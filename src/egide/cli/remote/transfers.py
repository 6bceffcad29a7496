"""put, get, ls, mv, rm and versions against a remote (`--remote NAME` or EGIDE_REMOTE).

Called by the local commands of cli/files.py once their arguments are
checked; they print the same messages and tables. The acting user is the
one who logged in (`--user` is not used). A download is written beside its
destination as `.NAME.egide-part`, checked against the version's SHA-256,
then renamed; an upload of `tus.THRESHOLD` bytes or more goes through tus
and resumes when the same command is run again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import typer
from rich.progress import (
    Progress,
    TaskID,
)
from rich.table import Table

from egide.cli.common import console, human_size, out, print_json, transfer_progress
from egide.cli.remote import config, tus
from egide.cli.remote.client import RemoteClient, space_path, space_root
from egide.cli.remote.errors import RemoteError, remote_errors
from egide.core.errors import ErrorKind

#: Bytes read from the local file per piece of a streamed PUT.
PIECE = 1 << 20
#: Folder entries asked for per page of a listing.
PAGE = 1000

RemoteOption = typer.Option(
    None,
    "--remote",
    envvar="EGIDE_REMOTE",
    help="Run against this remote (see `egide login`) over HTTP instead of the local data "
    "directory; `default` names the default remote (env EGIDE_REMOTE).",
)


@contextmanager
def _client(name: str) -> Iterator[RemoteClient]:
    remote = config.load().resolve(name)
    with RemoteClient.for_remote(remote) as client:
        yield client


def _timestamp(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _jsonable(item: dict[str, Any]) -> dict[str, Any]:
    """An API object with its times written as the local commands write them."""
    return {
        key: _timestamp(value).isoformat()
        if key.endswith("_at") and isinstance(value, str)
        else value
        for key, value in item.items()
    }


# Uploads --------------------------------------------------------------------------


def _pieces(stream: BinaryIO, progress: Progress, task: TaskID) -> Iterator[bytes]:
    while piece := stream.read(PIECE):
        progress.advance(task, len(piece))
        yield piece


def _put_stream(
    client: RemoteClient,
    stream: BinaryIO,
    size: int | None,
    space: str,
    path: str,
    *,
    if_match: str | None,
    no_overwrite: bool,
) -> dict[str, Any]:
    headers = {"Content-Type": "application/octet-stream"}
    if size is not None:
        headers["Content-Length"] = str(size)
    if if_match:
        headers["If-Match"] = f'"{if_match}"'
    if no_overwrite:
        headers["If-None-Match"] = "*"
    with transfer_progress() as progress:
        task = progress.add_task("upload", total=size)
        version: dict[str, Any] = client.json(
            "PUT",
            space_path(space, "content", path),
            content=_pieces(stream, progress, task),
            headers=headers,
        )
    return version


def _put_tus(client: RemoteClient, source: Path, space: str, path: str) -> int | None:
    """Upload through tus; the offset a remembered upload resumed from, if any."""
    remote = client.remote
    if remote is None:  # pragma: no cover - _client always gives the remote
        raise TypeError("a tus upload needs a remote with its token")
    key = tus.state_key(remote.name, remote.url, remote.username, space, path)
    uploader = tus.TusUploader(client, tus.UploadState(), key, source, space, path)
    with transfer_progress() as progress:
        task = progress.add_task("upload", total=None)

        def start(offset: int, size: int) -> None:
            progress.update(task, total=size, completed=offset)

        uploader.upload(start, lambda sent: progress.advance(task, sent))
    return uploader.resumed_from


def _current_version(client: RemoteClient, space: str, path: str) -> dict[str, Any]:
    items: list[dict[str, Any]] = client.json("GET", space_path(space, "versions", path))
    current = next((v for v in items if v.get("is_current")), None)
    if current is None:
        raise RemoteError("The upload completed but the file has no current version; retry.")
    return current


def _upload(
    client: RemoteClient,
    local: str,
    space: str,
    path: str,
    *,
    if_match: str | None,
    no_overwrite: bool,
) -> tuple[dict[str, Any], int | None]:
    """The new version, and the offset a resumed tus upload started from."""
    if local == "-":
        stdin = sys.stdin.buffer
        return _put_stream(
            client, stdin, None, space, path, if_match=if_match, no_overwrite=no_overwrite
        ), None
    source = Path(local)
    size = source.stat().st_size
    # tus uploads carry no condition: a conditional upload is one PUT, where the
    # server checks the condition as it commits.
    if size < tus.THRESHOLD or if_match or no_overwrite:
        with source.open("rb") as stream:
            return _put_stream(
                client, stream, size, space, path, if_match=if_match, no_overwrite=no_overwrite
            ), None
    resumed = _put_tus(client, source, space, path)
    return _current_version(client, space, path), resumed


def put(
    remote: str,
    local: str,
    space: str,
    path: str,
    *,
    if_match: str | None,
    no_overwrite: bool,
    json_output: bool,
) -> None:
    interrupted = "Interrupted. A large file resumes where it stopped: run the same command again."
    with remote_errors(interrupted=interrupted), _client(remote) as client:
        version, resumed = _upload(
            client, local, space, path, if_match=if_match, no_overwrite=no_overwrite
        )
    if json_output:
        print_json(_jsonable(version))
        return
    if resumed:
        console.print(f"Resumed an interrupted upload after {human_size(resumed)}.")
    console.print(f"[green]Stored[/] {human_size(version['size'])} as version {version['id']}.")


# Downloads ------------------------------------------------------------------------


def _expected(
    client: RemoteClient, space: str, path: str, version: str | None
) -> tuple[str | None, str | None]:
    """(version id, sha256) of what to download: the current version, or `version`."""
    if version is None:
        node: dict[str, Any] = client.json("GET", space_path(space, "nodes", path))
        if node.get("kind") != "file":
            raise RemoteError(
                "This is a folder, not a file: list it with `egide ls`.", kind=ErrorKind.CONFLICT
            )
        return node.get("version_id"), node.get("sha256")
    items: list[dict[str, Any]] = client.json("GET", space_path(space, "versions", path))
    match = next((v for v in items if v.get("id") == version), None)
    return version, match.get("sha256") if match else None


def _download(
    client: RemoteClient, space: str, path: str, version: str | None, sink: BinaryIO
) -> int:
    """Stream the file into `sink`; its size once its SHA-256 was checked."""
    version_id, expected = _expected(client, space, path, version)
    params = {"version": version_id} if version_id else None
    digest = hashlib.sha256()
    received = 0
    with (
        client.stream("GET", space_path(space, "content", path), params=params) as response,
        transfer_progress() as progress,
    ):
        length = response.headers.get("content-length")
        task = progress.add_task("download", total=int(length) if length else None)
        for chunk in response.iter_bytes():
            sink.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            progress.advance(task, len(chunk))
    if (length is not None and received != int(length)) or (
        expected is not None and digest.hexdigest() != expected
    ):
        raise RemoteError(
            "The downloaded bytes do not match the file's size or SHA-256 (damaged on the "
            "way); nothing was kept. Run the command again.",
            kind=ErrorKind.INTEGRITY,
        )
    return received


def get(remote: str, space: str, path: str, local: str, *, version: str | None) -> None:
    destination = None if local == "-" else Path(local)
    with remote_errors(), _client(remote) as client:
        if destination is None:
            size = _download(client, space, path, version, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        partial = destination.with_name(f".{destination.name}.egide-part")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        try:
            with os.fdopen(os.open(partial, flags, 0o600), "wb") as handle:
                size = _download(client, space, path, version, handle)
                handle.flush()
                os.fsync(handle.fileno())
            partial.replace(destination)
        finally:
            partial.unlink(missing_ok=True)
    console.print(f"[green]Saved[/] {human_size(size)} to {local}.")


# The tree -------------------------------------------------------------------------


def _listing(client: RemoteClient, space: str, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page: dict[str, Any] = client.json(
            "GET", space_path(space, "nodes", path), params={"offset": offset, "limit": PAGE}
        )
        if "items" not in page:
            raise RemoteError("This is a file, not a folder.", kind=ErrorKind.CONFLICT)
        items += page["items"]
        following = page.get("next_offset")
        offset = following if isinstance(following, int) and following > offset else None
    return items


def ls(remote: str, space: str, path: str, *, json_output: bool) -> None:
    with remote_errors(), _client(remote) as client:
        items = _listing(client, space, path)
    if json_output:
        print_json([_jsonable(item) for item in items])
        return
    table = Table("name", "size", "modified", "version", box=None)
    for item in items:
        folder = item["kind"] == "folder"
        table.add_row(
            item["name"] + ("/" if folder else ""),
            "" if folder else human_size(item["size"]),
            _timestamp(item["modified_at"]).strftime("%Y-%m-%d %H:%M"),
            item.get("version_id") or "",
        )
    out.print(table)


def mv(remote: str, space: str, source: str, destination: str) -> None:
    with remote_errors(), _client(remote) as client:
        client.request(
            "POST",
            f"{space_root(space)}/move",
            json={"from": source, "to": destination},
        )
    console.print("Moved.")


def rm(remote: str, space: str, path: str) -> None:
    with remote_errors(), _client(remote) as client:
        item = client.json("DELETE", space_path(space, "nodes", path))
    console.print(f"Moved to the trash (item {item['id']}).")


def versions(remote: str, space: str, path: str, *, json_output: bool) -> None:
    with remote_errors(), _client(remote) as client:
        items: list[dict[str, Any]] = client.json("GET", space_path(space, "versions", path))
    if json_output:
        print_json([_jsonable(item) for item in items])
        return
    table = Table("version", "size", "created", "current", "restored from", box=None)
    for item in items:
        table.add_row(
            item["id"],
            human_size(item["size"]),
            _timestamp(item["created_at"]).strftime("%Y-%m-%d %H:%M:%S"),
            "*" if item["is_current"] else "",
            item.get("restored_from") or "",
        )
    out.print(table)
