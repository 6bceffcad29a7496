"""PasskeyService: passkeys (WebAuthn), a second factor or a passwordless log-in (issue 5, item 2).

Two ceremonies (W3C WebAuthn Level 2, sections 7.1 and 7.2), each in two
calls: options for the browser's `navigator.credentials.create()` or
`.get()`, then the browser's answer, judged here and by the `webauthn`
package. Our own checks come first, so each refusal says what is wrong
(`errors.py`, PasskeyRejected); the package then verifies the whole answer
(attestation, signature) again.

- Relying party and challenges: `ceremony.py` (RP ID the host of
  `public_url`, origin its scheme, host and port; challenges of 32 random
  bytes, five minutes, bound to their purpose, user and web session, used
  up before the answer is judged). Listing, renaming and removing:
  `passkey_admin.py`.
- The signature counter must grow when either side is non-zero: a counter
  that does not is a possible clone of the authenticator, refused. Its
  update is conditional on the old value, so two racing answers cannot both
  pass.
- A failed assertion for a known user counts against the log-in back-off
  (`AccountService.throttled_guess`), as a wrong code does.
- A passwordless log-in requires user verification (PIN, biometrics: the
  UV flag), which makes the passkey alone two factors (something held,
  something known or been); a passkey as the second factor after the
  password needs user presence only.

Audit: `mfa.passkey.add`, `.rename`, `.remove`; a second factor given is
`mfa.verify`, a passwordless log-in `session.login` (written when the
session opens), both with details {"method": "passkey"}; every refusal a
`denied` entry with its reason. The user's name for a passkey is never in
an entry (it is personal text), only the passkey's id.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import webauthn
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from webauthn.helpers import (
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    ClientDataType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from egide.core.clock import Clock, SystemClock
from egide.core.db import Database
from egide.core.db.models import PasskeyCredential, User
from egide.core.errors import EgideError
from egide.services.access.policy import Principal, PrincipalKind
from egide.services.accounts.errors import AccountDisabled
from egide.services.accounts.service import AccountService
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.audit.recorder import AuditRecorder
from egide.services.mfa.ceremony import (
    UNREADABLE,
    ChallengeStore,
    Purpose,
    RelyingParty,
    read_client_data,
    timeout_ms,
)
from egide.services.mfa.errors import (
    MfaRequired,
    NoPasskey,
    PasskeyAlreadyRegistered,
    PasskeyBadSignature,
    PasskeyCloned,
    PasskeyMalformed,
    PasskeyRejected,
    PasskeyUnknown,
    PasskeyUserNotVerified,
)
from egide.services.mfa.passkey_admin import PasskeyAdmin, PasskeyInfo, check_name, passkey_info
from egide.services.mfa.service import (
    MfaService,
    has_factor,
    new_recovery_codes,
    own_user_id,
    unused_recovery_codes,
)


@dataclass(frozen=True)
class PasskeyRegistered:
    passkey: PasskeyInfo
    #: Ten recovery codes when the user had none left (shown once), else empty.
    recovery_codes: list[str]


# The relying party and a passkey's description are offered here too: callers think
# of them as part of this service.
__all__ = ["PasskeyInfo", "PasskeyRegistered", "PasskeyService", "RelyingParty"]


def _user(user_id: str | None) -> Principal:
    if user_id is None:
        return Principal.system()
    return Principal(kind=PrincipalKind.USER, user_id=user_id, username="")


class PasskeyService(PasskeyAdmin):
    def __init__(
        self,
        db: Database,
        accounts: AccountService,
        mfa: MfaService,
        *,
        rp: RelyingParty,
        clock: Clock | None = None,
        audit: AuditRecorder | None = None,
    ) -> None:
        self.db = db
        self.accounts = accounts
        self.mfa = mfa
        self.rp = rp
        self.clock = clock or SystemClock()
        self.audit = audit or AuditRecorder(self.clock)
        self.challenges = ChallengeStore(db, self.clock)

    # Registration ---------------------------------------------------------------

    @records_denials
    def registration_options(self, actor: Principal, *, session_id: str, verified: bool) -> str:
        """Options (JSON) for `navigator.credentials.create()`.

        `verified`: the actor's session gave its second factor. A session
        that did not may register the user's first factor only, never add
        one beside an existing factor (the password alone must not).
        """
        user_id = own_user_id(actor)
        with self.db.write() as session:
            if not verified and has_factor(session, user_id):
                raise MfaRequired().denied(AuditAction.MFA_PASSKEY_ADD, {"user": user_id})
            user = session.get(User, user_id)
            username = user.username if user is not None else actor.username
            display = (user.display_name if user is not None else "") or username
            existing = session.scalars(
                select(PasskeyCredential.credential_id).where(PasskeyCredential.user_id == user_id)
            ).all()
            challenge = self.challenges.issue(
                session, Purpose.REGISTER, user_id=user_id, session_id=session_id
            )
        options = webauthn.generate_registration_options(
            rp_id=self.rp.id,
            rp_name=self.rp.name,
            user_name=username,
            # The user handle: the account's random id, never a name (WebAuthn 14.6.1).
            user_id=user_id.encode(),
            user_display_name=display,
            challenge=challenge,
            timeout=timeout_ms(),
            authenticator_selection=AuthenticatorSelectionCriteria(
                # Discoverable when the authenticator can: usable without a username.
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=c) for c in existing],
        )
        return webauthn.options_to_json(options)

    @records_denials
    def register(
        self,
        actor: Principal,
        name: str,
        credential: Mapping[str, Any],
        *,
        session_id: str,
        verified: bool,
    ) -> PasskeyRegistered:
        """Judge the browser's answer to `registration_options` and keep the passkey.

        The user's first factor comes with ten recovery codes, as does any
        passkey registered while the user has none left unused.
        """
        user_id = own_user_id(actor)
        target = {"user": user_id}
        name = check_name(name)
        try:
            parsed = parse_registration_credential_json(dict(credential))
            client = read_client_data(parsed.response.client_data_json)
        except (*UNREADABLE, PasskeyMalformed) as exc:
            self.challenges.claim(
                Purpose.REGISTER, user_id=user_id, session_id=session_id, challenge=None
            )
            raise PasskeyMalformed().denied(AuditAction.MFA_PASSKEY_ADD, target) from exc
        fresh = self.challenges.claim(
            Purpose.REGISTER, user_id=user_id, session_id=session_id, challenge=client.challenge
        )
        try:
            self.rp.check_client(client, ClientDataType.WEBAUTHN_CREATE, fresh)
            try:
                auth = parse_attestation_object(parsed.response.attestation_object).auth_data
            except UNREADABLE as exc:
                raise PasskeyMalformed() from exc
            self.rp.check_site(auth.rp_id_hash)
            try:
                verified_reg = webauthn.verify_registration_response(
                    credential=parsed,
                    expected_challenge=client.challenge,
                    expected_rp_id=self.rp.id,
                    expected_origin=self.rp.origin,
                )
            except UNREADABLE as exc:
                raise PasskeyBadSignature() from exc
        except PasskeyRejected as exc:
            exc.denied(AuditAction.MFA_PASSKEY_ADD, target)
            raise
        now = self.clock.now()
        transports = ",".join(
            t.value
            for t in parsed.response.transports or []
            if isinstance(t, AuthenticatorTransport)
        )
        with self.db.write() as session:
            if not verified and has_factor(session, user_id):
                raise MfaRequired().denied(AuditAction.MFA_PASSKEY_ADD, target)
            taken = session.scalar(
                select(PasskeyCredential.id).where(
                    PasskeyCredential.credential_id == verified_reg.credential_id
                )
            )
            if taken is not None:
                raise PasskeyAlreadyRegistered().denied(AuditAction.MFA_PASSKEY_ADD, target)
            row = PasskeyCredential(
                user_id=user_id,
                credential_id=verified_reg.credential_id,
                public_key=verified_reg.credential_public_key,
                sign_count=verified_reg.sign_count,
                transports=transports[:200],
                aaguid=verified_reg.aaguid,
                name=name,
                backed_up=verified_reg.credential_backed_up,
                created_at=now,
            )
            session.add(row)
            session.flush()
            recovery = []
            if unused_recovery_codes(session, user_id) == 0:
                recovery = new_recovery_codes(session, user_id, now)
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.MFA_PASSKEY_ADD,
                target={"user": user_id, "passkey": row.id},
                details={"method": "passkey", "recovery_codes": len(recovery)},
            )
            return PasskeyRegistered(passkey=passkey_info(row), recovery_codes=recovery)

    # Signing in -----------------------------------------------------------------------

    def assertion_options(self, *, user_id: str | None, session_id: str | None) -> str:
        """Options (JSON) for `navigator.credentials.get()`: the second factor of the
        user's session, or (no user) a passwordless log-in, which asks for a
        discoverable passkey and user verification."""
        with self.db.write() as session:
            allowed: list[PublicKeyCredentialDescriptor] = []
            if user_id is not None:
                rows = session.scalars(
                    select(PasskeyCredential).where(PasskeyCredential.user_id == user_id)
                ).all()
                if not rows:
                    raise NoPasskey()
                allowed = [
                    PublicKeyCredentialDescriptor(
                        id=r.credential_id,
                        transports=[
                            AuthenticatorTransport(t)
                            for t in r.transports.split(",")
                            if t in set(AuthenticatorTransport)
                        ]
                        or None,
                    )
                    for r in rows
                ]
            purpose = Purpose.LOGIN if user_id is None else Purpose.SECOND_FACTOR
            challenge = self.challenges.issue(
                session, purpose, user_id=user_id, session_id=session_id
            )
        options = webauthn.generate_authentication_options(
            rp_id=self.rp.id,
            challenge=challenge,
            timeout=timeout_ms(),
            allow_credentials=allowed,
            user_verification=(
                UserVerificationRequirement.REQUIRED
                if user_id is None
                else UserVerificationRequirement.PREFERRED
            ),
        )
        return webauthn.options_to_json(options)

    def verify_second_factor(
        self, user_id: str, credential: Mapping[str, Any], *, session_id: str
    ) -> None:
        """Accept the user's passkey as the second step of a sign-in (`mfa.verify`)."""
        target = {"user": user_id, "session": session_id}

        def record(session: Session, _row: PasskeyCredential) -> None:
            self.audit.record(
                session,
                actor=_user(user_id),
                action=AuditAction.MFA_VERIFY,
                target=target,
                details={"method": "passkey"},
            )

        def attempt() -> None:
            try:
                self._judge(
                    credential,
                    Purpose.SECOND_FACTOR,
                    owner=user_id,
                    session_id=session_id,
                    require_uv=False,
                    record=record,
                )
            except PasskeyRejected as exc:
                self._record_refusal(AuditAction.MFA_VERIFY, user_id, target, exc)
                raise

        self.accounts.throttled_guess(user_id, attempt, wrong=PasskeyRejected)

    def verify_login(self, credential: Mapping[str, Any]) -> str:
        """The user a passwordless log-in answer proves, user-verified; else why not.

        A disabled account is refused after the check, as after a right
        password; the session itself is opened by the caller.
        """
        owner = self._owner(credential)

        def attempt() -> str:
            try:
                return self._judge(
                    credential,
                    Purpose.LOGIN,
                    owner=None,
                    session_id=None,
                    require_uv=True,
                    record=lambda _session, _row: None,
                )
            except PasskeyRejected as exc:
                self._record_refusal(AuditAction.LOGIN, owner, {"user": owner}, exc)
                raise

        user_id = (
            attempt()
            if owner is None
            else self.accounts.throttled_guess(owner, attempt, wrong=PasskeyRejected)
        )
        with self.db.read() as session:
            user = session.get(User, user_id)
            disabled = user is None or user.is_disabled
        if disabled:
            error = AccountDisabled()
            self._record_refusal(AuditAction.LOGIN, user_id, {"user": user_id}, error)
            raise error
        return user_id

    # Helpers --------------------------------------------------------------------------

    def _owner(self, credential: Mapping[str, Any]) -> str | None:
        """The user whose passkey this answer names, when it names a registered one."""
        try:
            raw_id = parse_authentication_credential_json(dict(credential)).raw_id
        except UNREADABLE:
            return None
        with self.db.read() as session:
            return session.scalar(
                select(PasskeyCredential.user_id).where(PasskeyCredential.credential_id == raw_id)
            )

    def _judge(
        self,
        credential: Mapping[str, Any],
        purpose: str,
        *,
        owner: str | None,
        session_id: str | None,
        require_uv: bool,
        record: Callable[[Session, PasskeyCredential], None],
    ) -> str:
        """Check an assertion, step by step; the passkey owner's id. Updates the counter
        and calls `record` in the same transaction."""
        try:
            parsed = parse_authentication_credential_json(dict(credential))
            client = read_client_data(parsed.response.client_data_json)
        except (*UNREADABLE, PasskeyMalformed) as exc:
            self.challenges.claim(purpose, user_id=owner, session_id=session_id, challenge=None)
            raise PasskeyMalformed() from exc
        fresh = self.challenges.claim(
            purpose, user_id=owner, session_id=session_id, challenge=client.challenge
        )
        self.rp.check_client(client, ClientDataType.WEBAUTHN_GET, fresh)
        try:
            auth = parse_authenticator_data(parsed.response.authenticator_data)
        except UNREADABLE as exc:
            raise PasskeyMalformed() from exc
        self.rp.check_site(auth.rp_id_hash)
        with self.db.read() as session:
            row = session.scalar(
                select(PasskeyCredential).where(PasskeyCredential.credential_id == parsed.raw_id)
            )
        if row is None:
            raise PasskeyUnknown()
        handle = parsed.response.user_handle
        if (owner is not None and row.user_id != owner) or (
            handle and not hmac.compare_digest(handle, row.user_id.encode())
        ):
            raise PasskeyUnknown(other_user=True)
        if require_uv and not auth.flags.uv:
            raise PasskeyUserNotVerified()
        if (auth.sign_count or row.sign_count) and auth.sign_count <= row.sign_count:
            raise PasskeyCloned()
        try:
            verified = webauthn.verify_authentication_response(
                credential=parsed,
                expected_challenge=client.challenge,
                expected_rp_id=self.rp.id,
                expected_origin=self.rp.origin,
                credential_public_key=row.public_key,
                credential_current_sign_count=row.sign_count,
                require_user_verification=require_uv,
            )
        except UNREADABLE as exc:
            raise PasskeyBadSignature() from exc
        with self.db.write() as session:
            done = session.execute(
                update(PasskeyCredential)
                .where(
                    PasskeyCredential.id == row.id, PasskeyCredential.sign_count == row.sign_count
                )
                .values(
                    sign_count=verified.new_sign_count,
                    backed_up=verified.credential_backed_up,
                    last_used_at=self.clock.now(),
                )
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                # Another answer with this counter won the race: one of them is a copy.
                raise PasskeyCloned()
            record(session, row)
        return row.user_id

    def _record_refusal(
        self,
        action: AuditAction,
        user_id: str | None,
        target: Mapping[str, str | None],
        error: EgideError,
    ) -> None:
        reason = error.audit_reason if isinstance(error, PasskeyRejected) else error.code
        self.audit.record_denied(
            self.db,
            actor=_user(user_id),
            action=action,
            target=target,
            details={"method": "passkey", "reason": reason},
        )
