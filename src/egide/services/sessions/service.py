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
  this session and opens a fresh one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

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


@dataclass(frozen=True)
class NewSession:
    info: SessionInfo
    #: Cookie value, shown once; the server keeps only its hash.
    cookie: str
    #: Token for the X-CSRF-Token header, shown once.
    csrf_token: str
    #: The session may do nothing but change the password until it is changed.
    password_change_required: bool = False


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
    ) -> None:
        self.db = db
        self.accounts = accounts
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
    ) -> NewSession:
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
            expires_at=now + self.lifetime,
            client_address=client_address[:64],
            user_agent=user_agent[:300],
        )
        with self.db.write() as session:
            session.add(row)
            self.audit.record(
                session,
                actor=principal,
                action=AuditAction.LOGIN,
                target={"user": principal.user_id, "session": row.id},
                details={"method": method},
            )
        return NewSession(
            info=_info(row),
            cookie=f"{row.id}.{secret}",
            csrf_token=csrf,
            password_change_required=self.accounts.must_change_password(principal.user_id),
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
        return fresh, self._open(fresh, client_address, user_agent, method="password-change")

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
        self, cookie: str, *, password_change: bool = False
    ) -> tuple[Principal, SessionInfo]:
        """The principal behind a session cookie, or the reason it cannot be used.

        While the user's password awaits its change, only the callers that pass
        `password_change=True` (who am I, change the password) get a principal.
        """
        row = self._live_row(cookie)
        now = self.clock.now()
        if row.locked_at is not None:
            raise SessionLocked()
        if now - row.last_seen_at > self.idle_timeout:
            self._lock(row, now)
            raise SessionLocked()
        principal = self.accounts.principal_for(row.user_id, password_change=password_change)
        if now - row.last_seen_at > _TOUCH_EVERY:
            with self.db.write() as session:
                session.execute(
                    update(WebSession)
                    .where(WebSession.id == row.id, WebSession.locked_at.is_(None))
                    .values(last_seen_at=now)
                )
        return principal, _info(row)

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
