"""Entry point of the `egide` command."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import typer
from pydantic import ValidationError

import egide.cli.audit_export  # registers `egide audit export` and `egide audit archive`
import egide.cli.audit_forward  # registers `egide audit forward` on `egide audit`
import egide.cli.audit_reports  # noqa: F401 - registers `egide audit report` on `egide audit`
from egide.cli import (
    accounts,
    antivirus,
    audit,
    files,
    incidents,
    links,
    mail,
    maintenance,
    notify,
    serve,
    spaces,
)
from egide.cli.common import CliState, console, fail, handled_errors, print_json, read_secret_line
from egide.cli.remote import commands as remote_commands
from egide.core.config import Settings
from egide.services.access.policy import GlobalRole, Principal
from egide.services.accounts.passwords import check_password_policy
from egide.services.audit.context import RequestContext, request_context
from egide.services.registry import build_services, initialise

app = typer.Typer(
    name="egide",
    help="Égide: an encrypted vault for health documents. Administration and file "
    "operations on a local data directory.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(accounts.users, name="user")
app.add_typer(accounts.groups, name="group")
app.add_typer(spaces.app, name="space")
app.add_typer(files.trash, name="trash")
app.add_typer(maintenance.keys, name="keys")
app.add_typer(audit.app, name="audit")
app.add_typer(mail.app, name="mail")  # also registers `egide user language`
app.add_typer(links.app, name="link")  # also registers `egide space links`
app.add_typer(incidents.app, name="incident")
app.add_typer(notify.app, name="notify")
files.register(app)
maintenance.register(app)
antivirus.register(app)
app.command()(serve.serve)
app.command()(remote_commands.login)
app.command()(remote_commands.logout)


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        "-d",
        envvar="EGIDE_DATA_DIR",
        help="Data directory (env EGIDE_DATA_DIR).",
    ),
) -> None:
    try:
        settings = Settings() if data_dir is None else Settings(data_dir=data_dir)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'setting'}: {e['msg']}" for e in exc.errors()
        )
        fail(
            f"Invalid configuration ({problems}). Fix the EGIDE_* variable or the TOML file.",
            code=2,
        )
    except (OSError, ValueError) as exc:  # EGIDE_CONFIG names a missing or malformed file
        fail(f"Cannot read the configuration file named by EGIDE_CONFIG: {exc}", code=2)
    # Everything Égide writes (database, WAL, blobs, keys) is for its own user only.
    os.umask(0o077)
    state = CliState(settings)
    ctx.obj = state
    ctx.call_on_close(state.close)
    # Sealed beside this command's audit events: it ran at the console, as this system user.
    ctx.with_resource(
        request_context(
            RequestContext(user_agent=f"egide-cli; os-user={_os_user()}", channel="cli")
        )
    )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return str(os.getuid())


@app.command()
def init(
    ctx: typer.Context,
    admin: str | None = typer.Option(None, help="Also create this first administrator."),
    admin_password_stdin: bool = typer.Option(
        False, help="Read the administrator's password from standard input."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Create a new vault: data directory, key file, recovery escrow and database."""
    settings: Settings = ctx.obj.settings
    with handled_errors():
        admin_password = None
        if admin:
            # Read and check the password first: a refused one must not leave a
            # half-made vault whose recovery code was never shown.
            admin_password = read_secret_line(
                "Administrator password", from_stdin=admin_password_stdin
            )
            check_password_policy(admin, admin_password)
        result = initialise(settings)
        if admin and admin_password is not None:
            svc = build_services(settings)
            try:
                svc.accounts.create_user(
                    Principal.system(), admin, password=admin_password, roles=[GlobalRole.ADMIN]
                )
            finally:
                svc.close()
    if json_output:
        print_json(
            {
                "data_dir": str(settings.data_dir),
                "key_file": str(result.key_file),
                "escrow_file": str(result.escrow_file),
                "recovery_code": result.recovery_code,
                "admin": admin,
            }
        )
        return
    console.print(f"[green]Vault created[/] in {settings.data_dir}")
    console.print(f"Key file: {result.key_file} (mode 0600)")
    if (
        result.key_file.is_relative_to(settings.data_dir.absolute())
        or not result.key_file.is_absolute()
    ):
        console.print(
            "[yellow]The key file is inside the data directory: fine for a trial; in "
            "production set EGIDE_KEY_FILE to a path outside it and its backups.[/]"
        )
    console.print(f"Recovery escrow: {result.escrow_file}")
    console.print(
        "\n[bold]Recovery code — write it down now and keep it offline (a safe). It is shown "
        "only once and is the only way to rebuild a lost key file:[/]"
    )
    # The code goes to standard output alone, so it can be captured by a script.
    print(result.recovery_code)  # noqa: T201 - shown once, on purpose
    if admin:
        console.print(f"Administrator {admin} created.")


def run() -> None:
    app()


if __name__ == "__main__":
    run()
