"""`egide login` by the device authorization flow (RFC 8628; issue 5, item 3).

The command asks the server for a code (`POST /api/v1/device/authorize`),
shows the approval page's address and the code, then polls
(`POST /api/v1/device/token`) at the interval the server gives, slower when
it answers `slow_down`, until the user approved or denied it in the browser,
signed in with their second factor, or the code expired. The polling is
bounded by the code's lifetime, and Ctrl-C stops it (`remote_errors`: exit
130, nothing stored). The code is shown, never put in a URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.panel import Panel
from rich.text import Text

from egide.cli.common import console
from egide.cli.remote.client import API, RemoteClient
from egide.cli.remote.errors import RemoteError
from egide.core.errors import ErrorKind

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
#: RFC 8628 3.5: each slow_down adds 5 seconds, unless the server says the new interval.
SLOW_DOWN_STEP = 5

_REFUSALS = {
    "access_denied": (
        "The login was denied in the browser: no token was made. Run egide login again to retry.",
        ErrorKind.FORBIDDEN,
    ),
    "expired_token": (
        "The code expired before it was approved. Run egide login again for a new code, and "
        "approve it within the time shown.",
        ErrorKind.UNAUTHENTICATED,
    ),
    "invalid_grant": (
        "The server no longer knows this login request (already used or expired). Run egide "
        "login again.",
        ErrorKind.UNAUTHENTICATED,
    ),
}


def oauth_post(client: RemoteClient, path: str, data: dict[str, str]) -> dict[str, Any]:
    """POST form parameters to an OAuth endpoint: its JSON, errors (400) included."""
    response = client.send("POST", path, data=data)
    if response.status_code == 404 and path.endswith("/authorize"):
        raise RemoteError(
            f"{client.url} does not offer the login through the browser (an older server): "
            "log in with --password instead.",
            kind=ErrorKind.NOT_FOUND,
            status=404,
        )
    if response.status_code == 400:
        body = client.json_of(response)
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return body
    client.check(response)
    body = client.json_of(response)
    if not isinstance(body, dict):
        raise TypeError("not a JSON object")
    return body


def show_code(grant: dict[str, Any]) -> None:
    """The address and the code, French first, in a panel the eye finds."""
    uri, code = str(grant["verification_uri"]), str(grant["user_code"])
    minutes = max(1, int(grant.get("expires_in", 600)) // 60)
    body = Text()
    body.append("Ouvrez ")
    body.append(uri, style="bold cyan")
    body.append(" et saisissez le code ")
    body.append(code, style="bold")
    body.append(f"\n(connecté avec votre second facteur ; il expire dans {minutes} min).\n\n")
    body.append("Open ", style="dim")
    body.append(uri, style="bold cyan")
    body.append(" and enter the code ", style="dim")
    body.append(code, style="bold")
    body.append(f"\n(signed in with your second factor; it expires in {minutes} min).", style="dim")
    console.print(Panel(body, title=f"egide login — {code}", expand=False))
    console.print("En attente de l'approbation… / Waiting for the approval… (Ctrl-C to stop)")


def device_login(
    client: RemoteClient,
    *,
    client_name: str,
    scopes: tuple[str, ...],
    days: int,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    show: Callable[[dict[str, Any]], None] = show_code,
) -> dict[str, Any]:
    """Run the flow to its end; the token answer (RFC 6749 5.1), or a RemoteError."""
    grant = oauth_post(
        client,
        f"{API}/device/authorize",
        {"client_name": client_name, "scope": " ".join(scopes), "expires_in_days": str(days)},
    )
    if "error" in grant:
        reason = grant.get("error_description") or grant["error"]
        raise RemoteError(f"The server refused the login request: {reason}", kind=ErrorKind.INVALID)
    show(grant)
    interval = max(1, int(grant.get("interval") or 5))
    deadline = monotonic() + int(grant["expires_in"])
    while True:
        sleep(interval)
        if monotonic() > deadline:
            raise RemoteError(_REFUSALS["expired_token"][0], kind=ErrorKind.UNAUTHENTICATED)
        answer = oauth_post(
            client,
            f"{API}/device/token",
            {"grant_type": GRANT_TYPE, "device_code": str(grant["device_code"])},
        )
        error = answer.get("error")
        if error is None:
            return answer
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval = max(interval + SLOW_DOWN_STEP, int(answer.get("interval") or 0))
            continue
        message, kind = _REFUSALS.get(
            str(error),
            (
                f"The server refused the login: {answer.get('error_description') or error}",
                ErrorKind.INVALID,
            ),
        )
        raise RemoteError(message, kind=kind)
