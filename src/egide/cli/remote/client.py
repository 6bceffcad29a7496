"""An httpx client for one remote: base URL, bearer token, timeouts, problem documents.

Every answer of status 400 or more becomes a RemoteError carrying the
problem document's `detail` (RFC 9457) and the kind its status maps to.
The token travels only in the Authorization header of requests to the
remote's own origin: redirects are not followed, and a tus upload URL on
another origin is refused (tus.py).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx

from egide import __version__
from egide.cli.remote.config import Remote
from egide.cli.remote.errors import RemoteError, kind_of, transport_error
from egide.core.errors import ErrorKind
from egide.core.i18n import language_from_environment

API = "/api/v1"
#: Long reads: completing a large upload decrypts and re-encrypts it before answering.
TIMEOUT = httpx.Timeout(30.0, read=600.0)
_LOOPBACK_NAMES = {"localhost", "localhost."}


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_url(url: str, *, insecure_http: bool) -> str:
    """The remote's base URL, checked: https, or http to loopback (or when allowed)."""
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in {"http", "https"} or not parsed.host:
        raise RemoteError(
            f"{url!r} is not a server address: give it as https://HOST[:PORT][/PATH].",
            kind=ErrorKind.INVALID,
        )
    if parsed.userinfo or parsed.query or parsed.fragment:
        raise RemoteError(
            "Give the server address without a user, password, query or fragment: "
            "https://HOST[:PORT][/PATH]. The password is asked separately.",
            kind=ErrorKind.INVALID,
        )
    if parsed.scheme == "http" and not is_loopback(parsed.host) and not insecure_http:
        raise RemoteError(
            f"Refusing plain http:// to {parsed.host}: your password and the API token would "
            "cross the network unencrypted. Use the https:// address of the TLS reverse proxy "
            "in front of Égide, or pass --insecure-http if this network is trusted.",
            kind=ErrorKind.INVALID,
        )
    return str(parsed.copy_with(path=parsed.path.rstrip("/") or "/")).rstrip("/")


def space_root(space: str) -> str:
    return f"{API}/spaces/{quote(space, safe='')}"


def space_path(space: str, kind: str, path: str = "") -> str:
    """`/api/v1/spaces/{space}/{kind}/{path}`, each segment percent-encoded."""
    segments = [quote(part, safe="") for part in path.split("/") if part]
    return f"{space_root(space)}/{kind}/{'/'.join(segments)}"


def problem_detail(response: httpx.Response) -> tuple[str, str]:
    """(detail, type) of an error answer, read without trusting its shape."""
    body: Any = None
    if "json" in response.headers.get("content-type", ""):
        try:
            body = response.json()
        except ValueError:
            body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return body["detail"], str(body.get("type", ""))
    reason = response.reason_phrase or "error"
    return f"The server answered {response.status_code} {reason}.", ""


class RemoteClient:
    """Requests to one remote, authenticated by its token (or by nothing, to log in)."""

    def __init__(
        self,
        url: str,
        *,
        remote: Remote | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.remote = remote
        headers = {
            "User-Agent": f"egide-cli/{__version__}",
            # The server's messages in the terminal's language, as the local commands.
            "Accept-Language": language_from_environment(os.environ),
        }
        if remote is not None:
            headers["Authorization"] = f"Bearer {remote.token}"
        self.http = httpx.Client(
            base_url=url,
            headers=headers,
            timeout=TIMEOUT,
            follow_redirects=False,
            transport=transport,
        )

    @classmethod
    def for_remote(cls, remote: Remote) -> RemoteClient:
        return cls(remote.url, remote=remote)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # Requests ------------------------------------------------------------------

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The answer whatever its status (the caller checks it: the OAuth endpoints of
        the device flow answer their own errors); a network failure is a RemoteError."""
        try:
            return self.http.request(method, url, **kwargs)
        except httpx.RequestError as exc:
            raise transport_error(self.url, exc) from None

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = self.send(method, url, **kwargs)
        self.check(response)
        return response

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        """The JSON body of a successful answer."""
        return self.json_of(self.request(method, url, **kwargs))

    def json_of(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise RemoteError(
                f"{self.url} answered something other than JSON: is it the address of an "
                "Égide server (and not of a login page in front of it)?",
                kind=ErrorKind.UNAVAILABLE,
            ) from None

    @contextmanager
    def stream(self, method: str, url: str, **kwargs: Any) -> Iterator[httpx.Response]:
        try:
            with self.http.stream(method, url, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                self.check(response)
                yield response
        except httpx.RequestError as exc:
            raise transport_error(self.url, exc) from None

    def check(self, response: httpx.Response) -> None:
        status = response.status_code
        if 300 <= status < 400:
            raise RemoteError(
                f"The server redirected to {response.headers.get('location', '?')}: log in "
                "again with that address (redirects are not followed, so the token only goes "
                "where you said).",
                kind=ErrorKind.INVALID,
                status=status,
            )
        if status < 400:
            return
        detail, problem_type = problem_detail(response)
        if status == 401 and self.remote is not None:
            detail = (
                f"{detail} The token of remote {self.remote.name!r} was refused (revoked, "
                f"expired, or its account disabled): log in again with `egide login "
                f"{self.remote.url} --remote-name {self.remote.name}`."
            )
        elif status >= 500 and not problem_type:
            detail = f"{detail} Try again later, or ask the server's administrator."
        raise RemoteError(detail, kind=kind_of(status, problem_type), status=status)
