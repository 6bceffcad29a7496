"""File commands: put, get, ls, mkdir, mv, cp, rm, versions, restore, trash."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import typer
from rich.progress import (
    Progress,
)
from rich.table import Table

from egide.cli.common import (
    JsonOption,
    UserOption,
    acting_user,
    console,
    fail,
    handled_errors,
    human_size,
    out,
    print_json,
    services,
    split_target,
    transfer_progress,
)
from egide.cli.incidents import point_in_time
from egide.cli.remote import transfers as remote_mode
from egide.cli.remote.transfers import RemoteOption

CHUNK = 1 << 20
trash = typer.Typer(help="List and restore deleted files and folders.", no_args_is_help=True)


def _chunks(stream: BinaryIO, progress: Progress, task: object) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        progress.advance(task, len(chunk))  # type: ignore[arg-type]
        yield chunk


def put(
    ctx: typer.Context,
    local: str = typer.Argument(..., help="Local file, or - for standard input."),
    target: str = typer.Argument(..., help="SPACE/PATH in the vault."),
    user: str | None = UserOption,
    if_match: str | None = typer.Option(
        None, help="Only replace this version (fails if someone changed the file since)."
    ),
    no_overwrite: bool = typer.Option(False, help="Fail if the file already exists."),
    json_output: bool = JsonOption,
    remote: str | None = RemoteOption,
) -> None:
    """Upload a file (a new file, or a new version of an existing one)."""
    space, path = split_target(target)
    if local != "-" and not Path(local).is_file():
        fail(f"{local} is not a readable file.", code=2)
    if remote:
        remote_mode.put(
            remote,
            local,
            space,
            path,
            if_match=if_match,
            no_overwrite=no_overwrite,
            json_output=json_output,
        )
        return
    with handled_errors():
        actor = acting_user(ctx, user)
        size = None if local == "-" else Path(local).stat().st_size
        with (
            sys.stdin.buffer if local == "-" else Path(local).open("rb") as stream,
            transfer_progress() as progress,
        ):
            task = progress.add_task("upload", total=size)
            version = services(ctx).files.write(
                actor,
                space,
                path,
                _chunks(stream, progress, task),
                if_match=if_match,
                if_none_match=no_overwrite,
                size_hint=size,
            )
    if json_output:
        print_json(version)
        return
    console.print(f"[green]Stored[/] {human_size(version.size)} as version {version.id}.")


def get(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="SPACE/PATH in the vault."),
    local: str = typer.Argument(..., help="Local file to write, or - for standard output."),
    user: str | None = UserOption,
    version: str | None = typer.Option(None, help="An older version id (see `egide versions`)."),
    force: bool = typer.Option(False, help="Overwrite an existing local file."),
    remote: str | None = RemoteOption,
) -> None:
    """Download a file. The local file appears only once complete and verified."""
    space, path = split_target(target)
    destination = None if local == "-" else Path(local)
    if destination is not None and destination.exists() and not force:
        fail(f"{local} already exists; pass --force to overwrite it.", code=6)
    if destination is not None and not destination.absolute().parent.is_dir():
        fail(f"The folder {destination.absolute().parent} does not exist; create it first.", code=2)
    if remote:
        remote_mode.get(remote, space, path, local, version=version)
        return
    with handled_errors():
        actor = acting_user(ctx, user)
        download = services(ctx).files.open(actor, space, path, version_id=version)
        if destination is None:
            for chunk in download.iter_bytes():
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        partial = destination.with_name(f".{destination.name}.egide-part")
        try:
            with partial.open("wb") as handle, transfer_progress() as progress:
                task = progress.add_task("download", total=download.size)
                for chunk in download.iter_bytes():
                    handle.write(chunk)
                    progress.advance(task, len(chunk))
                handle.flush()
                os.fsync(handle.fileno())
            partial.replace(destination)
        finally:
            partial.unlink(missing_ok=True)
    console.print(f"[green]Saved[/] {human_size(download.size)} to {local}.")


def ls(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="SPACE or SPACE/PATH."),
    user: str | None = UserOption,
    json_output: bool = JsonOption,
    remote: str | None = RemoteOption,
) -> None:
    """List a folder."""
    space, path = split_target(target)
    if remote:
        remote_mode.ls(remote, space, path, json_output=json_output)
        return
    with handled_errors():
        items = services(ctx).nodes.list_folder(acting_user(ctx, user), space, path)
    if json_output:
        print_json(items)
        return
    table = Table("name", "size", "modified", "version", box=None)
    for item in items:
        table.add_row(
            item.name + ("/" if item.kind == "folder" else ""),
            "" if item.kind == "folder" else human_size(item.size),
            item.modified_at.strftime("%Y-%m-%d %H:%M"),
            item.version_id or "",
        )
    out.print(table)


def mkdir(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="SPACE/PATH of the new folder."),
    parents: bool = typer.Option(False, "--parents", "-p", help="Create missing parents too."),
    user: str | None = UserOption,
) -> None:
    """Create a folder."""
    space, path = split_target(target)
    with handled_errors():
        services(ctx).nodes.mkdir(acting_user(ctx, user), space, path, parents=parents)
    console.print("Folder created.")


def mv(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="SPACE/PATH to move or rename."),
    destination: str = typer.Argument(..., help="SPACE/NEW-PATH (same space)."),
    user: str | None = UserOption,
    remote: str | None = RemoteOption,
) -> None:
    """Rename or move a file or folder inside its space."""
    space, src = split_target(source)
    dst_space, dst = split_target(destination)
    if dst_space.lower() != space.lower():
        fail("mv works inside one space; use cp to another space, then rm.", code=2)
    if remote:
        remote_mode.mv(remote, space, src, dst)
        return
    with handled_errors():
        services(ctx).nodes.move(acting_user(ctx, user), space, src, dst)
    console.print("Moved.")


def cp(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="SPACE/PATH to copy."),
    destination: str = typer.Argument(..., help="SPACE/PATH of the copy."),
    user: str | None = UserOption,
) -> None:
    """Copy a file or folder (no stored byte is duplicated inside a space)."""
    space, src = split_target(source)
    dst_space, dst = split_target(destination)
    with handled_errors():
        services(ctx).nodes.copy(acting_user(ctx, user), space, src, dst, to_slug=dst_space)
    console.print("Copied.")


def rm(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="SPACE/PATH to delete."),
    user: str | None = UserOption,
    remote: str | None = RemoteOption,
) -> None:
    """Move a file or folder to the trash (restorable with `egide trash restore`)."""
    space, path = split_target(target)
    if remote:
        remote_mode.rm(remote, space, path)
        return
    with handled_errors():
        item = services(ctx).nodes.delete(acting_user(ctx, user), space, path)
    console.print(f"Moved to the trash (item {item.id}).")


def versions(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="SPACE/PATH of a file."),
    user: str | None = UserOption,
    json_output: bool = JsonOption,
    remote: str | None = RemoteOption,
) -> None:
    """List a file's versions, newest first."""
    space, path = split_target(target)
    if remote:
        remote_mode.versions(remote, space, path, json_output=json_output)
        return
    with handled_errors():
        items = services(ctx).files.versions(acting_user(ctx, user), space, path)
    if json_output:
        print_json(items)
        return
    table = Table("version", "size", "created", "current", "restored from", box=None)
    for item in items:
        table.add_row(
            item.id,
            human_size(item.size),
            item.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "*" if item.is_current else "",
            item.restored_from or "",
        )
    out.print(table)


def restore(
    ctx: typer.Context,
    target: str | None = typer.Argument(None, help="SPACE/PATH of a file (with --version)."),
    version: str | None = typer.Option(None, help="The version to make current again."),
    user: str | None = UserOption,
    in_space: str | None = typer.Option(
        None, "--space", help="Point in time: the space to put back (with --at)."
    ),
    at: str | None = typer.Option(
        None, "--at", help="Point in time: the instant, e.g. 2026-11-30T06:00:00Z."
    ),
    folder: str = typer.Option("", "--path", help="Point in time: only this folder."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Point in time: count only."),
    json_output: bool = JsonOption,
) -> None:
    """Make an old version current again (as a new version; nothing is lost), or with
    --space and --at put a space or folder back as it was at an instant."""
    if in_space is not None or at is not None:
        if in_space is None or at is None or target is not None:
            fail("A point-in-time restore takes --space and --at, and no file.", code=2)
        point_in_time(ctx, in_space, at, path=folder, dry_run=dry_run, json_output=json_output)
        return
    if target is None or version is None:
        fail(
            "Give a file and --version to restore a version, or --space and --at to put "
            "a space back as it was at an instant.",
            code=2,
        )
    space, path = split_target(target)
    with handled_errors():
        info = services(ctx).files.restore_version(acting_user(ctx, user), space, path, version)
    console.print(f"Version {version} restored as version {info.id}.")


@trash.command("list")
def trash_list(
    ctx: typer.Context,
    space: str,
    user: str | None = UserOption,
    json_output: bool = JsonOption,
) -> None:
    """List a space's trash."""
    with handled_errors():
        items = services(ctx).nodes.trash(acting_user(ctx, user), space)
    if json_output:
        print_json(items)
        return
    table = Table("id", "name", "from", "size", "deleted", "purgeable after", box=None)
    for item in items:
        table.add_row(
            item.id,
            item.name + ("/" if item.kind == "folder" else ""),
            item.original_path or "(gone)",
            human_size(item.size),
            item.deleted_at.strftime("%Y-%m-%d %H:%M"),
            item.protected_until.strftime("%Y-%m-%d"),
        )
    out.print(table)


@trash.command("restore")
def trash_restore(
    ctx: typer.Context,
    space: str,
    item_id: str,
    name: str | None = typer.Option(None, help="Restore under another name."),
    user: str | None = UserOption,
) -> None:
    """Restore a trash item where it was (or at the space root if that folder is gone)."""
    with handled_errors():
        info = services(ctx).nodes.restore(acting_user(ctx, user), space, item_id, new_name=name)
    console.print(f"Restored as {info.path}.")


def register(app: typer.Typer) -> None:
    for command in (put, get, ls, mkdir, mv, cp, rm, versions, restore):
        app.command()(command)
