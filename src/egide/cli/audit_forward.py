"""`egide audit forward`: send the audit log to the syslog collector from the command line.

`egide serve` forwards by itself when `EGIDE_AUDIT_SYSLOG_URL` is set; this
command is for a vault written by command-line tools only, to catch a new
collector up, or to check the connection (`--once`). The rules (what a
message holds, the cursor, what TCP and UDP guarantee) are in
`egide.services.audit.forward`.
"""

from __future__ import annotations

import time

import typer

from egide.cli.audit import app
from egide.cli.common import JsonOption, console, handled_errors, out, print_json, services
from egide.services.audit.forward import NoSyslogCollector, SyslogForwarder
from egide.services.audit.worker import AuditWorker

#: Seconds between two passes of the loop (as the server's worker).
INTERVAL = 1.0


@app.command("forward")
def forward(
    ctx: typer.Context,
    once: bool = typer.Option(
        False,
        "--once",
        help="Send what is pending now, then stop (exit code 13 if the collector is down): "
        "for a cron job or a connection check.",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Forward audit entries to the syslog collector of EGIDE_AUDIT_SYSLOG_URL (RFC 5424)."""
    with handled_errors():
        svc = services(ctx)
        forwarder = SyslogForwarder.from_settings(svc.db, svc.settings)
        if forwarder is None:
            raise NoSyslogCollector(
                "No syslog collector is configured: set EGIDE_AUDIT_SYSLOG_URL to "
                "tcp://host:port or udp://host:port."
            )
        if not once:
            console.print(f"Forwarding the audit log to {forwarder.collector} (Ctrl-C stops).")
            _loop(AuditWorker(svc.audit, forwarder=forwarder))
        svc.audit.sequencer.run_pending()
        sent = forwarder.forward_pending()
        next_seq = forwarder.next_seq()
    if json_output:
        print_json({"sent": sent, "next_seq": next_seq, "collector": str(forwarder.collector)})
        return
    out.print(
        f"{sent} audit entries sent to {forwarder.collector}; the next to send is {next_seq}.",
        markup=False,
    )


def _loop(worker: AuditWorker) -> None:
    """The server's worker (sequence, sign when due, forward) until Ctrl-C.

    Failures are logged by the worker and retried, as in `egide serve`.
    """
    worker.start()
    try:
        while True:
            time.sleep(INTERVAL)
    finally:
        worker.stop()
