"""`egide audit export` and `egide audit archive`, registered on `egide audit`.

The work lives in `egide.services.audit.export` and `.archive`; this module
reads the options and prints. Both act as the local system principal: the
command line has file-system access to the data directory anyway.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from egide.cli.audit import app
from egide.cli.common import JsonOption, console, handled_errors, out, print_json, services
from egide.services.access.policy import Principal
from egide.services.audit.archive import archive as archive_entries
from egide.services.audit.export import export_bundle, parse_time


@app.command("export")
def export(
    ctx: typer.Context,
    out_dir: Path = typer.Option(
        ...,
        "--out",
        file_okay=False,
        help="A new or empty directory for the bundle; never an earlier bundle.",
    ),
    since: str | None = typer.Option(
        None, "--since", help="Entries from this time on: RFC 3339 with offset, or a date (UTC)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Entries before this time (excluded): RFC 3339, or a date (UTC)."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Write the live log (or a time window of it) as a bundle an auditor checks without Égide."""
    with handled_errors():
        summary = export_bundle(
            services(ctx).audit,
            Principal.system(),
            out_dir,
            since=None if since is None else parse_time(since, option="--since"),
            until=None if until is None else parse_time(until, option="--until"),
        )
    bundle = summary.bundle
    if json_output:
        print_json(
            {
                "directory": str(summary.directory),
                "first_seq": bundle.first_seq,
                "end_seq": bundle.end_seq,
                "entries": bundle.entries,
                "checkpoint_size": bundle.checkpoint_size,
                "archived_end": summary.archived_end,
            }
        )
        return
    out.print(
        f"Exported entries {bundle.first_seq} to {bundle.end_seq - 1} ({bundle.entries}) with "
        f"the signed checkpoint of {bundle.checkpoint_size} entries to {summary.directory}.",
        markup=False,
    )
    if summary.archived_end:
        console.print(
            f"Entries 0 to {summary.archived_end - 1} are archived (retention) and not in the "
            "live log: their archive bundles are under the audit archive directory.",
            markup=False,
        )
    console.print(
        "An auditor checks it with tools/verify_audit_bundle.py and the verifier key you "
        "published (`egide audit key`): see docs/audit.md.",
        markup=False,
    )


@app.command("archive")
def archive(
    ctx: typer.Context,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Say what would be archived; write and delete nothing."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Move entries older than the retention into a signed archive bundle; erase their contexts."""
    with handled_errors():
        svc = services(ctx)
        result = archive_entries(
            svc.audit,
            Principal.system(),
            svc.settings.resolved_audit_archive_dir,
            retention=dt.timedelta(days=svc.settings.audit_retention_days),
            dry_run=dry_run,
        )
    if json_output:
        print_json(
            {
                "dry_run": result.dry_run,
                "first_seq": result.first_seq,
                "end_seq": result.end_seq,
                "entries": result.entries,
                "cutoff": result.cutoff,
                "location": None if result.location is None else str(result.location),
                "checkpoint_size": result.checkpoint_size,
                "contexts_erased": result.contexts_erased,
            }
        )
        return
    cutoff = result.cutoff.strftime("%Y-%m-%d %H:%M UTC")
    if result.location is None:
        out.print(f"Nothing to archive: no live entry is older than {cutoff}.", markup=False)
        return
    last = result.end_seq - 1
    if result.dry_run:
        out.print(
            f"Would archive entries {result.first_seq} to {last} ({result.entries}, older than "
            f"{cutoff}) to {result.location}.",
            markup=False,
        )
        return
    out.print(
        f"Archived entries {result.first_seq} to {last} ({result.entries}, older than {cutoff}) "
        f"to {result.location}; {result.contexts_erased} context records erased.",
        markup=False,
    )
