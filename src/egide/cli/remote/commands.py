"""`egide login URL` and `egide logout`: an API token per remote, in the remotes file.

Logging in asks for an API token with the `files:read` and `files:write`
scopes, checks that it works through that address, and stores it
(config.py). By default the token comes through the device authorization
flow (RFC 8628, device.py): the command shows a code that the user approves
in the browser, signed in with their second factor (issue 5, item 3).
`--password` keeps the terminal-only way, for a machine with no browser at
hand: it opens a web session with the password, gives the second factor
when the server asks for one (a code typed by the user), creates the token
and ends the session. The password, the codes and the token never appear in
an argument, a log or a message.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import httpx
import typer

from egide.cli.common import console, fail
from egide.cli.remote import config
from egide.cli.remote.client import API, RemoteClient, normalise_url
from egide.cli.remote.config import Remote
from egide.cli.remote.device import device_login
from egide.cli.remote.errors import RemoteError, remote_errors
from egide.core.errors import ErrorKind

#: What the file commands need; nothing administrative.
SCOPES = ("files:read", "files:write")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line.strip():
            fail("Expected the password on standard input, got nothing.", code=2)
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        fail("No terminal to ask for the password: pass it with --password-stdin.", code=2)
    password: str = typer.prompt("Password", hide_input=True)
    return password


def _read_code(from_stdin: bool) -> str:
    """The second factor: the next line of standard input, or a prompt (not echoed)."""
    if from_stdin:
        line = sys.stdin.readline().strip()
        if not line:
            fail(
                "This account signs in with a second factor: give the code of your "
                "authenticator app (or a recovery code) on the line after the password.",
                code=2,
            )
        return line
    if not sys.stdin.isatty():
        fail("No terminal to ask for the second-factor code: use --password-stdin.", code=2)
    code: str = typer.prompt("Code (authenticator app, or a recovery code)", hide_input=True)
    return code


def _session_headers(client: RemoteClient, response: httpx.Response) -> dict[str, str]:
    """What a session request carries: its CSRF token and its cookie.

    The cookie goes back by hand: with EGIDE_SECURE_COOKIES it is marked
    Secure, and a cookie jar would not return it to http://127.0.0.1.
    """
    csrf = client.json_of(response).get("csrf_token")
    headers = {
        "X-CSRF-Token": str(csrf),
        "Cookie": "; ".join(f"{k}={v}" for k, v in response.cookies.items()),
    }
    client.http.cookies.clear()
    return headers


def _second_factor(
    client: RemoteClient, headers: dict[str, str], signed: dict[str, Any], code_stdin: bool
) -> dict[str, str]:
    """Give the second factor when the server asks; the renewed session's headers."""
    if signed.get("mfa_enrolment_required"):
        raise RemoteError(
            f"Your account must use a second factor and has none yet. Sign in to the web "
            f"interface at {client.url} and set up an authenticator app (or call POST "
            f"{API}/me/mfa/totp), then run egide login again.",
            kind=ErrorKind.FORBIDDEN,
        )
    if not signed.get("mfa_required"):
        return headers
    code = _read_code(code_stdin)
    verified = client.request("POST", f"{API}/session/mfa", json={"code": code}, headers=headers)
    return _session_headers(client, verified)


def _create_token(
    client: RemoteClient, username: str, password: str, name: str, days: int, *, stdin: bool
) -> dict[str, Any]:
    """Sign in (with the second factor if asked), create the token, sign out (even when
    the token could not be made)."""
    session = client.request(
        "POST", f"{API}/session", json={"username": username, "password": password}
    )
    headers = _session_headers(client, session)
    try:
        headers = _second_factor(client, headers, client.json_of(session), stdin)
        token: dict[str, Any] = client.json(
            "POST",
            f"{API}/tokens",
            json={"name": name, "scopes": list(SCOPES), "expires_in_days": days},
            headers=headers,
        )
    finally:
        try:
            client.request("DELETE", f"{API}/session", headers=headers)
        except RemoteError:
            console.print("[yellow]Could not end the web session; it expires by itself.[/]")
    return token


def _revoke(remote: Remote) -> bool:
    """Revoke the remote's token on its server; False if the server already refused it."""
    with RemoteClient.for_remote(remote) as client:
        try:
            client.request("DELETE", f"{API}/tokens/{remote.token_id}")
        except RemoteError as exc:
            if exc.status in {401, 404}:
                return False
            raise
    return True


def _by_password(
    client: RemoteClient,
    username: str | None,
    name: str,
    days: int,
    *,
    stdin: bool,
) -> tuple[str, dict[str, Any]]:
    """The terminal-only way (--password): (username, token)."""
    if not username:
        if not sys.stdin.isatty():
            fail("Give your username with --username.", code=2)
        username = str(typer.prompt("Username")).strip()
    password = _read_password(stdin)
    try:
        return username, _create_token(client, username, password, name, days, stdin=stdin)
    finally:
        del password


def _by_device(
    client: RemoteClient, username: str | None, name: str, days: int
) -> tuple[str, dict[str, Any]]:
    """The device flow: (the approving user's name, token). When --username named
    someone else, the token just made is revoked and the login refused."""
    answer = device_login(client, client_name=name, scopes=SCOPES, days=days)
    token = {
        "id": str(answer["token_id"]),
        "secret": str(answer["access_token"]),
        "expires_at": str(answer.get("expires_at", "")),
    }
    bearer = {"Authorization": f"Bearer {token['secret']}"}
    # Also checks the token through this address (a proxy may drop Authorization).
    me = client.json("GET", f"{API}/me", headers=bearer)
    approved_by = str(me["username"])
    if username and username.strip().lower() != approved_by.lower():
        client.request("DELETE", f"{API}/tokens/{token['id']}", headers=bearer)
        raise RemoteError(
            f"The code was approved by {approved_by}, not {username.strip()}: the token was "
            "revoked and nothing stored. Approve it signed in as the right user, or leave "
            "--username out.",
            kind=ErrorKind.FORBIDDEN,
        )
    return approved_by, token


def login(
    url: str = typer.Argument(..., help="The server's address, e.g. https://egide.chu.fr."),
    username: str | None = typer.Option(
        None,
        help="Your username: asked by --password if not given; with the browser, the "
        "login is refused if another user approves it.",
    ),
    password: bool = typer.Option(
        False,
        "--password",
        help="Log in with your username, password and second-factor code typed here, for a "
        "machine with no browser at hand, instead of approving a code in the browser.",
    ),
    name: str | None = typer.Option(
        None, help="The API token's name, shown in your token list (default: the host name)."
    ),
    remote_name: str = typer.Option(
        config.DEFAULT_NAME, help="Store the token under this remote name."
    ),
    password_stdin: bool = typer.Option(
        False,
        help="Read the password from standard input (and, if the server asks for one, the "
        "second-factor code from the next line); implies --password.",
    ),
    expires_in_days: int = typer.Option(90, min=1, max=365, help="Token lifetime in days."),
    insecure_http: bool = typer.Option(
        False, help="Allow plain http:// to a host other than this machine."
    ),
) -> None:
    """Log in to a remote Égide server and store an API token for the file commands.

    By default, shows a code to approve in the browser (signed in with your second
    factor); --password asks for the password and code here instead.
    """
    with remote_errors(interrupted="Interrupted: no token was stored."):
        base = normalise_url(url, insecure_http=insecure_http)
        remote_name = config.check_name(remote_name)
        remotes = config.load()
        token_name = name or f"egide CLI on {socket.gethostname()}"[:100]
        with RemoteClient(base) as client:
            if password or password_stdin:
                username, token = _by_password(
                    client, username, token_name, expires_in_days, stdin=password_stdin
                )
            else:
                username, token = _by_device(client, username, token_name, expires_in_days)
        remote = Remote(
            name=remote_name,
            url=base,
            username=username,
            token_id=str(token["id"]),
            token=str(token["secret"]),
        )
        with RemoteClient.for_remote(remote) as client:
            # A proxy that drops Authorization would make every later command fail.
            client.request("GET", f"{API}/me")
        previous = remotes.remotes.get(remote_name)
        remotes.add(remote)
        path = config.save(remotes)
        if previous is not None and previous.token_id != remote.token_id:
            try:
                _revoke(previous)
            except RemoteError:
                console.print(
                    f"[yellow]The previous token of {remote_name!r} could not be revoked; it "
                    "expires by itself, or revoke it from the web interface.[/]"
                )
    default = " (the default remote)" if remotes.default == remote_name else ""
    console.print(
        f"[green]Logged in[/] to {base} as {username}: remote {remote_name!r}{default}, "
        f"token {token_name!r} valid until {str(token.get('expires_at', ''))[:10]}, stored "
        f"in {path} (mode 0600)."
    )
    console.print(f"Use it with --remote {remote_name} or EGIDE_REMOTE={remote_name}.")


def logout(
    remote: str = typer.Option(
        config.DEFAULT_NAME,
        "--remote",
        envvar="EGIDE_REMOTE",
        help="The remote to log out of (default: the default remote; env EGIDE_REMOTE).",
    ),
    forget: bool = typer.Option(
        False, help="Remove the token locally even if the server cannot be reached."
    ),
) -> None:
    """Revoke the remote's API token on its server and remove it from the remotes file."""
    with remote_errors():
        remotes = config.load()
        target = remotes.resolve(remote)
        try:
            revoked = _revoke(target)
        except RemoteError as exc:
            if not forget:
                raise RemoteError(
                    f"{exc.message} The token was NOT revoked and is still stored; run "
                    "logout again, or pass --forget to remove it anyway (then revoke it from "
                    "the web interface).",
                    kind=exc.kind,
                    status=exc.status,
                ) from None
            revoked = False
            console.print("[yellow]The token could not be revoked on the server.[/]")
        remotes.remove(target.name)
        config.save(remotes)
    if revoked:
        console.print(f"Logged out of {target.url}: token revoked and removed.")
    else:
        console.print(
            f"Token of {target.url} removed locally (the server had already refused it, or "
            "could not be reached)."
        )
