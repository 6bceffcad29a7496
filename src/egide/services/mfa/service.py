"""MfaService: TOTP enrolment, codes at sign-in, recovery codes (issue 5, items 1 and 3).

A TOTP factor is added unconfirmed (`begin_totp`: the otpauth:// URI and its
QR code), and counts only once its first code is typed (`confirm_totp`,
which returns ten recovery codes, shown once). Until then it may be
replaced, never afterwards: a confirmed factor is removed first, with a
current code, so a stolen password alone never swaps the authenticator.

Every step is an audit event in the step's own transaction; a wrong,
expired or replayed code is a `denied` event written after the failed
transaction closed. No code, secret or URI ever goes into an event.

Passkeys (`passkeys.py`) are second factors too: a user with a confirmed
TOTP factor or at least one passkey is enrolled, and the recovery codes
serve whichever factor is lost; they go only with the last factor.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from egide.core.clock import Clock, SystemClock
from egide.core.db import Database
from egide.core.db.models import PasskeyCredential, RecoveryCode, TotpFactor, User
from egide.core.errors import InvalidInput
from egide.services.access.policy import Action, Principal, PrincipalKind, authorize
from egide.services.accounts.errors import TokenNotAllowed
from egide.services.accounts.records import canonical_name, get_user_row
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.audit.recorder import AuditRecorder
from egide.services.mfa import codes
from egide.services.mfa.codes import CodeKind
from egide.services.mfa.errors import InvalidMfaCode, NoTotpFactor, TotpAlreadyEnrolled
from egide.services.mfa.policy import MfaPolicy

DEFAULT_ISSUER = "Égide"


class TotpKeys(Protocol):
    """The key provider's part that seals TOTP secrets (egide.core.crypto.provider)."""

    def seal_totp_secret(self, user_id: str, plain: bytes) -> tuple[str, bytes]: ...

    def open_totp_secret(self, master_id: str, user_id: str, sealed: bytes) -> bytes: ...


@dataclass(frozen=True)
class TotpEnrolment:
    #: otpauth:// URI holding the secret: shown to its user once, never logged.
    uri: str
    #: The same URI as an SVG QR code.
    svg: str

    def __repr__(self) -> str:
        return "TotpEnrolment(***)"


@dataclass(frozen=True)
class MfaState:
    """What a session of this user needs before it may act."""

    #: A second factor must be given (the policy says so, or the user enrolled one).
    required: bool
    #: A confirmed factor exists (else the user must enrol first).
    enrolled: bool


@dataclass(frozen=True)
class MfaStatus:
    required: bool
    totp: bool
    #: A factor begun and not yet confirmed by its first code.
    totp_pending: bool
    recovery_codes_left: int
    #: Registered passkeys (WebAuthn).
    passkeys: int = 0


def _user(user_id: str) -> Principal:
    return Principal(kind=PrincipalKind.USER, user_id=user_id, username="")


def own_user_id(actor: Principal) -> str:
    """Second factors are managed by their user in person, never through a token."""
    if actor.kind is not PrincipalKind.USER or actor.user_id is None or actor.token_id:
        raise TokenNotAllowed(
            "Second factors are managed by their user, signed in to the web interface; an "
            "API token or the command line cannot. Sign in to do it."
        )
    return actor.user_id


class MfaService:
    def __init__(
        self,
        db: Database,
        keys: TotpKeys,
        *,
        policy: MfaPolicy | None = None,
        issuer: str = DEFAULT_ISSUER,
        clock: Clock | None = None,
        audit: AuditRecorder | None = None,
    ) -> None:
        self.db = db
        self.keys = keys
        self.policy = policy or MfaPolicy()
        self.issuer = issuer
        self.clock = clock or SystemClock()
        self.audit = audit or AuditRecorder(self.clock)

    # Enrolment ----------------------------------------------------------------

    @records_denials
    def begin_totp(self, actor: Principal) -> TotpEnrolment:
        """A new secret for the actor, unconfirmed (replacing an unconfirmed one)."""
        user_id = own_user_id(actor)
        now = self.clock.now()
        secret = codes.new_secret()
        key_id, sealed = self.keys.seal_totp_secret(user_id, secret.encode())
        with self.db.write() as session:
            user = session.get(User, user_id)
            username = user.username if user is not None else actor.username
            factor = session.get(TotpFactor, user_id)
            if factor is not None and factor.confirmed_at is not None:
                raise TotpAlreadyEnrolled().denied(AuditAction.MFA_ENROL, {"user": user_id})
            if factor is None:
                session.add(
                    TotpFactor(user_id=user_id, secret_sealed=sealed, key_id=key_id, created_at=now)
                )
            else:
                factor.secret_sealed, factor.key_id = sealed, key_id
                factor.created_at, factor.last_step = now, None
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.MFA_ENROL,
                target={"user": user_id},
                details={"method": "totp", "replaced": factor is not None},
            )
        uri = codes.provisioning_uri(secret, account=username, issuer=self.issuer)
        return TotpEnrolment(uri=uri, svg=codes.qr_svg(uri))

    @records_denials
    def confirm_totp(self, actor: Principal, code: str) -> list[str]:
        """Confirm the actor's new factor with its first code; returns ten recovery codes."""
        user_id = own_user_id(actor)
        now = self.clock.now()
        with self.db.write() as session:
            factor = session.get(TotpFactor, user_id)
            if factor is None:
                raise NoTotpFactor()
            if factor.confirmed_at is not None:
                raise TotpAlreadyEnrolled()
            typed = codes.classify(code)
            step = None
            if typed is not None and typed[0] is CodeKind.TOTP:
                step = codes.accepted_step(self._secret(factor), typed[1], at=now, after=None)
            if step is None:
                raise InvalidMfaCode().denied(AuditAction.MFA_CONFIRM, {"user": user_id})
            factor.confirmed_at, factor.last_step = now, step
            recovery = new_recovery_codes(session, user_id, now)
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.MFA_CONFIRM,
                target={"user": user_id},
                details={"method": "totp", "recovery_codes": len(recovery)},
            )
            return recovery

    # Using a factor -------------------------------------------------------------

    def verify(self, user_id: str, code: str, *, session_id: str | None = None) -> str:
        """Accept a second-factor code of the user; returns the method ("totp", ...).

        The second step of a sign-in: a TOTP code of the current step or one
        either side, later than the last one accepted, or an unused recovery
        code (used up by this call).
        """
        target = {"user": user_id, "session": session_id}
        with self.db.write() as session:
            enrolled = has_factor(session, user_id)
            method = self._consume(session, user_id, code) if enrolled else None
            if method is not None:
                self.audit.record(
                    session,
                    actor=_user(user_id),
                    action=AuditAction.MFA_VERIFY,
                    target=target,
                    details={"method": method},
                )
                return method
        error = InvalidMfaCode() if enrolled else NoTotpFactor()
        self.audit.record_denied(
            self.db,
            actor=_user(user_id),
            action=AuditAction.MFA_VERIFY,
            target=target,
            details={"reason": error.code},
        )
        raise error

    @records_denials
    def remove_totp(
        self, actor: Principal, username: str | None = None, *, code: str | None = None
    ) -> None:
        """Remove a TOTP factor and its recovery codes.

        One's own with a current code (or a recovery code): a session left
        open is not enough. Another user's: administrators (USER_MANAGE), for
        a lost phone.
        """
        own = username is None or _canonical_or_none(username) == actor.username
        if not own:
            authorize(actor, Action.USER_MANAGE)
        with self.db.write() as session:
            user_id = own_user_id(actor) if own else get_user_row(session, username or "").id
            factor = session.get(TotpFactor, user_id)
            if factor is None:
                raise NoTotpFactor()
            method = None
            if own:
                method = self._consume(session, user_id, code or "")
                if method is None:
                    raise InvalidMfaCode().denied(AuditAction.MFA_REMOVE, {"user": user_id})
            session.delete(factor)
            session.flush()
            if not has_factor(session, user_id):  # the codes go with the last factor
                session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.MFA_REMOVE,
                target={"user": user_id},
                details={"method": "totp", "by": "self" if own else "admin", "code": method},
            )

    @records_denials
    def regenerate_recovery_codes(self, actor: Principal, code: str) -> list[str]:
        """Ten new recovery codes for the actor, the old ones void; needs a current code."""
        user_id = own_user_id(actor)
        now = self.clock.now()
        with self.db.write() as session:
            if not has_factor(session, user_id):
                raise NoTotpFactor()
            method = self._consume(session, user_id, code)
            if method is None:
                raise InvalidMfaCode().denied(AuditAction.MFA_RECOVERY_CODES, {"user": user_id})
            recovery = new_recovery_codes(session, user_id, now)
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.MFA_RECOVERY_CODES,
                target={"user": user_id},
                details={"count": len(recovery), "code": method},
            )
            return recovery

    # Reading ----------------------------------------------------------------------

    @records_denials
    def status(self, actor: Principal) -> MfaStatus:
        """The actor's own second factors (never a secret)."""
        user_id = own_user_id(actor)
        with self.db.read() as session:
            factor = session.get(TotpFactor, user_id)
            return MfaStatus(
                required=self.policy.requires(session, user_id),
                totp=factor is not None and factor.confirmed_at is not None,
                totp_pending=factor is not None and factor.confirmed_at is None,
                recovery_codes_left=unused_recovery_codes(session, user_id),
                passkeys=_passkey_count(session, user_id),
            )

    def state(self, user_id: str) -> MfaState:
        """Whether a session of this user must give a second factor, and can."""
        with self.db.read() as session:
            enrolled = has_factor(session, user_id)
            # A user who enrolled of their own accord is asked for the code too:
            # otherwise the factor would protect nothing.
            required = enrolled or self.policy.requires(session, user_id)
        return MfaState(required=required, enrolled=enrolled)

    # Helpers ------------------------------------------------------------------------

    def _secret(self, factor: TotpFactor) -> str:
        plain = self.keys.open_totp_secret(factor.key_id, factor.user_id, factor.secret_sealed)
        return plain.decode()

    def use_code(self, session: Session, user_id: str, code: str) -> str | None:
        """Use up a current code of the user inside the caller's write transaction, which
        records what the code allowed; its method ("totp", "recovery-code"), or None."""
        return self._consume(session, user_id, code)

    def _consume(self, session: Session, user_id: str, code: str) -> str | None:
        """Use up `code` if it is a valid one of the user's factors; its method, or None.

        A TOTP code needs a confirmed TOTP factor; a recovery code, any
        factor (TOTP or passkey). The updates are conditional, so two requests
        racing with one code cannot both succeed (the second matches no row).
        """
        typed = codes.classify(code)
        if typed is None:
            return None
        kind, canonical = typed
        factor = session.get(TotpFactor, user_id)
        if kind is CodeKind.TOTP:
            if factor is None or factor.confirmed_at is None:
                return None
            step = codes.accepted_step(
                self._secret(factor), canonical, at=self.clock.now(), after=factor.last_step
            )
            if step is None:
                return None
            done = session.execute(
                update(TotpFactor)
                .where(
                    TotpFactor.user_id == factor.user_id,
                    or_(TotpFactor.last_step.is_(None), TotpFactor.last_step < step),
                )
                .values(last_step=step)
            )
        else:
            done = session.execute(
                update(RecoveryCode)
                .where(
                    RecoveryCode.user_id == user_id,
                    RecoveryCode.code_hash == codes.recovery_hash(canonical),
                    RecoveryCode.used_at.is_(None),
                )
                .values(used_at=self.clock.now())
            )
        return kind.value if done.rowcount == 1 else None  # type: ignore[attr-defined]


def new_recovery_codes(session: Session, user_id: str, now: dt.datetime) -> list[str]:
    """Ten fresh codes replacing every earlier one; shown once, stored as hashes."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    fresh = codes.new_recovery_codes()
    session.add_all(
        RecoveryCode(
            user_id=user_id,
            code_hash=codes.recovery_hash(c.replace("-", "")),
            created_at=now,
        )
        for c in fresh
    )
    return fresh


def unused_recovery_codes(session: Session, user_id: str) -> int:
    left = session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    return left or 0


def _passkey_count(session: Session, user_id: str) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(PasskeyCredential)
        .where(PasskeyCredential.user_id == user_id)
    )
    return count or 0


def has_factor(session: Session, user_id: str) -> bool:
    """A confirmed TOTP factor or a passkey: the user is enrolled."""
    totp = session.scalar(
        select(TotpFactor.user_id).where(
            TotpFactor.user_id == user_id, TotpFactor.confirmed_at.is_not(None)
        )
    )
    return totp is not None or _passkey_count(session, user_id) > 0


def _canonical_or_none(username: str) -> str | None:
    try:
        return canonical_name(username)
    except InvalidInput:
        return None
