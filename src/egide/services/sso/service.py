"""Signing in through an OpenID provider (issue 5, item 4; docs/sso.md, ADR 0016).

`begin` stores a sign-in request in flight (`sso_login_states`: SHA-256 of
its `state`, the nonce, the PKCE verifier, where to go back to; ten minutes,
single use) and gives the provider's authorization URL. `complete` takes the
provider's answer: it consumes the state (unknown, replayed or expired →
refused), redeems the code, verifies the ID token (provider.py), checks the
acr asked for, finds the Égide user and opens a session through
`SessionService.open_external`.

Which user an identity is (ADR 0016):

1. the (issuer, subject) pair already linked in `sso_identities`;
2. else, at its first log-in, the user named by `oidc_user_claim`, when that
   claim is one the provider vouches for (`email` only with
   `email_verified` true), and only if that user has no other identity of
   this provider yet; the link is recorded (`sso.link`);
3. else a new account, if `oidc_create_users`; else refused.

(identities.py does the matching and the group mapping.)

A disabled user is refused. The session counts as having given its second
factor only when the asserted `acr` is one of `oidc_mfa_acr`; otherwise it
is asked for the local one, as after a password.

Every refusal is an audit entry (`session.login`, denied, details
`{"method": "oidc", "reason": <error code>, "detail": <which check>}`),
written in a transaction of its own, like a wrong password's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from sqlalchemy import delete

from egide.core.clock import Clock, SystemClock
from egide.core.config import Settings
from egide.core.db import Database
from egide.core.db.models.sso import SsoLoginState
from egide.core.errors import EgideError
from egide.services.access.policy import Principal, PrincipalKind
from egide.services.accounts.service import AccountService
from egide.services.audit.actions import AuditAction
from egide.services.audit.recorder import AuditRecorder
from egide.services.sessions.service import NewSession, SessionService
from egide.services.sso.errors import (
    InvalidReturnTo,
    SsoAcrInsufficient,
    SsoNotConfigured,
    SsoProviderRefused,
    SsoStateInvalid,
    SsoTokenInvalid,
)
from egide.services.sso.identities import IdentityLinks
from egide.services.sso.provider import OpenIdProvider, safe_token

#: A sign-in must come back from the provider within this long.
STATE_LIFETIME = dt.timedelta(minutes=10)
#: 32 random bytes: 256 bits for `state` and `nonce`, 43 characters for the PKCE
#: verifier (RFC 7636 4.1 asks 43 to 128).
_RANDOM_BYTES = 32
_MAX_RETURN_TO = 500
_MAX_STATE = 200
_SYSTEM = Principal.system()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class SsoConfig:
    """The `oidc_*` settings, read once."""

    discovery_url: str
    client_id: str
    client_secret: SecretStr | None
    scopes: str
    acr_values: tuple[str, ...]
    user_claim: str
    create_users: bool
    group_claim: str | None
    group_map: Mapping[str, str]
    mfa_acr: frozenset[str]
    display_name: str
    redirect_uri: str

    @classmethod
    def from_settings(cls, settings: Settings) -> SsoConfig | None:
        """None while `oidc_discovery_url` is unset (SSO off)."""
        if not settings.oidc_discovery_url:
            return None
        scopes = settings.oidc_scopes.split()
        if "openid" not in scopes:
            scopes.insert(0, "openid")
        return cls(
            discovery_url=settings.oidc_discovery_url,
            client_id=settings.oidc_client_id or "",
            client_secret=settings.oidc_client_secret,
            scopes=" ".join(scopes),
            acr_values=tuple((settings.oidc_acr_values or "").split()),
            user_claim=settings.oidc_user_claim,
            create_users=settings.oidc_create_users,
            group_claim=settings.oidc_group_claim,
            group_map=dict(settings.oidc_group_map),
            mfa_acr=frozenset((settings.oidc_mfa_acr or "").split()),
            display_name=settings.oidc_display_name,
            redirect_uri=f"{settings.resolved_public_url}/api/v1/sso/callback",
        )


@dataclass(frozen=True)
class SsoInfo:
    enabled: bool
    display_name: str | None


@dataclass(frozen=True)
class SsoStart:
    #: Where to send the browser: the provider's authorization endpoint.
    url: str
    #: The `state` of this request, for the door to bind it to the browser (a cookie).
    state: str


@dataclass(frozen=True)
class SsoLogin:
    principal: Principal
    session: NewSession
    #: The local path the sign-in began from.
    return_to: str


def check_return_to(value: str | None) -> str:
    """A path of this server to go back to; never another site (no open redirect)."""
    if not value:
        return "/"
    if (
        len(value) > _MAX_RETURN_TO
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value)
    ):
        raise InvalidReturnTo()
    return value


def _user(user_id: str) -> Principal:
    return Principal(kind=PrincipalKind.USER, user_id=user_id, username="")


class SsoService:
    def __init__(
        self,
        db: Database,
        accounts: AccountService,
        sessions: SessionService,
        config: SsoConfig | None,
        *,
        clock: Clock | None = None,
        audit: AuditRecorder | None = None,
    ) -> None:
        self.db = db
        self.accounts = accounts
        self.sessions = sessions
        self.config = config
        self.clock = clock or SystemClock()
        self.audit = audit or AuditRecorder(self.clock)
        self.identities = IdentityLinks(db, accounts, clock=self.clock, audit=self.audit)
        self.provider = (
            None
            if config is None
            else OpenIdProvider(config.discovery_url, config.client_id, config.client_secret)
        )

    def info(self) -> SsoInfo:
        """Whether single sign-on is offered, and the label of its button."""
        if self.config is None:
            return SsoInfo(enabled=False, display_name=None)
        return SsoInfo(enabled=True, display_name=self.config.display_name)

    def _configured(self) -> tuple[SsoConfig, OpenIdProvider]:
        if self.config is None or self.provider is None:
            raise SsoNotConfigured()
        return self.config, self.provider

    # Step 1: to the provider ------------------------------------------------------

    def begin(self, return_to: str | None = None) -> SsoStart:
        """A new authorization request; the caller sends the browser to its URL."""
        config, provider = self._configured()
        back = check_return_to(return_to)
        state = secrets.token_urlsafe(_RANDOM_BYTES)
        nonce = secrets.token_urlsafe(_RANDOM_BYTES)
        verifier = secrets.token_urlsafe(_RANDOM_BYTES)
        url = provider.authorization_url(
            redirect_uri=config.redirect_uri,
            state=state,
            nonce=nonce,
            code_verifier=verifier,
            scopes=config.scopes,
            acr_values=" ".join(config.acr_values) or None,
        )
        now = self.clock.now()
        with self.db.write() as session:
            # Requests never completed are forgotten here, so the table stays small.
            session.execute(delete(SsoLoginState).where(SsoLoginState.expires_at <= now))
            session.add(
                SsoLoginState(
                    state_hash=_digest(state),
                    nonce=nonce,
                    code_verifier=verifier,
                    return_to=back,
                    created_at=now,
                    expires_at=now + STATE_LIFETIME,
                )
            )
        return SsoStart(url=url, state=state)

    # Step 2: back from the provider --------------------------------------------------

    def complete(
        self,
        *,
        state: str | None,
        code: str | None,
        error: str | None = None,
        browser_state: str | None = None,
        client_address: str = "",
        user_agent: str = "",
    ) -> SsoLogin:
        """Finish a sign-in with the provider's answer (the callback's query).

        `browser_state`: the state the door bound to the browser that began the
        sign-in (a cookie); it must be this one, so an answer pasted into
        another browser (login CSRF) is refused.
        """
        config, provider = self._configured()
        user_id: str | None = None
        try:
            pending = self._consume(state, browser_state)
            if error is not None:
                raise SsoProviderRefused(safe_token(error))
            if not code:
                raise SsoTokenInvalid("no authorization code")
            tokens = provider.redeem(
                code, redirect_uri=config.redirect_uri, code_verifier=pending.code_verifier
            )
            claims = provider.verify_id_token(
                tokens, nonce=pending.nonce, now=self.clock.now().timestamp()
            )
            issuer = provider.metadata().issuer
            # Known from here on when already linked, so a refusal names the account.
            user_id = self.identities.linked_user(issuer, str(claims["sub"]))
            acr = claims.get("acr")
            acr = acr if isinstance(acr, str) else None
            if config.acr_values and acr not in config.acr_values:
                raise SsoAcrInsufficient(" ".join(config.acr_values))
            claims = self._with_userinfo(config, provider, claims, tokens.access_token)
            user_id = self.identities.user_for(
                issuer, claims, user_claim=config.user_claim, create_users=config.create_users
            )
            principal = self.accounts.principal_for(user_id, password_change=True)
            self.identities.sync_groups(
                principal.username,
                claims,
                group_claim=config.group_claim,
                group_map=config.group_map,
            )
            new = self.sessions.open_external(
                principal,
                method="oidc",
                mfa_method="oidc" if acr is not None and acr in config.mfa_acr else None,
                # "" for a provider that asserted no acr: the session still shows it
                # began through OpenID Connect (SessionInfo.acr is not None).
                acr=acr or "",
                client_address=client_address,
                user_agent=user_agent,
            )
        except EgideError as exc:
            self._record_refusal(user_id, exc)
            raise
        return SsoLogin(principal=principal, session=new, return_to=pending.return_to)

    def _consume(self, state: str | None, browser_state: str | None) -> SsoLoginState:
        """The pending request `state` names, deleted so it serves once."""
        if not state or len(state) > _MAX_STATE:
            raise SsoStateInvalid()
        if not browser_state or not hmac.compare_digest(state.encode(), browser_state.encode()):
            raise SsoStateInvalid()
        now = self.clock.now()
        with self.db.write() as session:
            row = session.get(SsoLoginState, _digest(state))
            if row is None:
                raise SsoStateInvalid()
            deleted = session.execute(
                delete(SsoLoginState).where(SsoLoginState.state_hash == row.state_hash)
            )
            if not deleted.rowcount:  # type: ignore[attr-defined]
                raise SsoStateInvalid()  # pragma: no cover - another request took it first
            session.expunge(row)
        if now >= row.expires_at:
            raise SsoStateInvalid()
        return row

    def _with_userinfo(
        self,
        config: SsoConfig,
        provider: OpenIdProvider,
        claims: dict[str, Any],
        access_token: str | None,
    ) -> dict[str, Any]:
        """The ID token's claims, completed from the UserInfo endpoint when the claims
        Égide needs are not in the token (Core 5.3; the ID token's win)."""
        wanted = [config.user_claim] + ([config.group_claim] if config.group_claim else [])
        if access_token is None or all(name in claims for name in wanted):
            return claims
        info = provider.userinfo(access_token)
        if not info:
            return claims
        # Core 5.3.2: the UserInfo sub must be the ID token's, else it is someone else's.
        if not hmac.compare_digest(str(info.get("sub", "")), str(claims["sub"])):
            raise SsoTokenInvalid("userinfo: wrong subject")
        return {**info, **claims}

    def _record_refusal(self, user_id: str | None, exc: EgideError) -> None:
        details: dict[str, Any] = {"method": "oidc", "reason": exc.code}
        if isinstance(exc, SsoTokenInvalid):
            details["detail"] = exc.reason
        elif isinstance(exc, SsoProviderRefused):
            details["detail"] = exc.params.get("error", "")
        self.audit.record_denied(
            self.db,
            actor=_SYSTEM if user_id is None else _user(user_id),
            action=AuditAction.LOGIN,
            target={"user": user_id},
            details=details,
        )
