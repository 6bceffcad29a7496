"""`egide fsck`, `egide gc` and `egide keys ...`."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn

from egide.cli.common import (
    JsonOption,
    console,
    count_progress,
    fail,
    handled_errors,
    human_size,
    out,
    print_json,
    read_secret_line,
    services,
    state,
)
from egide.core.crypto.provider import FileKeyProvider
from egide.services.access.policy import Principal

keys = typer.Typer(help="Rotate and recover keys.", no_args_is_help=True)
SYSTEM = Principal.system()
_DURATION = re.compile(r"^(\d+)\s*([smhd]?)$")


def parse_duration(text: str) -> dt.timedelta:
    match = _DURATION.match(text.strip().lower())
    if not match:
        fail(
            f"Cannot read the duration {text!r}: use a number with s, m, h or d (e.g. 1h).", code=2
        )
    value, unit = int(match.group(1)), match.group(2) or "s"
    return dt.timedelta(
        **{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: value}
    )


def fsck(ctx: typer.Context, json_output: bool = JsonOption) -> None:
    """Decrypt every current file and check its SHA-256 and size against the database."""
    with handled_errors():
        svc = services(ctx)
        with Progress(
            TextColumn("checking"),
            BarColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as progress:
            task = progress.add_task("fsck", total=None)
            report = svc.maintenance.fsck(SYSTEM, progress=lambda n: progress.advance(task, n))
    if json_output:
        print_json({**report.__dict__, "clean": report.clean})
    else:
        out.print(f"Checked {report.checked} files ({human_size(report.bytes_checked)}).")
        for problem in report.problems:
            # A path starts with "/"; a trashed item's label does not.
            where = problem.path if problem.path.startswith("/") else f" {problem.path}"
            out.print(f"[red]BAD[/] {problem.space}{where}: {problem.problem}")
        for mismatch in report.usage_mismatches:
            out.print(f"[red]USAGE[/] {mismatch}")
        if report.orphan_blobs:
            out.print(f"[yellow]{report.orphan_blobs} orphan blob(s)[/]: run `egide gc`.")
        if report.partial_writes:
            out.print(f"[yellow]{report.partial_writes} interrupted write(s)[/]: run `egide gc`.")
        out.print("[green]Store clean.[/]" if report.clean else "[red]Problems found.[/]")
    if not report.clean:
        raise typer.Exit(1)


def gc(
    ctx: typer.Context,
    grace: str | None = typer.Option(
        None, help="Only delete unreferenced blobs older than this (default: the setting)."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Empty old trash, prune old versions and delete unreferenced blobs.

    Nothing inside its protection window is ever purged.
    """
    with handled_errors():
        report = services(ctx).maintenance.gc(
            SYSTEM, grace=parse_duration(grace) if grace else None
        )
    if json_output:
        print_json(report)
        return
    out.print(
        f"Trash items purged: {report.trash_purged} (still protected: {report.trash_protected}); "
        f"versions pruned: {report.versions_pruned}; contents erased: {report.contents_erased}; "
        f"blobs deleted: {report.blobs_deleted}; interrupted writes removed: "
        f"{report.partials_removed}."
    )


@keys.command("rotate")
def keys_rotate(
    ctx: typer.Context,
    space: str | None = typer.Option(
        None, help="Rotate this space's key instead of the master key."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Rotate the master key (or a space key). No file is re-encrypted; re-run to resume."""
    with handled_errors():
        svc = services(ctx)
        with count_progress("re-wrapping keys") as advance:
            if space:
                report = svc.rotation.rotate_space(SYSTEM, space, progress=advance)
            else:
                report = svc.rotation.rotate_master(SYSTEM, progress=advance)
    if json_output:
        print_json(report)
        return
    verb = "Resumed and finished" if report.resumed else "Done"
    console.print(
        f"{verb}: key {report.new_key_id} is current; {report.rewrapped} item(s) re-wrapped."
    )


@keys.command("recover")
def keys_recover(
    ctx: typer.Context,
    escrow: Path | None = typer.Option(None, help="Recovery escrow file (default: the setting)."),
    key_file: Path | None = typer.Option(None, help="Key file to rebuild (default: the setting)."),
) -> None:
    """Rebuild a lost key file from the recovery escrow and the recovery code (stdin)."""
    settings = state(ctx).settings
    with handled_errors():
        code = read_secret_line("Recovery code", from_stdin=True)
        target = key_file or settings.resolved_key_file
        FileKeyProvider.recover(escrow or settings.resolved_escrow_file, code, target)
    console.print(f"[green]Key file rebuilt[/] at {target} (mode 0600).")


def register(app: typer.Typer) -> None:
    app.command()(fsck)
    app.command()(gc)
