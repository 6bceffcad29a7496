"""Errors raised by the account service.

    InvalidInput
    ├── WeakPassword            the password policy refused a new password
    └── WrongCurrentPassword    self-service change with a wrong current password
    NotFound
    ├── UserNotFound
    ├── GroupNotFound
    └── TokenNotFound           missing, or another user's token
    Conflict
    ├── UsernameTaken
    ├── GroupNameTaken
    └── LastAdmin               the change would leave no enabled administrator
    Forbidden
    ├── TokenNotAllowed         a token that this principal may not create
    └── PasswordChangeRequired  someone else chose the password: change it first
    Unauthenticated
    ├── BadCredentials          unknown user, wrong password, SSO-only account
    ├── AccountDisabled         right password, disabled account
    ├── AccountGone             the account behind a session no longer exists
    └── InvalidToken            malformed, unknown, expired, revoked token
    EgideError (kind throttled)
    └── LoginThrottled          too many failed log-ins: wait `retry_after` seconds

The authentication errors carry one fixed message each, so a caller cannot
tell an unknown user from a wrong password, nor one bad token from another.
"""

from __future__ import annotations

from egide.core.errors import (
    Conflict,
    EgideError,
    ErrorKind,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)

#: Waits from this long on are told in minutes.
_MINUTES_FROM = 120


class WeakPassword(InvalidInput):
    code = "weak-password"


class WrongCurrentPassword(InvalidInput):
    code = "wrong-current-password"

    def __init__(self) -> None:
        super().__init__(
            "The current password is wrong. Type it again, or ask an administrator to "
            "reset your password.",
            field="current_password",
        )


class UserNotFound(NotFound):
    code = "user-not-found"

    def __init__(self, username: str) -> None:
        super().__init__("No user named {username}.", username=username)


class GroupNotFound(NotFound):
    code = "group-not-found"

    def __init__(self, name: str) -> None:
        super().__init__("No group named {name}.", name=name)


class TokenNotFound(NotFound):
    code = "token-not-found"

    def __init__(self) -> None:
        super().__init__("No such API token, or it is not yours.")


class UsernameTaken(Conflict):
    code = "username-taken"

    def __init__(self, username: str) -> None:
        super().__init__(
            "The username {username} is already taken. Choose another one.", username=username
        )


class GroupNameTaken(Conflict):
    code = "group-name-taken"

    def __init__(self, name: str) -> None:
        super().__init__("A group named {name} already exists. Choose another name.", name=name)


class LastAdmin(Conflict):
    code = "last-admin"

    def __init__(self) -> None:
        super().__init__(
            "This would leave no enabled administrator. Give the admin role to another "
            "account first."
        )


class TokenNotAllowed(Forbidden):
    code = "token-not-allowed"


class BadCredentials(Unauthenticated):
    code = "bad-credentials"

    def __init__(self) -> None:
        super().__init__("Wrong username or password.")


class AccountDisabled(Unauthenticated):
    code = "account-disabled"

    def __init__(self) -> None:
        super().__init__("This account is disabled. Contact your administrator.")


class AccountGone(Unauthenticated):
    code = "account-gone"

    def __init__(self) -> None:
        super().__init__("This account no longer exists. Contact your administrator.")


class InvalidToken(Unauthenticated):
    code = "invalid-token"

    def __init__(self) -> None:
        super().__init__("This API token is invalid, expired or revoked. Create a new one.")


class LoginThrottled(EgideError):
    """An attempt refused unjudged by the back-off (`accounts/throttle.py`).

    Its message is the same whatever the name tried, so it tells nothing about
    which accounts exist; `retry_after` (seconds) becomes the HTTP Retry-After.
    """

    kind = ErrorKind.THROTTLED
    code = "login-throttled"

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        if retry_after < _MINUTES_FROM:
            super().__init__(
                "Too many failed log-in attempts. Wait {seconds} s, then try again.",
                seconds=retry_after,
            )
        else:
            super().__init__(
                "Too many failed log-in attempts. Wait {minutes} min, then try again.",
                minutes=-(-retry_after // 60),
            )


class PasswordChangeRequired(Forbidden):
    """A one-time or reset password: nothing is allowed but choosing one's own."""

    code = "password-change-required"

    def __init__(self) -> None:
        super().__init__(
            "Your password was chosen by an administrator: choose your own before doing "
            "anything else (POST /api/v1/me/password, or the page that asks for it)."
        )
