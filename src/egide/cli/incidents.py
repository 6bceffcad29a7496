"""`egide incident list|show|release|confirm|restore`, `egide restore` and
`egide space canaries`: ransomware incidents, roll-backs and decoy files
(docs/ransomware.md).

The local administrator acts as the system principal, which may manage
incidents (it has file-system access to the data directory anyway).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer

from egide.cli import spaces
from egide.cli.common import (
    JsonOption,
    count_progress,
    handled_errors,
    out,
    print_json,
    services,
)
from egide.core.errors import InvalidInput
from egide.services.access.policy import Principal
from egide.services.ransomware.rollback import RollbackReport, report_dict
from egide.services.ransomware.service import IncidentInfo

app = typer.Typer(help="Ransomware incidents: review, release, confirm.", no_args_is_help=True)

SYSTEM = Principal.system()


def _as_dict(info: IncidentInfo) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": info.id,
        "user_id": info.user_id,
        "principal_kind": info.principal_kind,
        "principal_id": info.principal_id,
        "status": info.status,
        "reason": info.reason,
        "score": info.score,
        "opened_at": info.opened_at.isoformat(),
        "first_suspicious_at": info.first_suspicious_at.isoformat(),
        "closed_at": None if info.closed_at is None else info.closed_at.isoformat(),
        "closed_by": info.closed_by,
        "event_count": info.event_count,
        "restored_at": None if info.restored_at is None else info.restored_at.isoformat(),
    }
    if info.events is not None:
        value["events"] = [
            {
                "kind": e.kind,
                "at": e.at.isoformat(),
                "space_id": e.space_id,
                "node_id": e.node_id,
                "version_id": e.version_id,
                "weight": e.weight,
                "signals": e.signals,
            }
            for e in info.events
        ]
    return value


def _line(info: IncidentInfo) -> str:
    return (
        f"{info.id}  {info.status:<9}  {info.opened_at:%Y-%m-%d %H:%M:%S}  user {info.user_id}"
        f"  via {info.principal_kind}  {info.reason}  score {info.score:.1f}"
        f"  {info.event_count} event(s)"
    )


@app.command("list")
def list_incidents(
    ctx: typer.Context,
    status: str | None = typer.Option(
        None, help="Only incidents in this state: open, released or confirmed."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Incidents, newest first."""
    with handled_errors():
        items = services(ctx).incidents.list(SYSTEM, status=status)
    if json_output:
        print_json([_as_dict(i) for i in items])
        return
    if not items:
        out.print("No incident.")
    for info in items:
        out.print(_line(info), markup=False)


@app.command("show")
def show(ctx: typer.Context, incident_id: str, json_output: bool = JsonOption) -> None:
    """One incident and every version, rename and delete it holds."""
    with handled_errors():
        info = services(ctx).incidents.show(SYSTEM, incident_id)
    if json_output:
        print_json(_as_dict(info))
        return
    out.print(_line(info), markup=False)
    out.print(f"first suspicious action: {info.first_suspicious_at:%Y-%m-%d %H:%M:%S}")
    for e in info.events or []:
        signals = ",".join(e.signals) or "-"
        out.print(
            f"  {e.at:%H:%M:%S}  {e.kind:<7} space {e.space_id} node {e.node_id}"
            f" version {e.version_id or '-'}  +{e.weight:g}  {signals}",
            markup=False,
        )


@app.command("release")
def release(ctx: typer.Context, incident_id: str, json_output: bool = JsonOption) -> None:
    """A false alarm: give the user back writing and downloading."""
    with handled_errors():
        info = services(ctx).incidents.release(SYSTEM, incident_id)
    if json_output:
        print_json(_as_dict(info))
    else:
        out.print(f"Incident {info.id} released: user {info.user_id} may work again.")


@app.command("confirm")
def confirm(ctx: typer.Context, incident_id: str, json_output: bool = JsonOption) -> None:
    """An attack: keep the user suspended and mark the incident confirmed."""
    with handled_errors():
        info = services(ctx).incidents.confirm(SYSTEM, incident_id)
    if json_output:
        print_json(_as_dict(info))
    else:
        out.print(f"Incident {info.id} confirmed: user {info.user_id} stays suspended.")


def _print_report(report: RollbackReport, *, with_trashed: bool, json_output: bool) -> None:
    if json_output:
        print_json({**report_dict(report, with_trashed=with_trashed), "dry_run": report.dry_run})
        return
    prefix = "Dry run, nothing changed: would have " if report.dry_run else ""
    line = (
        f"{prefix}restored {report.restored} file(s), un-deleted {report.undeleted}, "
        f"reverted {report.renamed_back} rename(s) or move(s)"
    )
    if with_trashed:
        line += f", moved {report.trashed} newer item(s) to the trash"
    out.print(f"{line}; {report.skipped} already as they were.", markup=False)
    for c in report.conflicts:
        out.print(f"  kept: space {c.space_id} node {c.node_id} ({c.reason})", markup=False)
    if report.conflicts:
        out.print(
            f"{len(report.conflicts)} item(s) kept as they are (changed by someone else "
            "since, or their place is taken): check them by hand.",
            markup=False,
        )


@app.command("restore")
def restore(
    ctx: typer.Context,
    incident_id: str,
    dry_run: bool = typer.Option(False, "--dry-run", help="Count only; change nothing."),
    json_output: bool = JsonOption,
) -> None:
    """Roll back what the incident's user changed since its first suspicious action:
    contents as new versions, deleted items out of the trash, renames reverted.
    Nothing is destroyed; run it again to resume after an interruption."""
    with handled_errors():
        svc = services(ctx)
        with count_progress("rolling back") as advance:
            report = svc.rollback.restore_incident(
                SYSTEM, incident_id, dry_run=dry_run, progress=advance
            )
    _print_report(report, with_trashed=False, json_output=json_output)


def parse_instant(value: str) -> dt.datetime:
    """An ISO 8601 instant with its time zone (`Z` or an offset)."""
    try:
        instant = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise InvalidInput(
            "Give the instant as an ISO 8601 date and time with its time zone, for "
            "example 2026-11-30T06:00:00Z or 2026-11-30T07:00:00+01:00.",
            field="at",
        )
    return instant


def point_in_time(
    ctx: typer.Context,
    space: str,
    at: str,
    *,
    path: str,
    dry_run: bool,
    json_output: bool,
) -> None:
    """`egide restore --space S --at T [--path F] [--dry-run]` (registered with the
    version form of `egide restore`, cli/files.py): put a space or folder back as it
    was at an instant. Nothing is destroyed; run it again to resume."""
    with handled_errors():
        instant = parse_instant(at)
        svc = services(ctx)
        with count_progress("restoring") as advance:
            report = svc.rollback.restore_at(
                SYSTEM, space, instant, path=path, dry_run=dry_run, progress=advance
            )
    _print_report(report, with_trashed=True, json_output=json_output)


@spaces.app.command("canaries")
def canaries(
    ctx: typer.Context,
    slug: str,
    enable: bool = typer.Option(
        False, "--enable", help="Put a decoy in the root and each first-level folder."
    ),
    json_output: bool = JsonOption,
) -> None:
    """A space's canary files (decoys whose touch contains the user); `--enable` adds them."""
    with handled_errors():
        svc = services(ctx)
        written = svc.canaries.enable(SYSTEM, slug) if enable else []
        paths = svc.canaries.list(SYSTEM, slug)
    if json_output:
        print_json({"written": written, "canaries": paths})
        return
    for path in written:
        out.print(f"written: {path}", markup=False)
    if not paths:
        out.print("No canary in this space. Add them with --enable.")
    for path in paths:
        out.print(path, markup=False)
