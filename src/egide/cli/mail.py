"""`egide mail ...`: the outbox from the command line, and `egide user language`.

`egide serve` sends mail by itself (a worker beside the audit worker); these
commands are for a cron job on a vault without a running server
(`send-pending`), monitoring (`status`) and checking the SMTP settings
(`test`). The guarantees are in `egide.services.mail.sender` and docs/mail.md.
"""

from __future__ import annotations

import typer

from egide.cli.accounts import users
from egide.cli.common import JsonOption, console, handled_errors, out, print_json, services
from egide.services.access.policy import Principal
from egide.services.mail.errors import MailNotConfigured

app = typer.Typer(help="The outgoing mail: send, watch, test.", no_args_is_help=True)

SYSTEM = Principal.system()


@app.command("send-pending")
def send_pending(ctx: typer.Context, json_output: bool = JsonOption) -> None:
    """Send the mail that is due now, then stop (for cron; exit code 13 if the SMTP
    server cannot be reached or no server is configured)."""
    with handled_errors():
        svc = services(ctx)
        if svc.mail.sender.config is None:
            raise MailNotConfigured()
        report = svc.mail.send_pending()
    if json_output:
        print_json(
            {
                "sent": report.sent,
                "deferred": report.deferred,
                "failed": report.failed,
                "error": report.error,
            }
        )
    else:
        out.print(
            f"{report.sent} sent, {report.deferred} deferred (will be retried), "
            f"{report.failed} refused for good.",
            markup=False,
        )
    if report.error is not None and report.sent == 0:
        console.print(f"The SMTP server could not be used: {report.error}.", markup=False)
        raise typer.Exit(13)


@app.command("status")
def status(ctx: typer.Context, json_output: bool = JsonOption) -> None:
    """Counts of pending, sent and failed mail, the oldest pending one's age, the last error."""
    with handled_errors():
        result = services(ctx).mail.status(SYSTEM)
    if json_output:
        print_json(result)
        return
    out.print(
        f"SMTP server: {'configured' if result.configured else 'not configured (mail waits)'}\n"
        f"Pending: {result.pending}\nSent: {result.sent}\nFailed: {result.failed}",
        markup=False,
    )
    if result.oldest_pending_seconds is not None:
        out.print(f"Oldest pending: {result.oldest_pending_seconds} s", markup=False)
    if result.last_error:
        out.print(f"Last error: {result.last_error}", markup=False)


@app.command("test")
def send_test(
    ctx: typer.Context,
    address: str = typer.Argument(..., help="Where to send the test message."),
    language: str | None = typer.Option(
        None, "--language", help="fr or en (default: the `language` setting)."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Put a test message in the outbox; `egide serve` or `egide mail send-pending` sends it."""
    with handled_errors():
        mail_id = services(ctx).mail.send_test(SYSTEM, address, language=language)
    if json_output:
        print_json({"id": mail_id})
        return
    out.print(
        f"Test message {mail_id} queued; `egide mail status` shows when it has left.",
        markup=False,
    )


@users.command("language")
def user_language(
    ctx: typer.Context,
    username: str,
    language: str = typer.Argument(..., help="fr, en, or default (the `language` setting)."),
) -> None:
    """Set the language of the mail a user receives."""
    with handled_errors():
        services(ctx).mail.set_language(
            SYSTEM, username, None if language == "default" else language
        )
    out.print(f"Mail to {username} will be written in: {language}.", markup=False)
