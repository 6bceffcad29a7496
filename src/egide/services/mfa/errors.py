"""Errors of the second-factor service.

    InvalidInput
    ├── InvalidMfaCode          wrong, expired or already used code
    └── PasskeyRejected         a passkey answer refused (counts as a wrong guess)
        ├── PasskeyMalformed        unreadable: truncated, tampered, not JSON
        ├── PasskeyWrongCeremony    a registration answer where a sign-in was asked, or back
        ├── PasskeyChallengeInvalid expired, already answered, or never asked
        ├── PasskeyWrongOrigin      made on another web address than Égide's
        ├── PasskeyWrongSite        made for another relying party (RP ID)
        ├── PasskeyUnknown          not registered, or not for this account
        ├── PasskeyBadSignature     the authenticator's signature does not verify
        ├── PasskeyUserNotVerified  no PIN or biometrics where they are required
        └── PasskeyCloned           its signature counter did not increase
    NotFound
    ├── NoTotpFactor            no authenticator set up (or none awaiting confirmation)
    ├── PasskeyNotFound         no such passkey of mine
    └── NoPasskey               a passkey sign-in asked of a user who has none
    Conflict
    ├── TotpAlreadyEnrolled     a confirmed authenticator exists: remove it first
    └── PasskeyAlreadyRegistered  this authenticator's credential is registered already
    Forbidden
    ├── MfaRequired             this session has not given its second factor yet
    └── MfaEnrolmentRequired    the user must set up a second factor first

A wrong code says nothing of why (wrong, too old, replayed): the three look
alike to whoever guesses. A refused passkey answer does say why (the
authenticator is not guessing; the person needs to know what to fix), except
that an unknown credential and another user's look alike (PasskeyUnknown):
telling them apart would confirm that a credential is registered to someone.
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
            "authenticator app, or a recovery code, to POST /api/v1/session/mfa, or use your "
            "passkey (POST /api/v1/session/mfa/passkey/options, then POST "
            "/api/v1/session/mfa/passkey), or follow the page that asks for it, before doing "
            "anything else."
        )


class MfaEnrolmentRequired(Forbidden):
    """The policy requires a second factor and the user has none yet."""

    code = "mfa-enrolment-required"

    def __init__(self) -> None:
        super().__init__(
            "Your account must use a second factor and has none yet: set up an "
            "authenticator app (POST /api/v1/me/mfa/totp, then confirm it with its first "
            "code at POST /api/v1/me/mfa/totp/confirm) or register a passkey (POST "
            "/api/v1/me/mfa/passkeys/options, then POST /api/v1/me/mfa/passkeys), or follow "
            "the page that asks for it, before doing anything else."
        )


# Passkeys (WebAuthn) --------------------------------------------------------------


class PasskeyRejected(InvalidInput):
    """A passkey answer (registration or assertion) that is refused."""

    code = "passkey-rejected"
    #: What the audit entry says (the code, unless the message hides a finer reason).
    audit_reason: str

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message, field="credential", **params)
        self.audit_reason = self.code


class PasskeyMalformed(PasskeyRejected):
    code = "passkey-malformed"

    def __init__(self) -> None:
        super().__init__(
            "The passkey answer cannot be read: it is incomplete or was altered on the way. "
            "Start again from the page, which asks your browser for a new one."
        )


class PasskeyWrongCeremony(PasskeyRejected):
    code = "passkey-wrong-ceremony"

    def __init__(self) -> None:
        super().__init__(
            "This passkey answer is of the wrong kind: a registration was sent where a "
            "sign-in was expected, or the reverse. Start again from the page."
        )


class PasskeyChallengeInvalid(PasskeyRejected):
    code = "passkey-challenge-invalid"

    def __init__(self) -> None:
        super().__init__(
            "This passkey request expired (after 5 minutes) or was already answered. Ask "
            "for a new one (the .../options call, or reload the page) and use your passkey "
            "again."
        )


class PasskeyWrongOrigin(PasskeyRejected):
    code = "passkey-wrong-origin"

    def __init__(self, origin: str) -> None:
        super().__init__(
            "This passkey answer was made on another web address than {origin}. Open Égide "
            "at {origin} and use your passkey there.",
            origin=origin,
        )


class PasskeyWrongSite(PasskeyRejected):
    code = "passkey-wrong-site"

    def __init__(self, rp_id: str) -> None:
        super().__init__(
            "This passkey answer was made for another site than {rp_id}. Use a passkey "
            "registered for {rp_id}.",
            rp_id=rp_id,
        )


class PasskeyUnknown(PasskeyRejected):
    code = "passkey-unknown"

    def __init__(self, *, other_user: bool = False) -> None:
        super().__init__(
            "This passkey is not registered for this account. Use one you registered in "
            "Égide, or another second factor."
        )
        # The audit log tells a known credential of another user from an unknown one.
        self.audit_reason = "passkey-other-user" if other_user else self.code


class PasskeyBadSignature(PasskeyRejected):
    code = "passkey-bad-signature"

    def __init__(self) -> None:
        super().__init__(
            "The signature of this passkey answer is not valid: it was altered or made by "
            "another authenticator. Try again; if it fails again, use another second factor."
        )


class PasskeyUserNotVerified(PasskeyRejected):
    code = "passkey-user-not-verified"

    def __init__(self) -> None:
        super().__init__(
            "Signing in without a password needs a passkey that checks it is you (PIN, "
            "fingerprint or face). Unlock your passkey that way, or sign in with your password."
        )


class PasskeyCloned(PasskeyRejected):
    code = "passkey-cloned"

    def __init__(self) -> None:
        super().__init__(
            "This passkey's signature counter went backwards, as it does when an authenticator "
            "was copied: it is refused. Sign in with another factor, remove this passkey and "
            "tell your security team."
        )


class PasskeyNotFound(NotFound):
    code = "passkey-not-found"

    def __init__(self) -> None:
        super().__init__("No such passkey among yours. List them with GET /api/v1/me/mfa/passkeys.")


class PasskeyAlreadyRegistered(Conflict):
    code = "passkey-already-registered"

    def __init__(self) -> None:
        super().__init__(
            "This authenticator is already registered. Each passkey is registered once; use "
            "another authenticator, or rename the existing one."
        )


class NoPasskey(NotFound):
    code = "passkey-none"

    def __init__(self) -> None:
        super().__init__(
            "No passkey is registered for this account. Give a code of your authenticator app "
            "or a recovery code instead (POST /api/v1/session/mfa)."
        )
