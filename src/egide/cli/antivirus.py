"""`egide scan`: rescan held and recent files with clamd (docs/antivirus.md)."""

from __future__ import annotations

import typer

from egide.cli.common import (
    JsonOption,
    count_progress,
    handled_errors,
    out,
    print_json,
    services,
)
from egide.services.access.policy import Principal

SYSTEM = Principal.system()


def scan(
    ctx: typer.Context,
    since: int | None = typer.Option(
        None,
        "--since",
        min=0,
        help="Also rescan files written in the last DAYS days (default: the setting "
        "antivirus_rescan_days, 7).",
        metavar="DAYS",
    ),
    held_only: bool = typer.Option(
        False, "--held-only", help="Only the files held awaiting a scan or too large to scan."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Rescan files with clamd: held ones (awaiting a scan) and recent ones."""
    with handled_errors():
        svc = services(ctx)
        with count_progress("scanning") as advance:
            report = svc.antivirus.rescan(
                SYSTEM, since_days=since, held_only=held_only, progress=advance
            )
    if json_output:
        print_json(report)
    else:
        out.print(
            f"Scanned {report.scanned} file content(s) with signatures {report.db_version}: "
            f"{report.clean} clean, {report.held} still held, {report.infected} infected."
        )
        if report.infected:
            out.print(
                "[red]Threats found[/]: those files can no longer be downloaded; the "
                "administrators were alerted (audit action antivirus.infected)."
            )
    if report.infected:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(scan)
