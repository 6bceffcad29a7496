"""Errors of the second-factor service.

    InvalidInput
    └── InvalidMfaCode          wrong, expired or already used code
    NotFound
    └── NoTotpFactor            no authenticator set up (or none awaiting confirmation)
    Conflict
    └── TotpAlreadyEnrolled     a confirmed authenticator exists: remove it first
    Forbidden
    ├── MfaRequired             this session has not given its second factor yet
    └── MfaEnrolmentRequired    the user must set up a second factor first

A wrong code says nothing of why (wrong, too old, replayed): the three look
alike to whoever guesses.
"""

from __future__ import annotations

from egide.core.errors import Conflict, Forbidden, InvalidInput, NotFound


class InvalidMfaCode(InvalidInput):
    code = "invalid-mfa-code"

    def __init__(self) -> None:
        super().__init__(
            "This code is wrong, expired or already used. Type the 6-digit code your "
            "authenticator app shows now, or one of your recovery codes.",
            field="code",
        )


class NoTotpFactor(NotFound):
    code = "mfa-not-enrolled"

    def __init__(self) -> None:
        super().__init__(
            "No authenticator app is set up for this account. Set one up first "
            "(POST /api/v1/me/mfa/totp, or the page that offers it)."
        )


class TotpAlreadyEnrolled(Conflict):
    code = "mfa-already-enrolled"

    def __init__(self) -> None:
        super().__init__(
            "An authenticator app is already set up for this account. To use another one, "
            "remove it first with a current code (DELETE /api/v1/me/mfa/totp)."
        )


class MfaRequired(Forbidden):
    """Password given, second factor not yet: nothing is allowed but giving it."""

    code = "mfa-required"

    def __init__(self) -> None:
        super().__init__(
            "Your account signs in with a second factor: send the 6-digit code of your "
            "authenticator app, or a recovery code, to POST /api/v1/session/mfa (or type it "
            "on the page that asks for it) before doing anything else."
        )


class MfaEnrolmentRequired(Forbidden):
    """The policy requires a second factor and the user has none yet."""

    code = "mfa-enrolment-required"

    def __init__(self) -> None:
        super().__init__(
            "Your account must use a second factor and has none yet: set up an "
            "authenticator app (POST /api/v1/me/mfa/totp, then confirm it with its first "
            "code at POST /api/v1/me/mfa/totp/confirm, or follow the page that asks for it) "
            "before doing anything else."
        )
