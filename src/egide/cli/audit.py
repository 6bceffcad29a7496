"""`egide audit key`, `egide audit checkpoint` and `egide audit verify`.

The checks live in `egide.services.audit.verify`; this module only prints.
"""

from __future__ import annotations

import base64
from pathlib import Path

import typer

from egide.cli.common import (
    EXIT_CODES,
    JsonOption,
    console,
    handled_errors,
    out,
    print_json,
    services,
)
from egide.core.errors import ErrorKind
from egide.core.i18n import render
from egide.services.access.policy import Principal
from egide.services.audit.erasure import ContextEraser
from egide.services.audit.export import parse_time

SYSTEM = Principal.system()

app = typer.Typer(
    help="The audit log: its verifier key, signed checkpoints, verification.",
    no_args_is_help=True,
)


@app.command("key")
def key(ctx: typer.Context, json_output: bool = JsonOption) -> None:
    """Print the verifier key that checks this log's checkpoints (public; hand it out)."""
    with handled_errors():
        vkey = services(ctx).audit.verifier_key()
    if json_output:
        print_json({"vkey": vkey})
        return
    out.print(vkey, markup=False, highlight=False)


@app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    if_due: bool = typer.Option(
        False,
        "--if-due",
        help="Sign only if the thresholds (EGIDE_AUDIT_CHECKPOINT_ENTRIES, _SECONDS) say one "
        "is due: for a cron job run every minute.",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Sign a checkpoint of the log now and print it (a C2SP signed note)."""
    with handled_errors():
        signed = services(ctx).audit.checkpoint(force=not if_due)
    if signed is None:  # only with --if-due: nothing was due
        if json_output:
            print_json(None)
        else:
            console.print("No checkpoint due.")
        return
    if json_output:
        print_json(
            {
                "size": signed.size,
                "root": base64.b64encode(signed.root).decode(),
                "note": signed.note,
                "created_at": signed.created_at,
            }
        )
        return
    out.file.write(signed.note)


@app.command("verify")
def verify(
    ctx: typer.Context,
    from_checkpoint: Path | None = typer.Option(
        None,
        "--from-checkpoint",
        exists=True,
        dir_okay=False,
        readable=True,
        help="A signed checkpoint kept outside (the WORM share): the log must extend it.",
    ),
    vkeys: list[str] = typer.Option(
        [],
        "--vkey",
        help="Also trust this verifier key (repeatable): for checkpoints signed before a lost "
        "key file was rebuilt.",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Recompute every leaf hash and the tree, check every checkpoint; name the first bad entry."""
    with handled_errors():
        note = None
        if from_checkpoint is not None:
            note = from_checkpoint.read_bytes().decode("utf-8", errors="replace")
        report = services(ctx).audit.verify(outside_note=note, extra_vkeys=vkeys)
        finding = report.finding
        if finding is not None and not json_output:
            raise finding.error
    head = base64.b64encode(report.head).decode()
    if json_output:
        print_json(
            {
                "clean": report.clean,
                "entries": report.entries,
                "archived": report.archived,
                "head": head,
                "checkpoints": report.checkpoints,
                "latest_checkpoint": report.latest_checkpoint,
                "from_checkpoint": report.from_checkpoint,
                "finding": None
                if finding is None
                else {
                    "kind": finding.kind,
                    "seq": finding.seq,
                    "code": finding.error.code,
                    "message": render(finding.error, "en"),
                },
            }
        )
        if finding is not None:
            raise typer.Exit(EXIT_CODES[ErrorKind.INTEGRITY])
        return
    latest = "none" if report.latest_checkpoint is None else str(report.latest_checkpoint)
    outside = "" if report.from_checkpoint is None else f"; extends {report.from_checkpoint}"
    archived = (
        ""
        if not report.archived
        else f" (the first {report.archived} archived, checked by their leaf hashes)"
    )
    out.print(
        f"Audit log verified: {report.entries} entries{archived}, head {head}, latest "
        f"checkpoint {latest}{outside}.",
        markup=False,
    )


@app.command("erase")
def erase(
    ctx: typer.Context,
    user: str = typer.Option(..., "--user", help="The person whose audit contexts are erased."),
    until: str | None = typer.Option(
        None,
        "--until",
        help="Erase only the contexts of events before this time (RFC 3339 or a date); "
        "default: all of them.",
    ),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    json_output: bool = JsonOption,
) -> None:
    """Erase the personal contexts of a person's audit events (a GDPR erasure request).

    Client addresses, user agents, paths and purposes sealed beside the events
    this person performed are deleted; the entries themselves stay (ids only),
    so the log still verifies. Recorded as `audit.erase`.
    """
    with handled_errors():
        svc = services(ctx)
        user_id = svc.accounts.get_user(SYSTEM, user).id
        before = None if until is None else parse_time(until, option="--until")
        if not yes and not json_output:
            typer.confirm(
                f"Erase the audit contexts of {user}"
                + ("" if before is None else f" before {before.isoformat()}")
                + "? This cannot be undone",
                abort=True,
            )
        result = ContextEraser(svc.audit).erase_person(SYSTEM, user_id, until=before)
    if json_output:
        print_json({"user_id": result.user_id, "contexts_erased": result.contexts_erased})
        return
    console.print(f"{result.contexts_erased} audit contexts of {user} erased.")
