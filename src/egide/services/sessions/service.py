"""Server-side sessions (API.md "Sessions").

The cookie carries `<session id>.<secret>`; only SHA-256 of the secret is
stored, as is SHA-256 of the CSRF token. A session is checked on every use:

- ended (log-out, revocation) or past its absolute lifetime → refused;
- idle longer than the idle timeout → locked (kept, not ended): every request
  answers `session-locked` until the password is given again;
- its user disabled since (even if enabled again: `sessions_valid_from`), or
  its password changed after the session began → refused, so a disabled user
  or a changed password ends every session at once without any other
  service writing this table;
- its user's password chosen by someone else (a one-time password, a reset)
  → `password-change-required` for everything but changing it, which ends
  this session and opens a fresh one;
- its user bound to give a second factor (the MFA policy, or a factor
  enrolled) and the session not yet given one → `mfa-required`, or
  `mfa-enrolment-required` when the user has no factor yet, for everything
  but giving it or enrolling (issue 5, item 3). The forced password change
  comes first. Giving the factor ends this session and opens a fresh one
  (new cookie, new CSRF token) that records when and how (`mfa_at`,
  `mfa_method`), as after any change of privilege.

Unlocking an idle-locked session asks for the password only and keeps the
session's second factor: the factor was proven on this very session (its
cookie never left the browser that proved it), and the lock guards against
someone else at an unattended screen, whom the password alone stops.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from egide.core.clock import Clock, SystemClock
from egide.core.db import Database
from egide.core.db.base import new_id
from egide.core.db.models import User, WebSession
from egide.services.access.policy import (
    Action,
    Decision,
    Principal,
    PrincipalKind,
    authorize,
    decide,
)
from egide.services.accounts.service import AccountService
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.audit.recorder import AuditRecorder
from egide.services.mail.alerts import LoginAlerts
from egide.services.mfa.errors import InvalidMfaCode, MfaEnrolmentRequired, MfaRequired
from egide.services.mfa.passkeys import PasskeyRegistered, PasskeyService
from egide.services.mfa.service import MfaService
from egide.services.sessions.errors import (
    CsrfRejected,
    NoSession,
    SessionExpired,
    SessionLocked,
    SessionNotFound,
)

#: last_seen_at is written at most this often, so reads do not all take the write lock.
_TOUCH_EVERY = dt.timedelta(seconds=30)
_SECRET_BYTES = 32


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class SessionInfo:
    id: str
    user_id: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    locked: bool
    client_address: str
    user_agent: str
    #: When and how a second factor was given in this session; None: not (yet).
    mfa_at: dt.datetime | None = None
    mfa_method: str | None = None
    #: The `acr` an OpenID provider asserted at log-in, if the session began so.
    acr: str | None = None


@dataclass(frozen=True)
class NewSession:
    info: SessionInfo
    #: Cookie value, shown once; the server keeps only its hash.
    cookie: str
    #: Token for the X-CSRF-Token header, shown once.
    csrf_token: str
    #: The session may do nothing but change the password until it is changed.
    password_change_required: bool = False
    #: The session may do nothing but give its second factor (or enrol one) until then.
    mfa_required: bool = False
    #: ... and the user has no factor yet: enrol one first.
    mfa_enrolment_required: bool = False


def _user(user_id: str) -> Principal:
    """The user a session belongs to, as the actor of its events (ids only)."""
    return Principal(kind=PrincipalKind.USER, user_id=user_id, username="")


def _info(row: WebSession) -> SessionInfo:
    return SessionInfo(
        id=row.id,
        user_id=row.user_id,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        locked=row.locked_at is not None,
        client_address=row.client_address,
        user_agent=row.user_agent,
        mfa_at=row.mfa_at,
        mfa_method=row.mfa_method,
        acr=row.acr,
    )


class SessionService:
    def __init__(
        self,
        db: Database,
        accounts: AccountService,
        *,
        idle_timeout: dt.timedelta,
        lifetime: dt.timedelta,
        clock: Clock | None = None,
        audit: AuditRecorder | None = None,
        mfa: MfaService | None = None,
        passkeys: PasskeyService | None = None,
        alerts: LoginAlerts | None = None,
    ) -> None:
        """`mfa`: the second-factor service; without one (tests of sessions alone)
        no session is ever asked for a second factor."""
        self.db = db
        self.accounts = accounts
        self.mfa = mfa
        #: Passkeys (WebAuthn); None: no passkey ceremony is offered.
        self.passkeys = passkeys
        #: The new-device log-in alert (services/mail/alerts.py); None: no mail.
        self.alerts = alerts
        self.idle_timeout = idle_timeout
        self.lifetime = lifetime
        self.clock = clock or SystemClock()
        self.audit = audit or AuditRecorder(self.clock)

    # Signing in and out -----------------------------------------------------

    def login(
        self, username: str, password: str, *, client_address: str = "", user_agent: str = ""
    ) -> tuple[Principal, NewSession]:
        principal = self.accounts.authenticate(username, password)
        return principal, self._open(principal, client_address, user_agent)

    def _open(
        self,
        principal: Principal,
        client_address: str,
        user_agent: str,
        *,
        method: str = "password",
        mfa_at: dt.datetime | None = None,
        mfa_method: str | None = None,
        expires_at: dt.datetime | None = None,
        acr: str | None = None,
    ) -> NewSession:
        """A new session row and its cookie. A renewed session keeps the second
        factor and the absolute end of the one it replaces."""
        if principal.user_id is None:  # pragma: no cover - users always have an id
            raise NoSession()
        now = self.clock.now()
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        csrf = secrets.token_urlsafe(_SECRET_BYTES)
        row = WebSession(
            id=new_id(),
            user_id=principal.user_id,
            secret_hash=_digest(secret),
            csrf_hash=_digest(csrf),
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at or now + self.lifetime,
            client_address=client_address[:64],
            user_agent=user_agent[:300],
            mfa_at=mfa_at,
            mfa_method=mfa_method,
            acr=acr,
        )
        details = {"method": method} if acr is None else {"method": method, "acr": acr}
        with self.db.write() as session:
            session.add(row)
            self.audit.record(
                session,
                actor=principal,
                action=AuditAction.LOGIN,
                target={"user": principal.user_id, "session": row.id},
                details=details,
            )
            if self.alerts is not None:
                self.alerts.session_opened(session, row)
        state = None if mfa_at is not None or self.mfa is None else self.mfa.state(row.user_id)
        return NewSession(
            info=_info(row),
            cookie=f"{row.id}.{secret}",
            csrf_token=csrf,
            password_change_required=self.accounts.must_change_password(principal.user_id),
            mfa_required=state is not None and state.required,
            mfa_enrolment_required=state is not None and state.required and not state.enrolled,
        )

    def open_external(
        self,
        principal: Principal,
        *,
        method: str,
        mfa_method: str | None,
        acr: str | None = None,
        client_address: str = "",
        user_agent: str = "",
    ) -> NewSession:
        """A session for a user whom something other than the password
        authenticated: a passkey without password (`method="passkey"`), an
        OpenID provider (`method="oidc"`). The caller has checked the
        credential and that the account may sign in (enabled).

        `mfa_method`: the second factor that credential already proves (a
        user-verified passkey, an OpenID `acr` the MFA policy accepts), or
        None: the session is then asked for one as after a password.
        """
        return self._open(
            principal,
            client_address,
            user_agent,
            method=method,
            mfa_at=self.clock.now() if mfa_method is not None else None,
            mfa_method=mfa_method,
            acr=acr,
        )

    def change_password(
        self,
        cookie: str,
        current_password: str,
        new_password: str,
        *,
        client_address: str = "",
        user_agent: str = "",
    ) -> tuple[Principal, NewSession]:
        """Change the session user's own password; this session ends, a fresh one begins.

        Every other session and every API token of the user ends too (see
        `AccountService.change_password`). Allowed while a change is required,
        not while the session is locked.
        """
        principal, info = self.authenticate(cookie, password_change=True)
        self.accounts.change_password(
            principal, principal.username, new_password, current_password=current_password
        )
        self._end(info.id, info.user_id, "password-changed", self.clock.now())
        fresh = self.accounts.principal_for(info.user_id)
        return fresh, self._open(
            fresh,
            client_address,
            user_agent,
            method="password-change",
            mfa_at=info.mfa_at,
            mfa_method=info.mfa_method,
            acr=info.acr,
        )

    def verify_mfa(
        self, cookie: str, code: str, *, client_address: str = "", user_agent: str = ""
    ) -> tuple[Principal, NewSession]:
        """Give the session's second factor (a TOTP or recovery code): the second step of
        signing in. This session ends; a fresh one, marked verified, replaces it."""
        _, info = self.authenticate(cookie, mfa_pending=True)
        if self.mfa is None:
            raise NoSession()
        mfa = self.mfa
        # A 6-digit code is a guess like a password: the same back-off slows it.
        method = self.accounts.throttled_guess(
            info.user_id,
            lambda: mfa.verify(info.user_id, code, session_id=info.id),
            wrong=InvalidMfaCode,
        )
        return self._renew_verified(info, method, client_address, user_agent)

    def confirm_totp(
        self, cookie: str, code: str, *, client_address: str = "", user_agent: str = ""
    ) -> tuple[Principal, NewSession, list[str]]:
        """Confirm the user's new authenticator with its first code, which also gives this
        session its second factor; returns the fresh session and the recovery codes."""
        principal, info = self.authenticate(cookie, mfa_pending=True)
        if self.mfa is None:
            raise NoSession()
        recovery = self.mfa.confirm_totp(principal, code)
        fresh, new = self._renew_verified(info, "totp", client_address, user_agent)
        return fresh, new, recovery

    # Passkeys (WebAuthn, services/mfa/passkeys.py) ----------------------------

    def _passkey_service(self) -> PasskeyService:
        if self.passkeys is None:
            raise NoSession()
        return self.passkeys

    def passkey_options(self, cookie: str) -> str:
        """Options (JSON) to give this session's second factor with a passkey."""
        _, info = self.authenticate(cookie, mfa_pending=True)
        return self._passkey_service().assertion_options(user_id=info.user_id, session_id=info.id)

    def verify_passkey(
        self,
        cookie: str,
        credential: Mapping[str, Any],
        *,
        client_address: str = "",
        user_agent: str = "",
    ) -> tuple[Principal, NewSession]:
        """Give the session's second factor with a passkey: as `verify_mfa`, the session
        is renewed, marked verified by "passkey"."""
        _, info = self.authenticate(cookie, mfa_pending=True)
        self._passkey_service().verify_second_factor(info.user_id, credential, session_id=info.id)
        return self._renew_verified(info, "passkey", client_address, user_agent)

    def passkey_registration_options(self, cookie: str) -> str:
        """Options (JSON) to register a passkey of the session's user."""
        principal, info = self.authenticate(cookie, mfa_pending=True)
        return self._passkey_service().registration_options(
            principal, session_id=info.id, verified=info.mfa_at is not None
        )

    def register_passkey(
        self,
        cookie: str,
        name: str,
        credential: Mapping[str, Any],
        *,
        client_address: str = "",
        user_agent: str = "",
    ) -> tuple[Principal, NewSession | None, PasskeyRegistered]:
        """Register a passkey. A session that had not given a second factor (the user's
        first factor, as `confirm_totp`) is renewed verified: the fresh session, else None."""
        principal, info = self.authenticate(cookie, mfa_pending=True)
        registered = self._passkey_service().register(
            principal, name, credential, session_id=info.id, verified=info.mfa_at is not None
        )
        if info.mfa_at is not None:
            return principal, None, registered
        fresh, new = self._renew_verified(info, "passkey", client_address, user_agent)
        return fresh, new, registered

    def login_passkey(
        self, credential: Mapping[str, Any], *, client_address: str = "", user_agent: str = ""
    ) -> tuple[Principal, NewSession]:
        """A passwordless log-in: a user-verified passkey opens a session that has given
        its second factor; a password awaiting its change is still to be changed."""
        user_id = self._passkey_service().verify_login(credential)
        principal = self.accounts.principal_for(user_id, password_change=True)
        return principal, self.open_external(
            principal,
            method="passkey",
            mfa_method="passkey",
            client_address=client_address,
            user_agent=user_agent,
        )

    def _renew_verified(
        self, info: SessionInfo, method: str, client_address: str, user_agent: str
    ) -> tuple[Principal, NewSession]:
        # A new session id after the privilege change, as after a password change:
        # whoever knew the cookie of the password-only session gains nothing.
        now = self.clock.now()
        self._end(info.id, info.user_id, "renewed", now)
        fresh = self.accounts.principal_for(info.user_id)
        return fresh, self._open(
            fresh,
            client_address,
            user_agent,
            # An OpenID log-in always records its acr ("" when none was asserted).
            method=f"{'password' if info.acr is None else 'oidc'}+{method}",
            mfa_at=now,
            mfa_method=method,
            expires_at=info.expires_at,
            acr=info.acr,
        )

    def logout(self, cookie: str) -> None:
        session_id = self._parse(cookie)[0]
        with self.db.write() as session:
            row = session.get(WebSession, session_id)
            if row is not None and row.ended_at is None and self._secret_ok(row, cookie):
                row.ended_at = self.clock.now()
                row.end_reason = "logout"
                self.audit.record(
                    session,
                    actor=_user(row.user_id),
                    action=AuditAction.LOGOUT,
                    target={"user": row.user_id, "session": row.id},
                )

    # Checking a request -----------------------------------------------------

    def authenticate(
        self,
        cookie: str,
        *,
        password_change: bool = False,
        mfa_pending: bool = False,
        touch: bool = True,
    ) -> tuple[Principal, SessionInfo]:
        """The principal behind a session cookie, or the reason it cannot be used.

        While the user's password awaits its change, only the callers that pass
        `password_change=True` (who am I, change the password) get a principal.
        Until the session has given its second factor when it must, only those
        that pass `mfa_pending=True` (who am I, give it, enrol one) do; the
        password change, when due, comes first.

        `touch=False` is for what a page asks by itself (a poll, not the user):
        it is answered, but is no activity, so it never keeps an idle session
        from locking.
        """
        row = self._live_row(cookie)
        now = self.clock.now()
        if row.locked_at is not None:
            raise SessionLocked()
        if now - row.last_seen_at > self.idle_timeout:
            self._lock(row, now)
            raise SessionLocked()
        principal = self.accounts.principal_for(row.user_id, password_change=password_change)
        if row.mfa_at is None and not mfa_pending:
            self._check_mfa(row.user_id, password_change=password_change)
        if touch and now - row.last_seen_at > _TOUCH_EVERY:
            with self.db.write() as session:
                session.execute(
                    update(WebSession)
                    .where(WebSession.id == row.id, WebSession.locked_at.is_(None))
                    .values(last_seen_at=now)
                )
        return principal, _info(row)

    def _check_mfa(self, user_id: str, *, password_change: bool) -> None:
        """Refuse a session without its second factor when the user must give one."""
        state = None if self.mfa is None else self.mfa.state(user_id)
        if state is None or not state.required:
            return
        if password_change and self.accounts.must_change_password(user_id):
            return  # the forced password change comes first
        raise MfaRequired() if state.enrolled else MfaEnrolmentRequired()

    def check_csrf(self, cookie: str, token: str | None) -> None:
        """Unsafe methods must echo the session's CSRF token (constant-time compare)."""
        row = self._live_row(cookie)
        if not token or not hmac.compare_digest(_digest(token), row.csrf_hash):
            raise CsrfRejected()

    def unlock(self, cookie: str, password: str) -> SessionInfo:
        """Unlock an idle-locked session with the password of its own user."""
        row = self._live_row(cookie)
        with self.db.read() as session:
            user = session.get(User, row.user_id)
            username = user.username if user else ""
        self.accounts.authenticate(username, password)
        now = self.clock.now()
        with self.db.write() as session:
            live = session.get(WebSession, row.id)
            if live is None:  # pragma: no cover - rows are never deleted while live
                raise NoSession()
            live.locked_at = None
            live.last_seen_at = now
            self.audit.record(
                session,
                actor=_user(row.user_id),
                action=AuditAction.SESSION_UNLOCK,
                target={"user": row.user_id, "session": row.id},
            )
            return _info(live)

    def _live_row(self, cookie: str) -> WebSession:
        session_id, _ = self._parse(cookie)
        with self.db.read() as session:
            row = session.get(WebSession, session_id)
            user = session.get(User, row.user_id) if row is not None else None
        if row is None or row.ended_at is not None or not self._secret_ok(row, cookie):
            raise NoSession()
        now = self.clock.now()
        if now >= row.expires_at:
            self._end(row.id, row.user_id, "expired", now)
            raise SessionExpired()
        if (
            user is None
            or user.is_disabled
            or (user.sessions_valid_from is not None and row.created_at < user.sessions_valid_from)
        ):
            self._end(row.id, row.user_id, "disabled", now)
            raise NoSession()
        if user.password_changed_at is not None and user.password_changed_at > row.created_at:
            self._end(row.id, row.user_id, "password-changed", now)
            raise NoSession()
        return row

    @staticmethod
    def _parse(cookie: str) -> tuple[str, str]:
        session_id, _, secret = cookie.partition(".")
        if not session_id or not secret or len(session_id) > 36:
            raise NoSession()
        return session_id, secret

    @staticmethod
    def _secret_ok(row: WebSession, cookie: str) -> bool:
        return hmac.compare_digest(_digest(cookie.partition(".")[2]), row.secret_hash)

    def _lock(self, row: WebSession, now: dt.datetime) -> None:
        with self.db.write() as session:
            locked = session.execute(
                update(WebSession)
                .where(WebSession.id == row.id, WebSession.locked_at.is_(None))
                .values(locked_at=now)
            )
            if locked.rowcount:  # type: ignore[attr-defined]
                self.audit.record(
                    session,
                    actor=_user(row.user_id),
                    action=AuditAction.SESSION_LOCK,
                    target={"user": row.user_id, "session": row.id},
                    details={"reason": "idle"},
                )

    def _end(
        self,
        session_id: str,
        user_id: str,
        reason: str,
        now: dt.datetime,
        *,
        by: Principal | None = None,
    ) -> None:
        """End a session once; its event names who ended it (the user itself by default)."""
        with self.db.write() as session:
            ended = session.execute(
                update(WebSession)
                .where(WebSession.id == session_id, WebSession.ended_at.is_(None))
                .values(ended_at=now, end_reason=reason)
            )
            if ended.rowcount:  # type: ignore[attr-defined]
                self.audit.record(
                    session,
                    actor=by or _user(user_id),
                    action=(
                        AuditAction.SESSION_EXPIRE
                        if reason == "expired"
                        else AuditAction.SESSION_REVOKE
                    ),
                    target={"user": user_id, "session": session_id},
                    details={"reason": reason},
                )

    # Managing sessions --------------------------------------------------------

    @records_denials
    def list_sessions(self, actor: Principal, user_id: str | None = None) -> list[SessionInfo]:
        """Live sessions of the actor, or of any user for administrators."""
        target = user_id or actor.user_id
        if target != actor.user_id:
            authorize(actor, Action.USER_MANAGE)
        now = self.clock.now()
        with self.db.read() as session:
            rows = session.scalars(
                select(WebSession)
                .where(
                    WebSession.user_id == target,
                    WebSession.ended_at.is_(None),
                    WebSession.expires_at > now,
                )
                .order_by(WebSession.created_at.desc())
            ).all()
            return [_info(r) for r in rows]

    @records_denials
    def revoke(self, actor: Principal, session_id: str) -> None:
        """End a session now: one's own, or anyone's for administrators."""
        with self.db.read() as session:
            row = session.get(WebSession, session_id)
        others = row is not None and row.user_id != actor.user_id
        # Another user's session id is never confirmed to someone who may not manage users.
        if (
            row is None
            or row.ended_at is not None
            or (others and decide(actor, Action.USER_MANAGE) is not Decision.ALLOW)
        ):
            raise SessionNotFound()
        self._end(row.id, row.user_id, "revoked", self.clock.now(), by=actor)
