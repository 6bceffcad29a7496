"""The OAuth 2.0 device authorization grant (RFC 8628) behind `egide login` (issue 5, item 3).

API tokens are made only from a session that gave its second factor, and a
terminal is no place to give a passkey; so the command line asks for a
*device code* (`start`), shows the user a short *user code* and the address
of the approval page, and polls (`poll`) while the user, signed in to the
web interface with their second factor, types the code there (`describe`)
and approves or denies it (`approve`, `deny`). The first poll after the
approval receives the API token, once.

Secrets: the device code is 32 random bytes (256 bits); the user code is 8
letters from a 20-letter alphabet (about 35 bits), so every typed user code
goes through the log-in back-off (`AccountService.throttled_guess`), keyed
by the approving user and their address, and lives 10 minutes. Only the
SHA-256 of each code is stored; both are looked up by that hash, whose
timing tells nothing about the code. The user code never travels in a URL
(no `verification_uri_complete`): it would be kept in logs and histories.

Who may approve is the rule of POST /tokens (`check_token_session`), judged
at the approval and again when the token is issued; the token's scopes are
those asked for, narrowed to what the user's roles may hold now.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from egide.core.clock import Clock, SystemClock
from egide.core.db.engine import Database
from egide.core.db.models import DeviceAuthorization, User
from egide.core.errors import Forbidden, InvalidInput, NotFound
from egide.services.access.policy import Principal, PrincipalKind, Scope, grantable_scopes
from egide.services.accounts.errors import AccountDisabled, TokenNotAllowed
from egide.services.accounts.records import TokenInfo, load_principal
from egide.services.accounts.service import AccountService
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.audit.recorder import AuditRecorder, format_time

#: Consonants only: no vowel spells a word, none looks like a digit (RFC 8628 6.1).
ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
LIFETIME = dt.timedelta(minutes=10)
INTERVAL = 5
#: RFC 8628 3.5: each `slow_down` adds 5 seconds to the interval.
SLOW_DOWN_STEP = 5
#: What `egide login` asks when it names no scope: the file commands' needs.
DEFAULT_SCOPES = frozenset({Scope.FILES_READ, Scope.FILES_WRITE})
_MAX_CLIENT_NAME = 100
_MAX_TOKEN_DAYS = 365
#: Requests are deleted this long after they expired (a replayed device code
#: then answers `invalid_grant` like an unknown one).
_KEEP_EXPIRED = dt.timedelta(days=1)
#: Tries at drawing a user code no live request holds (a clash is ~1 in 10^10).
_DRAWS = 5


class PollError:
    """RFC 8628 3.5 and RFC 6749 5.2 error codes of the token endpoint."""

    PENDING = "authorization_pending"
    SLOW_DOWN = "slow_down"
    DENIED = "access_denied"
    EXPIRED = "expired_token"
    INVALID_GRANT = "invalid_grant"


class _Status:
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    ISSUED = "issued"


class InvalidScope(InvalidInput):
    code = "invalid-scope"


class UnknownUserCode(NotFound):
    """A typed user code that names no request awaiting a decision (wrong, expired, used)."""

    code = "device-code-unknown"

    def __init__(self) -> None:
        super().__init__(
            "This code is wrong, expired or already used. Type the code that egide login "
            "shows (8 letters, as XXXX-XXXX), or run egide login again for a new one."
        )


class DeviceApprovalNotAllowed(Forbidden):
    code = "device-approval-not-allowed"

    def __init__(self) -> None:
        super().__init__(
            "A device is approved from the web interface only, signed in with your password "
            "and second factor: an API token cannot approve one."
        )


@dataclass(frozen=True)
class DeviceGrant:
    """What `start` hands the device (RFC 8628 3.2); the codes are shown once."""

    device_code: str
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int

    def __repr__(self) -> str:
        return f"DeviceGrant(user_code=***, device_code=***, expires_in={self.expires_in})"


@dataclass(frozen=True)
class DeviceRequest:
    """A request as the approval page shows it."""

    id: str
    client_name: str
    #: What the device asked for.
    scopes: frozenset[Scope]
    #: What the approving user's roles allow of it: the token's scopes if approved.
    granted: frozenset[Scope]
    created_at: dt.datetime
    expires_at: dt.datetime


@dataclass(frozen=True)
class PollResult:
    """A poll's answer: an RFC 8628 error, or the token (once)."""

    error: str | None = None
    interval: int = INTERVAL
    token: str | None = None
    info: TokenInfo | None = None

    def __repr__(self) -> str:
        return f"PollResult(error={self.error!r}, interval={self.interval}, token=***)"


def format_user_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def normalise_user_code(typed: str) -> str | None:
    """The 8 letters of a typed user code (any case, spaces and dashes ignored); None
    when it cannot be one."""
    code = "".join(ch for ch in typed.upper() if ch not in " -\t")
    if len(code) != USER_CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _parse_scopes(requested: Iterable[str] | str | None) -> frozenset[Scope]:
    names = requested.split() if isinstance(requested, str) else list(requested or ())
    if not names:
        return DEFAULT_SCOPES
    parsed = set()
    for name in names:
        try:
            parsed.add(Scope(name))
        except ValueError:
            raise InvalidScope(
                "Unknown scope {scope}. The scopes are {known}.",
                field="scope",
                scope=name[:40],
                known=", ".join(s.value for s in Scope),
            ) from None
    return frozenset(parsed)


def _user_of(actor: Principal, session_id: str | None) -> str:
    """The approving user: a person in a web session, never a token (issue 5, item 3)."""
    if (
        actor.kind is not PrincipalKind.USER
        or actor.user_id is None
        or actor.token_id is not None
        or not session_id
    ):
        raise DeviceApprovalNotAllowed().denied(AuditAction.DEVICE_APPROVE, {"user": actor.user_id})
    return actor.user_id


class DeviceFlowService:
    def __init__(
        self,
        db: Database,
        accounts: AccountService,
        *,
        verification_uri: str,
        clock: Clock | None = None,
        audit: AuditRecorder | None = None,
        lifetime: dt.timedelta = LIFETIME,
        interval: int = INTERVAL,
    ) -> None:
        self._db = db
        self.accounts = accounts
        self.verification_uri = verification_uri
        self.clock = clock or SystemClock()
        self.audit = audit or AuditRecorder(self.clock)
        self.lifetime = lifetime
        self.interval = interval

    @property
    def db(self) -> Database:
        return self._db

    # The device ----------------------------------------------------------------

    def start(
        self,
        client_name: str,
        scopes: Iterable[str] | str | None = None,
        *,
        token_days: int = 90,
    ) -> DeviceGrant:
        """A new request (RFC 8628 3.1): anyone may ask; nothing is granted until a
        signed-in user approves it."""
        name = " ".join(client_name.split())
        # Shown on the approval page and kept as the token's name: printable text only.
        if not 1 <= len(name) <= len(client_name) <= _MAX_CLIENT_NAME or not name.isprintable():
            raise InvalidInput(
                "Name the device in 1 to {maximum} characters (for example: egide CLI on "
                "my workstation); the approval page shows it.",
                field="client_name",
                maximum=_MAX_CLIENT_NAME,
            )
        if not 1 <= token_days <= _MAX_TOKEN_DAYS:
            raise InvalidInput(
                "A token lives from 1 to {days} days; create a new one when it expires.",
                field="expires_in_days",
                days=_MAX_TOKEN_DAYS,
            )
        wanted = _parse_scopes(scopes)
        device_code = secrets.token_urlsafe(32)
        now = self.clock.now()
        with self._db.write() as session:
            session.execute(
                delete(DeviceAuthorization).where(
                    DeviceAuthorization.expires_at < now - _KEEP_EXPIRED
                )
            )
            user_code = self._draw_user_code(session)
            row = DeviceAuthorization(
                device_code_hash=_digest(device_code),
                user_code_hash=_digest(user_code),
                client_name=name,
                scopes=" ".join(sorted(wanted)),
                status=_Status.PENDING,
                created_at=now,
                expires_at=now + self.lifetime,
                interval=self.interval,
                token_days=token_days,
            )
            session.add(row)
            session.flush()
            self.audit.record(
                session,
                actor=Principal.system(),
                action=AuditAction.DEVICE_START,
                target={"device": row.id},
                details={"scopes": sorted(wanted), "expires_at": format_time(row.expires_at)},
                context={"client_name": name},
            )
        return DeviceGrant(
            device_code=device_code,
            user_code=format_user_code(user_code),
            verification_uri=self.verification_uri,
            expires_in=int(self.lifetime.total_seconds()),
            interval=self.interval,
        )

    @staticmethod
    def _draw_user_code(session: Session) -> str:
        for _ in range(_DRAWS):
            code = "".join(secrets.choice(ALPHABET) for _ in range(USER_CODE_LENGTH))
            taken = session.scalar(
                select(DeviceAuthorization.id).where(
                    DeviceAuthorization.user_code_hash == _digest(code)
                )
            )
            if taken is None:
                return code
        # Only a nearly full code space gets here (~10^10 live codes): not a state
        # to recover from quietly.
        raise RuntimeError("no free device user code")  # pragma: no cover

    def poll(self, device_code: str) -> PollResult:
        """The device's poll (RFC 8628 3.4, 3.5): pending, slow down, denied, expired,
        or, the first time after the approval, the API token."""
        now = self.clock.now()
        with self._db.write() as session:
            row = session.scalars(
                select(DeviceAuthorization)
                .where(DeviceAuthorization.device_code_hash == _digest(device_code.strip()))
                .with_for_update()
            ).one_or_none()
            error, reason = self._poll_refusal(row, now)
            if row is not None and error is None:
                too_fast = row.last_polled_at is not None and now - row.last_polled_at < (
                    dt.timedelta(seconds=row.interval)
                )
                row.last_polled_at = now
                if too_fast:
                    row.interval += SLOW_DOWN_STEP
                    return PollResult(error=PollError.SLOW_DOWN, interval=row.interval)
                if row.status == _Status.PENDING:
                    return PollResult(error=PollError.PENDING, interval=row.interval)
                try:
                    info, secret = self._issue(session, row)
                except (TokenNotAllowed, AccountDisabled) as exc:
                    # The user's roles or second factor changed since the approval.
                    row.status = _Status.DENIED
                    error, reason = PollError.DENIED, exc.code
                else:
                    row.status = _Status.ISSUED
                    row.token_id = info.id
                    return PollResult(token=secret, info=info, interval=row.interval)
            device_id = None if row is None else row.id
            user_id = None if row is None else row.user_id
        self.audit.record_denied(
            self._db,
            actor=_device_actor(user_id),
            action=AuditAction.DEVICE_TOKEN,
            target={"device": device_id, "user": user_id},
            details={"reason": reason, "error": error},
        )
        return PollResult(error=error, interval=INTERVAL if row is None else row.interval)

    @staticmethod
    def _poll_refusal(
        row: DeviceAuthorization | None, now: dt.datetime
    ) -> tuple[str | None, str | None]:
        """(RFC error, audit reason) of a poll refused whatever the timing; (None, None)."""
        if row is None:
            return PollError.INVALID_GRANT, "unknown"
        if row.status == _Status.ISSUED:
            # RFC 6749 5.2: the grant was used; a second token for it would let a
            # copied device code mint its own.
            return PollError.INVALID_GRANT, "already-issued"
        if row.expires_at <= now:
            return PollError.EXPIRED, "expired"
        if row.status == _Status.DENIED:
            return PollError.DENIED, "denied"
        return None, None

    def _issue(self, session: Session, row: DeviceAuthorization) -> tuple[TokenInfo, str]:
        """The token of an approved request, through the path of POST /tokens, with the
        approving session named in its `token.create` entry."""
        user = session.get(User, row.user_id) if row.user_id else None
        if user is None or user.is_disabled:
            raise AccountDisabled()
        self.accounts.check_token_session(
            session, user.id, row.mfa_method, AuditAction.TOKEN_CREATE
        )
        actor = load_principal(session, user)
        return self.accounts.issue_token(
            session,
            actor,
            user,
            row.client_name,
            frozenset(Scope(s) for s in row.scopes.split()),
            expires_in=dt.timedelta(days=row.token_days),
            target={"device": row.id, "session": row.approved_session_id},
        )

    # The approving user ----------------------------------------------------------

    @records_denials
    def describe(
        self, actor: Principal, user_code: str, *, session_id: str | None
    ) -> DeviceRequest:
        """The request a typed user code names, for the approval page; a wrong code
        counts as a failed log-in of the actor (the back-off)."""
        user_id = _user_of(actor, session_id)
        return self.accounts.throttled_guess(
            user_id, lambda: self._describe(user_id, user_code), wrong=UnknownUserCode
        )

    def _describe(self, user_id: str, user_code: str) -> DeviceRequest:
        with self._db.read() as session:
            row = self._pending(session, user_code, AuditAction.DEVICE_APPROVE, user_id)
            return _request_of(session, row, user_id)

    @records_denials
    def approve(
        self,
        actor: Principal,
        user_code: str,
        *,
        session_id: str | None,
        mfa_method: str | None,
    ) -> DeviceRequest:
        """Approve the request: its next poll receives a token of the actor's.

        `session_id` and `mfa_method` are the web session's (None: not a session,
        or it gave no second factor), judged by the rule of POST /tokens.
        """
        user_id = _user_of(actor, session_id)
        return self.accounts.throttled_guess(
            user_id,
            lambda: self._decide(
                actor,
                user_id,
                user_code,
                session_id=session_id,
                mfa_method=mfa_method,
                approved=True,
            ),
            wrong=UnknownUserCode,
        )

    @records_denials
    def deny(self, actor: Principal, user_code: str, *, session_id: str | None) -> DeviceRequest:
        """Deny the request: its next poll answers `access_denied`."""
        user_id = _user_of(actor, session_id)
        return self.accounts.throttled_guess(
            user_id,
            lambda: self._decide(
                actor, user_id, user_code, session_id=session_id, mfa_method=None, approved=False
            ),
            wrong=UnknownUserCode,
        )

    def _decide(
        self,
        actor: Principal,
        user_id: str,
        user_code: str,
        *,
        session_id: str | None,
        mfa_method: str | None,
        approved: bool,
    ) -> DeviceRequest:
        action = AuditAction.DEVICE_APPROVE if approved else AuditAction.DEVICE_DENY
        with self._db.write() as session:
            row = self._pending(session, user_code, action, user_id, lock=True)
            if approved:
                self.accounts.check_token_session(session, user_id, mfa_method, action)
            request = _request_of(session, row, user_id)
            if approved and not request.granted:
                raise TokenNotAllowed(
                    "Your roles do not allow a token with the {scopes} scope. Choose among "
                    "files:read, files:write and shares:manage, or ask an administrator.",
                    scopes=", ".join(sorted(request.scopes)),
                ).denied(action, {"device": row.id, "user": user_id})
            row.status = _Status.APPROVED if approved else _Status.DENIED
            row.user_id = user_id
            row.approved_session_id = session_id
            row.mfa_method = mfa_method
            row.decided_at = self.clock.now()
            if approved:
                row.scopes = " ".join(sorted(request.granted))
            self.audit.record(
                session,
                actor=actor,
                action=action,
                target={"device": row.id, "user": user_id, "session": session_id},
                details={"scopes": sorted(request.granted if approved else request.scopes)},
            )
            return request

    def _pending(
        self, session: Session, user_code: str, attempted: str, user_id: str, *, lock: bool = False
    ) -> DeviceAuthorization:
        """The request awaiting a decision that `user_code` names, else UnknownUserCode
        (recorded as a denied `attempted` of `user_id`)."""
        code = normalise_user_code(user_code)
        row = None
        if code is not None:
            query = select(DeviceAuthorization).where(
                DeviceAuthorization.user_code_hash == _digest(code)
            )
            row = session.scalars(query.with_for_update() if lock else query).one_or_none()
        if row is None or row.status != _Status.PENDING or row.expires_at <= self.clock.now():
            raise UnknownUserCode().denied(attempted, {"device": None, "user": user_id})
        return row


def _request_of(session: Session, row: DeviceAuthorization, user_id: str) -> DeviceRequest:
    asked = frozenset(Scope(s) for s in row.scopes.split())
    user = session.get(User, user_id)
    allowed = grantable_scopes(load_principal(session, user)) if user is not None else frozenset()
    return DeviceRequest(
        id=row.id,
        client_name=row.client_name,
        scopes=asked,
        granted=asked & allowed,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def _device_actor(user_id: str | None) -> Principal:
    """The device polling: the user who decided its request, else nobody known."""
    if user_id is None:
        return Principal.system()
    return Principal(kind=PrincipalKind.USER, user_id=user_id, username="")
