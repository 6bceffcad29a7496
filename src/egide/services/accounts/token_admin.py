"""API tokens: creation, authentication, listing, revocation (part of AccountService).

A user manages their own tokens; administrators may list and revoke anyone's.
A token's scopes only narrow what its user may do (services.access.policy).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import NoReturn

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from egide.core.db.base import new_id
from egide.core.db.models import ApiToken, TotpFactor, User
from egide.core.errors import InvalidInput
from egide.services.access.policy import (
    Action,
    Decision,
    Principal,
    PrincipalKind,
    Scope,
    authorize,
    decide,
    grantable_scopes,
)
from egide.services.accounts import tokens
from egide.services.accounts.base import AccountServiceBase
from egide.services.accounts.errors import (
    AccountDisabled,
    InvalidToken,
    PasswordChangeRequired,
    TokenNotAllowed,
    TokenNotFound,
    UserNotFound,
)
from egide.services.accounts.records import (
    TokenInfo,
    find_user,
    load_principal,
    parse_stored_scopes,
    token_info,
)
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.audit.recorder import format_time

DEFAULT_LIFETIME = dt.timedelta(days=90)
MAX_LIFETIME = dt.timedelta(days=365)
_MAX_NAME = 100
#: last_used_at is refreshed at most this often, so a busy script does not
#: take the database's write lock on every request.
_LAST_USED_GRANULARITY = dt.timedelta(seconds=60)
# Compared against when the presented id matches no row, so a miss costs the
# same hash and comparison as a hit.
_NO_SUCH_HASH = "0" * 64


def _parse_scopes(scopes: Iterable[Scope | str]) -> frozenset[Scope]:
    parsed = set()
    for scope in scopes:
        try:
            parsed.add(Scope(scope))
        except ValueError:
            raise InvalidInput(
                "Unknown scope {scope}. The scopes are {known}.",
                field="scopes",
                scope=str(scope),
                known=", ".join(s.value for s in Scope),
            ) from None
    if not parsed:
        raise InvalidInput(
            "Choose at least one scope for the token: {known}.",
            field="scopes",
            known=", ".join(s.value for s in Scope),
        )
    return frozenset(parsed)


def _check_lifetime(expires_in: dt.timedelta) -> None:
    if not dt.timedelta(0) < expires_in <= MAX_LIFETIME:
        raise InvalidInput(
            "A token lives from 1 second to {days} days; create a new one when it expires.",
            field="expires_in",
            days=MAX_LIFETIME.days,
        )


def _check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= _MAX_NAME:
        raise InvalidInput(
            "Give the token a name of 1 to {maximum} characters, saying what uses it "
            "(for example: nightly backup script).",
            field="name",
            maximum=_MAX_NAME,
        )
    return name


def _token_refusal(
    row: ApiToken | None, user: User | None, *, matches: bool, now: dt.datetime
) -> str | None:
    """Why a presented token is refused (for the audit log only), or None."""
    if row is None or not matches:
        return "unknown"
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= now:
        return "expired"
    if user is None or user.is_disabled:
        return "account-disabled"
    return None


class TokenAdmin(AccountServiceBase):
    @records_denials
    def create_token(
        self,
        actor: Principal,
        name: str,
        scopes: Iterable[Scope | str],
        *,
        expires_in: dt.timedelta = DEFAULT_LIFETIME,
        mfa_method: str | None = None,
    ) -> tuple[TokenInfo, str]:
        """A new token of the actor's own; returns its record and the secret, shown once.

        `mfa_method` is how the actor's session gave its second factor (None:
        it did not). A token outlives its session and skips the second factor,
        so a user bound to one gets a token only from a session that gave it.
        """
        if actor.kind is not PrincipalKind.USER or actor.user_id is None:
            raise TokenNotAllowed(
                "Only a user account can own an API token. Sign in as that user to create one."
            )
        if actor.token_id is not None:
            # A token minting tokens could outlive its own expiry or revocation.
            raise TokenNotAllowed("An API token cannot create other tokens. Sign in to create one.")
        name = _check_name(name)
        wanted = _parse_scopes(scopes)
        _check_lifetime(expires_in)
        with self._db.write() as session:
            user = session.get(User, actor.user_id)
            if user is None or user.is_disabled:
                raise AccountDisabled()
            self.check_token_session(session, user.id, mfa_method, AuditAction.TOKEN_CREATE)
            return self.issue_token(session, actor, user, name, wanted, expires_in=expires_in)

    def check_token_session(
        self, session: Session, user_id: str, mfa_method: str | None, attempted: str
    ) -> None:
        """Refuse to mint a token for `user_id` from a session that did not give the
        second factor the user is bound to (issue 5, item 3): POST /tokens and the
        device authorization flow (`device.py`) both judge by this one rule."""
        if mfa_method is None and self._mfa_bound(session, user_id):
            raise TokenNotAllowed(
                "API tokens are created only from a session signed in with a second "
                "factor. Sign in again with your authenticator code (setting one up "
                "first if asked), then create the token."
            ).denied(attempted, {"user": user_id})

    def issue_token(
        self,
        session: Session,
        actor: Principal,
        user: User,
        name: str,
        wanted: frozenset[Scope],
        *,
        expires_in: dt.timedelta = DEFAULT_LIFETIME,
        target: dict[str, str | None] | None = None,
    ) -> tuple[TokenInfo, str]:
        """Insert the token and its `token.create` entry in the caller's transaction,
        once the caller has judged the session (`check_token_session`); `target` adds
        ids to the entry (the device flow names its request and the approving session)."""
        # Judge the roles stored now, not those the actor's session loaded.
        refused = wanted - grantable_scopes(load_principal(session, user))
        if refused:
            raise TokenNotAllowed(
                "Your roles do not allow a token with the {scopes} scope. Choose among "
                "files:read, files:write and shares:manage, or ask an administrator.",
                scopes=", ".join(sorted(refused)),
            )
        now = self._now()
        secret = tokens.new_secret()
        row = ApiToken(
            id=new_id(),
            user_id=user.id,
            name=_check_name(name),
            secret_hash=tokens.hash_secret(secret),
            scopes=" ".join(sorted(wanted)),
            created_at=now,
            expires_at=now + expires_in,
        )
        session.add(row)
        session.flush()
        self.audit.record(
            session,
            actor=actor,
            action=AuditAction.TOKEN_CREATE,
            target={"token": row.id, "user": user.id, **(target or {})},
            details={"scopes": sorted(wanted), "expires_at": format_time(row.expires_at)},
        )
        return token_info(row), tokens.format_token(row.id, secret)

    def _mfa_bound(self, session: Session, user_id: str) -> bool:
        """The user must give a second factor: the policy says so, or one is enrolled."""
        enrolled = session.scalar(
            select(TotpFactor.user_id).where(
                TotpFactor.user_id == user_id, TotpFactor.confirmed_at.is_not(None)
            )
        )
        return enrolled is not None or self.mfa_policy.requires(session, user_id)

    def authenticate_token(self, presented: str) -> Principal:
        """The principal a presented token acts as, its scopes narrowing the user's rights."""
        parsed = tokens.parse_token(presented)
        if parsed is None:
            self._refuse_token(None, None, "malformed")
        now = self._now()
        with self._db.read() as session:
            row = session.get(ApiToken, parsed.token_id)
            matches = tokens.secret_matches(
                parsed.secret, row.secret_hash if row else _NO_SUCH_HASH
            )
            user = None if row is None else session.get(User, row.user_id)
            refusal = _token_refusal(row, user, matches=matches, now=now)
            if refusal is None and row is not None and user is not None:
                if user.must_change_password:
                    raise PasswordChangeRequired()
                principal = load_principal(
                    session, user, scopes=parse_stored_scopes(row.scopes), token_id=row.id
                )
                stale = row.last_used_at is None or now - row.last_used_at >= _LAST_USED_GRANULARITY
        if refusal is not None:
            # Only a token whose secret matched names its owner: a guessed id does not.
            owner = row.user_id if row is not None and matches else None
            self._refuse_token(parsed.token_id if matches else None, owner, refusal)
        if stale:
            with self._db.write() as session:
                session.execute(
                    update(ApiToken).where(ApiToken.id == parsed.token_id).values(last_used_at=now)
                )
        return principal

    def _refuse_token(self, token_id: str | None, user_id: str | None, reason: str) -> NoReturn:
        """Record a refused API token (`token.refused`, its own transaction), then refuse it."""
        actor = (
            Principal.system()
            if user_id is None
            else Principal(kind=PrincipalKind.USER, user_id=user_id, username="", token_id=token_id)
        )
        self.audit.record_denied(
            self._db,
            actor=actor,
            action=AuditAction.TOKEN_REFUSED,
            target={"token": token_id},
            details={"reason": reason},
        )
        raise InvalidToken()

    @records_denials
    def list_tokens(self, actor: Principal, username: str | None = None) -> list[TokenInfo]:
        """The actor's own tokens, or (administrators) those of `username`; oldest first."""
        with self._db.read() as session:
            if username is None:
                if actor.user_id is None:
                    raise InvalidInput("Name the user whose tokens to list.", field="username")
                user_id = actor.user_id
            else:
                user = find_user(session, username)
                if user is None or user.id != actor.user_id:
                    # Before saying whether the user exists: a non-administrator
                    # learns nothing about other accounts.
                    authorize(actor, Action.USER_MANAGE)
                if user is None:
                    raise UserNotFound(username)
                user_id = user.id
            rows = session.scalars(
                select(ApiToken)
                .where(ApiToken.user_id == user_id)
                .order_by(ApiToken.created_at, ApiToken.id)
            ).all()
            return [token_info(row) for row in rows]

    @records_denials
    def revoke_token(self, actor: Principal, token_id: str) -> bool:
        """Revoke a token at once; False if it already was.

        Another user's token answers TokenNotFound unless the actor is an
        administrator, so nobody can probe which token ids exist.
        """
        with self._db.write() as session:
            row = session.get(ApiToken, token_id)
            if row is None:
                raise TokenNotFound()
            if row.user_id != actor.user_id and decide(actor, Action.USER_MANAGE) is not (
                Decision.ALLOW
            ):
                raise TokenNotFound()
            if row.revoked_at is not None:
                return False
            row.revoked_at = self._now()
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.TOKEN_REVOKE,
                target={"token": row.id, "user": row.user_id},
            )
            return True
