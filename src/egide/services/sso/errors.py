"""Errors of OpenID Connect single sign-on.

    InvalidInput
    └── InvalidReturnTo         return_to is not a path of this server
    NotFound
    └── SsoNotConfigured        no provider configured (oidc_discovery_url unset)
    Unauthenticated
    ├── SsoStateInvalid         unknown, tampered, replayed or expired `state`
    ├── SsoProviderRefused      the provider answered an error (access_denied, ...)
    └── SsoTokenInvalid         ID token: bad signature, audience, issuer, time, nonce
    Forbidden
    ├── SsoAcrInsufficient      the acr asked for was not asserted
    ├── SsoUnknownUser          no account matches and creation is off
    ├── SsoAccountLinked        the matched account has another identity of this provider
    └── SsoClaimUnusable        the matching claim is missing or not vouched for
    Unavailable
    └── SsoProviderUnavailable  discovery, keys or token endpoint unreachable or wrong

Every refusal of a log-in is also an audit entry (`session.login`, denied,
details `{"method": "oidc", "reason": <code>}`), written by the service.
No message ever holds a token, a code or a claim value.
"""

from __future__ import annotations

from egide.core.errors import Forbidden, InvalidInput, NotFound, Unauthenticated, Unavailable


class InvalidReturnTo(InvalidInput):
    code = "sso-invalid-return-to"

    def __init__(self) -> None:
        super().__init__(
            "return_to must be a path of this server that starts with a single '/', for "
            "example /spaces. Fix the link you followed.",
            field="return_to",
        )


class SsoNotConfigured(NotFound):
    code = "sso-not-configured"

    def __init__(self) -> None:
        super().__init__(
            "Single sign-on is not set up on this server. Sign in with your user name and "
            "password, or ask an administrator to configure it (docs/sso.md)."
        )


class SsoStateInvalid(Unauthenticated):
    code = "sso-state-invalid"

    def __init__(self) -> None:
        super().__init__(
            "This sign-in answer is unknown, already used or expired (a sign-in must be "
            "completed within 10 minutes, in the browser that began it). Start signing in "
            "again from the sign-in page."
        )


class SsoProviderRefused(Unauthenticated):
    code = "sso-refused"

    def __init__(self, error: str) -> None:
        super().__init__(
            "The identity provider did not sign you in ({error}). Try again, or sign in "
            "with your user name and password.",
            error=error,
        )


class SsoTokenInvalid(Unauthenticated):
    code = "sso-token-invalid"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            "The identity provider's answer could not be verified ({reason}). Start signing "
            "in again; if this happens again, tell an administrator (the server's clock or "
            "the provider's settings may be wrong).",
            reason=reason,
        )


class SsoAcrInsufficient(Forbidden):
    code = "sso-acr-insufficient"

    def __init__(self, required: str) -> None:
        super().__init__(
            "The identity provider did not confirm the level of authentication this server "
            "requires ({required}). Sign in again with a method that gives it, for example "
            "your CPS card or e-CPS.",
            required=required,
        )


class SsoUnknownUser(Forbidden):
    code = "sso-unknown-user"

    def __init__(self) -> None:
        super().__init__(
            "No Égide account matches this identity, and accounts are not created "
            "automatically on this server. Ask an administrator to create your account."
        )


class SsoAccountLinked(Forbidden):
    code = "sso-account-linked"

    def __init__(self) -> None:
        super().__init__(
            "The Égide account this identity names is already linked to another identity "
            "of the same provider, so it was not linked to this one. Ask an administrator."
        )


class SsoClaimUnusable(Forbidden):
    code = "sso-claim-unusable"

    def __init__(self, claim: str) -> None:
        super().__init__(
            "The identity provider gave no usable {claim} for this identity, so it cannot be "
            "matched to an Égide account. Ask an administrator to check the provider's "
            "settings and oidc_user_claim.",
            claim=claim,
        )


class SsoProviderUnavailable(Unavailable):
    code = "sso-provider-unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The identity provider cannot be reached or answered wrongly. Try again in a few "
            "minutes, or sign in with your user name and password; if it lasts, tell an "
            "administrator."
        )
