"""`egide serve`: the HTTP server on the embedded default, initialised on first start."""

from __future__ import annotations

import gc
import secrets

import typer

from egide.cli.common import console, handled_errors, state
from egide.core.config import Settings
from egide.services.access.policy import GlobalRole, Principal
from egide.services.registry import build_services, initialise


def _first_start(settings: Settings) -> None:
    """Create the vault and its first administrator; show the secrets once."""
    result = initialise(settings)
    password = secrets.token_urlsafe(18)
    svc = build_services(settings)
    try:
        svc.accounts.create_user(
            Principal.system(),
            "admin",
            password=password,
            roles=[GlobalRole.ADMIN],
            must_change_password=True,
        )
    finally:
        svc.close()
    console.print(f"[green]New vault created[/] in {settings.data_dir}.")
    console.print(
        "[bold]Recovery code[/] (write it down, keep it offline; shown only once):\n"
        f"  {result.recovery_code}"
    )
    console.print(
        "[bold]First administrator[/]: admin\n"
        f"  one-time password: {password}\n"
        "  It must be changed at the first sign-in (POST /api/v1/me/password), or now\n"
        "  with `egide user passwd admin --no-must-change`; until then it allows nothing else.\n"
        "  Then an authenticator app is set up, as for every user (setting mfa_required)."
    )


def warn_without_mfa(settings: Settings) -> None:
    """Say it loudly when no second factor is required: never right with real data."""
    if settings.mfa_required == "none":
        console.print(
            "[yellow]Warning: no second factor is required (EGIDE_MFA_REQUIRED=none): a "
            "password alone opens a session. For tests and development only.[/]"
        )


def warn_without_antivirus(settings: Settings) -> None:
    """Once at start: uploads are stored unscanned when no clamd is configured."""
    if not settings.clamd_address:
        console.print(
            "[yellow]Warning: antivirus scanning is off (EGIDE_CLAMD_ADDRESS is empty): "
            "uploads are stored without a scan. See docs/antivirus.md.[/]"
        )


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Listen address (default: the setting, 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Listen port (default: the setting, 8000)."),
) -> None:
    """Serve Égide over HTTP. On first start, create the vault and its first administrator."""
    import uvicorn

    from egide.web.app import create_app
    from egide.web.observability import configure_logging

    settings = state(ctx).settings
    with handled_errors():
        if not settings.resolved_key_file.exists() and not settings.resolved_escrow_file.exists():
            _first_start(settings)
        services = build_services(settings)
    listen_host = host or settings.host
    listen_port = port or settings.port
    console.print(
        f"Égide is served on [bold]http://{listen_host}:{listen_port}[/] (Ctrl-C stops it)."
    )
    if listen_host not in {"127.0.0.1", "::1", "localhost"}:
        console.print(
            "[yellow]Listening beyond loopback: put a TLS reverse proxy in front and set "
            "EGIDE_SECURE_COOKIES=true.[/]"
        )
    warn_without_mfa(settings)
    warn_without_antivirus(settings)
    configure_logging()
    app = create_app(services, background=True)
    # The objects of start-up live as long as the server: out of the collector's
    # full passes, which otherwise walk them all and stall requests (tens of ms).
    gc.collect()
    gc.freeze()
    try:
        uvicorn.run(
            app,
            host=listen_host,
            port=listen_port,
            log_level="warning",
            access_log=False,
            proxy_headers=True,
            server_header=False,
        )
    finally:
        services.close()
