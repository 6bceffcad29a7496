"""`egide notify run-pending`: one notification pass, for a cron job.

`egide serve` derives notifications by itself (a worker beside the audit and
mail workers); this command does one round on a vault without a running
server: notifications from the audit log as sequenced so far, then the
digests that are due. Their mail waits in the outbox for `egide mail
send-pending` (docs/notifications.md).
"""

from __future__ import annotations

import typer

from egide.cli.common import JsonOption, handled_errors, out, print_json, services

app = typer.Typer(help="Notifications of followed folders.", no_args_is_help=True)


@app.command("run-pending")
def run_pending(ctx: typer.Context, json_output: bool = JsonOption) -> None:
    """Turn the new audit entries into notifications and enqueue the digests due, then stop."""
    with handled_errors():
        svc = services(ctx)
        svc.audit.sequencer.run_pending()
        written = svc.notifications.deriver.run_pending()
        digests = svc.notifications.digests.run_pass()
    if json_output:
        print_json({"notifications": written, "digests": digests})
    else:
        out.print(f"{written} notification(s) written, {digests} digest(s) enqueued.", markup=False)
