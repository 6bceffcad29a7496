"""Managing one's passkeys: list, rename, remove (issue 5, item 2).

The part of PasskeyService (`passkeys.py`) that needs no WebAuthn
ceremony, kept apart as AccountService keeps groups and tokens. Removing a
passkey follows the rules of removing the authenticator app
(`MfaService.remove_totp`): one's own with a current code (TOTP or
recovery) or the password, since a session left open is not enough;
another user's by an administrator (USER_MANAGE), for a lost authenticator.
With the last second factor go the recovery codes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select

from egide.core.clock import Clock
from egide.core.db import Database
from egide.core.db.models import PasskeyCredential, RecoveryCode
from egide.core.errors import InvalidInput
from egide.services.access.policy import Action, Principal, authorize
from egide.services.accounts.errors import BadCredentials, WrongCurrentPassword
from egide.services.accounts.records import canonical_name, get_user_row
from egide.services.accounts.service import AccountService
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.audit.recorder import AuditRecorder
from egide.services.mfa.errors import InvalidMfaCode, PasskeyNotFound
from egide.services.mfa.service import MfaService, has_factor, own_user_id

_MAX_NAME = 100


@dataclass(frozen=True)
class PasskeyInfo:
    id: str
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    #: A synced passkey (the authenticator's backup state flag).
    backed_up: bool
    transports: list[str]


def passkey_info(row: PasskeyCredential) -> PasskeyInfo:
    return PasskeyInfo(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        backed_up=row.backed_up,
        transports=[t for t in row.transports.split(",") if t],
    )


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > _MAX_NAME or not name.isprintable():
        raise InvalidInput(
            "Give the passkey a name of 1 to {maximum} printable characters, such as "
            "\u201cYubiKey bureau\u201d or \u201cT\u00e9l\u00e9phone\u201d.",
            field="name",
            maximum=_MAX_NAME,
        )
    return name


def _canonical_or_none(username: str) -> str | None:
    try:
        return canonical_name(username)
    except InvalidInput:
        return None


class PasskeyAdmin:
    db: Database
    audit: AuditRecorder
    accounts: AccountService
    mfa: MfaService
    clock: Clock

    @records_denials
    def list_passkeys(self, actor: Principal) -> list[PasskeyInfo]:
        """The actor's own passkeys, oldest first (no key material)."""
        user_id = own_user_id(actor)
        with self.db.read() as session:
            rows = session.scalars(
                select(PasskeyCredential)
                .where(PasskeyCredential.user_id == user_id)
                .order_by(PasskeyCredential.created_at, PasskeyCredential.id)
            ).all()
            return [passkey_info(r) for r in rows]

    @records_denials
    def rename(self, actor: Principal, passkey_id: str, name: str) -> PasskeyInfo:
        user_id = own_user_id(actor)
        name = check_name(name)
        with self.db.write() as session:
            row = session.get(PasskeyCredential, passkey_id)
            if row is None or row.user_id != user_id:
                raise PasskeyNotFound()
            row.name = name
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.MFA_PASSKEY_RENAME,
                target={"user": user_id, "passkey": row.id},
            )
            return passkey_info(row)

    @records_denials
    def remove(
        self,
        actor: Principal,
        passkey_id: str,
        *,
        username: str | None = None,
        code: str | None = None,
        current_password: str | None = None,
    ) -> None:
        """Remove a passkey; with the last factor go the recovery codes.

        One's own with a current code (TOTP or recovery) or the password, as
        for an authenticator app (`MfaService.remove_totp`): a session left
        open is not enough. Another user's: administrators (USER_MANAGE),
        for a lost authenticator.
        """
        own = username is None or _canonical_or_none(username) == actor.username
        if not own:
            authorize(actor, Action.USER_MANAGE)
        user_id = own_user_id(actor) if own else None
        proof = None
        if own and not code and current_password:
            try:
                self.accounts.authenticate(actor.username, current_password)
            except BadCredentials:
                # Not the passkey id yet: unchecked, it is not known to be an id.
                raise WrongCurrentPassword().denied(
                    AuditAction.MFA_PASSKEY_REMOVE, {"user": user_id}
                ) from None
            proof = "password"
        with self.db.write() as session:
            if user_id is None:
                user_id = get_user_row(session, username or "").id
            row = session.get(PasskeyCredential, passkey_id)
            if row is None or row.user_id != user_id:
                raise PasskeyNotFound()
            target = {"user": user_id, "passkey": row.id}
            if own and proof is None:
                if not code:
                    raise InvalidInput(
                        "To remove a passkey, confirm it is you: give a current code of your "
                        "authenticator app, a recovery code, or your password.",
                        field="code",
                    ).denied(AuditAction.MFA_PASSKEY_REMOVE, target)
                proof = self.mfa.use_code(session, user_id, code)
                if proof is None:
                    raise InvalidMfaCode().denied(AuditAction.MFA_PASSKEY_REMOVE, target)
            session.delete(row)
            session.flush()
            last = not has_factor(session, user_id)
            if last:
                session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.MFA_PASSKEY_REMOVE,
                target=target,
                details={"by": "self" if own else "admin", "proof": proof, "last_factor": last},
            )

    @records_denials
    def remove_all(self, actor: Principal, username: str) -> int:
        """Remove every passkey of a user, for administrators (USER_MANAGE), as
        `egide user mfa-reset` removes the app; how many there were."""
        authorize(actor, Action.USER_MANAGE)
        with self.db.write() as session:
            user_id = get_user_row(session, username).id
            rows = session.scalars(
                select(PasskeyCredential).where(PasskeyCredential.user_id == user_id)
            ).all()
            for row in rows:
                session.delete(row)
            session.flush()
            last = not has_factor(session, user_id)
            if last:
                session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
            for row in rows:
                self.audit.record(
                    session,
                    actor=actor,
                    action=AuditAction.MFA_PASSKEY_REMOVE,
                    target={"user": user_id, "passkey": row.id},
                    details={"by": "admin", "proof": None, "last_factor": last},
                )
            return len(rows)
