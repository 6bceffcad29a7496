"""Errors of remote mode, and their exit codes.

    RemoteError     anything to tell the user: a message saying what to do, and
                    an ErrorKind for the exit code (none: exit code 1)

An HTTP answer becomes a RemoteError here, by its status, through the same
`EXIT_CODES` table the local commands use. A message never holds a token.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import typer

from egide.cli.common import EXIT_CODES, console, fail
from egide.core.errors import ErrorKind

#: HTTP status -> error kind (the inverse of web/problems.py STATUS, plus tus's 460).
STATUS_KINDS: dict[int, ErrorKind] = {
    400: ErrorKind.INVALID,
    401: ErrorKind.UNAUTHENTICATED,
    403: ErrorKind.FORBIDDEN,
    404: ErrorKind.NOT_FOUND,
    409: ErrorKind.CONFLICT,
    410: ErrorKind.NOT_FOUND,
    412: ErrorKind.PRECONDITION,
    413: ErrorKind.TOO_LARGE,
    416: ErrorKind.INVALID,
    422: ErrorKind.REJECTED,
    423: ErrorKind.LOCKED,
    429: ErrorKind.THROTTLED,
    460: ErrorKind.INTEGRITY,
    503: ErrorKind.UNAVAILABLE,
}


class RemoteError(Exception):
    """A failure to report: `message` says what happened and what to do."""

    def __init__(
        self, message: str, *, kind: ErrorKind | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.kind, 1) if self.kind is not None else 1


def kind_of(status: int, problem_type: str = "") -> ErrorKind | None:
    if status == 500:
        # The server answers 500 with a problem document only for data that
        # failed verification; any other 500 is a crash (exit code 1).
        return ErrorKind.INTEGRITY if problem_type.startswith("urn:egide:problem:") else None
    return STATUS_KINDS.get(status)


def transport_error(url: str, exc: httpx.RequestError) -> RemoteError:
    """A network failure, said without the request (its headers hold the token)."""
    if isinstance(exc, httpx.TimeoutException):
        what = "did not answer in time"
    elif isinstance(exc, httpx.ConnectError):
        what = "cannot be reached"
    elif not isinstance(exc, httpx.TransportError):
        what = f"sent an answer that could not be read ({type(exc).__name__})"
    else:
        what = f"dropped the connection ({type(exc).__name__})"
    return RemoteError(
        f"The server {url} {what}. Check the address and your network, then run the command again.",
        kind=ErrorKind.UNAVAILABLE,
    )


@contextmanager
def remote_errors(*, interrupted: str = "Interrupted: nothing partial was kept.") -> Iterator[None]:
    """Print a RemoteError as `Error: ...` with its exit code; Ctrl-C exits 130."""
    try:
        yield
    except RemoteError as exc:
        fail(exc.message, code=exc.exit_code)
    except OSError as exc:
        # A local file: unreadable source, full disk, missing permission.
        where = f" ({exc.filename})" if exc.filename else ""
        fail(f"{exc.strerror or exc}{where}. Fix this, then run the command again.", code=1)
    except (KeyError, TypeError, AttributeError):
        # A JSON answer of an unexpected shape: a proxy's page, another server.
        fail(
            "The server's answer is not what Égide sends: check that the remote's address is "
            "an Égide server of a compatible version (egide login again if it moved).",
            code=1,
        )
    except KeyboardInterrupt:
        console.print(f"[yellow]{interrupted}[/]")
        raise typer.Exit(130) from None
