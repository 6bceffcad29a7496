"""Session errors (doors map Unauthenticated to 401 and Forbidden to 403)."""

from __future__ import annotations

from egide.core.errors import Forbidden, NotFound, Unauthenticated


class NoSession(Unauthenticated):
    code = "unauthenticated"

    def __init__(self) -> None:
        super().__init__("You are not signed in, or your session has ended. Sign in again.")


class SessionLocked(Unauthenticated):
    """Idle too long: the session is kept, but needs the password again (API.md)."""

    code = "session-locked"

    def __init__(self) -> None:
        super().__init__(
            "Your session was locked after a period of inactivity. Enter your password to "
            "unlock it; nothing you were doing is lost."
        )


class SessionExpired(Unauthenticated):
    code = "session-expired"

    def __init__(self) -> None:
        super().__init__("Your session reached its maximum duration and has ended. Sign in again.")


class CsrfRejected(Forbidden):
    code = "csrf"

    def __init__(self) -> None:
        super().__init__(
            "This request lacks a valid X-CSRF-Token header. Reload the page and try again; "
            "scripts should use an API token instead of a session."
        )


class SessionNotFound(NotFound):
    code = "not-found"

    def __init__(self) -> None:
        super().__init__("No such session.")
