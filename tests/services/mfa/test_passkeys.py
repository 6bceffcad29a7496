"""Passkeys (WebAuthn) through the services, with a software authenticator (issue 5, item 2).

The authenticator is soft-webauthn's, extended by tests/passkey_authenticator.py
(user verification, altered answers); every answer is signed by a real
ECDSA key and judged by the `webauthn` package behind our own checks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.core.errors import EgideError, InvalidInput
from egide.services.access.policy import Principal
from egide.services.accounts.errors import (
    AccountDisabled,
    LoginThrottled,
    WrongCurrentPassword,
)
from egide.services.audit.recorder import ALLOWED, DENIED
from egide.services.mfa.errors import (
    InvalidMfaCode,
    MfaRequired,
    NoPasskey,
    PasskeyBadSignature,
    PasskeyChallengeInvalid,
    PasskeyCloned,
    PasskeyMalformed,
    PasskeyNotFound,
    PasskeyUnknown,
    PasskeyUserNotVerified,
    PasskeyWrongCeremony,
    PasskeyWrongOrigin,
    PasskeyWrongSite,
)
from egide.services.mfa.passkeys import RelyingParty
from egide.services.registry import Services
from egide.services.sessions.errors import NoSession
from egide.services.sessions.service import NewSession
from tests.passkey_authenticator import SoftPasskey, b64, tamper_client_data
from tests.services.mfa.conftest import code_at, enrol, events, leaf_text
from tests.vault_fixtures import PASSWORD, SYSTEM, MakeUser

ORIGIN = "https://egide.example.org"
RP_ID = "egide.example.org"
NAME = "YubiKey bureau"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(public_url=ORIGIN + "/")


def login(svc: Services, username: str = "alice") -> NewSession:
    return svc.sessions.login(username, PASSWORD)[1]


def register(
    svc: Services, cookie: str, name: str = NAME
) -> tuple[SoftPasskey, NewSession | None, list[str]]:
    """A new software passkey registered from the session `cookie`."""
    passkey = SoftPasskey(ORIGIN)
    answer = passkey.create_json(svc.sessions.passkey_registration_options(cookie))
    _, new, registered = svc.sessions.register_passkey(cookie, name, answer)
    assert registered.passkey.name == name
    return passkey, new, registered.recovery_codes


def enrolled(svc: Services, username: str = "alice") -> tuple[SoftPasskey, list[str]]:
    """`username` enrolled with a first passkey; a new session is then needed."""
    passkey, new, recovery = register(svc, login(svc, username).cookie)
    assert new is not None
    return passkey, recovery


def denials(svc: Services, action: str) -> list[str]:
    """The reasons of `action`'s denied events, sorted (events of one instant have no order)."""
    return sorted(
        json.loads(e.details)["reason"] for e in events(svc, action) if e.outcome == DENIED
    )


def allowed(svc: Services, action: str) -> list[dict[str, Any]]:
    return [json.loads(e.details) for e in events(svc, action) if e.outcome == ALLOWED]


def test_relying_party_is_the_public_address() -> None:
    rp = RelyingParty.from_settings(
        Settings(public_url="https://Egide.CHU-Exemple.fr:8443/coffre/", mfa_issuer="Égide CHU")
    )
    assert rp == RelyingParty(
        id="egide.chu-exemple.fr", origin="https://egide.chu-exemple.fr:8443", name="Égide CHU"
    )
    # As a browser writes an origin: no default port, no user info.
    default_port = Settings(public_url="https://user@egide.example.org:443")
    assert RelyingParty.from_settings(default_port).origin == ORIGIN


class TestRegistration:
    def test_a_first_passkey_enrols_and_verifies_the_session(
        self, svc: Services, alice: Principal
    ) -> None:
        pending = login(svc)
        assert pending.mfa_enrolment_required
        options = json.loads(svc.sessions.passkey_registration_options(pending.cookie))
        assert options["rp"] == {"id": RP_ID, "name": "Égide"}
        assert options["user"]["id"] == b64((alice.user_id or "").encode())
        assert len(options["challenge"]) == 43, "32 random bytes"
        assert options["authenticatorSelection"]["residentKey"] == "preferred"

        _, new, recovery = register(svc, pending.cookie)
        assert new is not None
        assert new.info.mfa_method == "passkey"
        assert not new.mfa_required
        assert len(recovery) == 10
        assert svc.mfa.state(alice.user_id or "").enrolled
        with pytest.raises(NoSession):
            svc.sessions.authenticate(pending.cookie)
        svc.sessions.authenticate(new.cookie)  # verified: no mfa_pending needed
        (added,) = events(svc, "mfa.passkey.add")
        assert added.outcome == ALLOWED
        assert NAME not in leaf_text(added), "the user's own name for it stays out of the log"
        assert json.loads(added.details) == {"method": "passkey", "recovery_codes": 10}

    def test_several_named_listed_renamed(
        self, svc: Services, alice: Principal, clock: ManualClock
    ) -> None:
        _, first_codes = enrolled(svc)
        clock.advance(seconds=1)
        session = login(svc)
        # A verified session (by a recovery code) adds a second passkey: no renewal, no codes.
        _, verified = svc.sessions.verify_mfa(session.cookie, first_codes[0])
        _, new, recovery = register(svc, verified.cookie, "Téléphone")
        assert new is None
        assert recovery == []
        listed = svc.passkeys.list_passkeys(alice)
        assert [p.name for p in listed] == [NAME, "Téléphone"]
        assert svc.mfa.status(alice).passkeys == 2
        renamed = svc.passkeys.rename(alice, listed[1].id, "  Téléphone   perso ")
        assert renamed.name == "Téléphone perso"
        (event,) = events(svc, "mfa.passkey.rename")
        assert "perso" not in leaf_text(event)
        with pytest.raises(InvalidInput):
            svc.passkeys.rename(alice, listed[1].id, "\x00")

    def test_a_session_without_its_factor_cannot_add_one_beside_an_app(
        self, svc: Services, alice: Principal, clock: ManualClock
    ) -> None:
        enrol(svc, alice, clock)
        pending = login(svc)
        assert pending.mfa_required
        with pytest.raises(MfaRequired):
            svc.sessions.passkey_registration_options(pending.cookie)
        assert denials(svc, "mfa.passkey.add") == ["mfa-required"]

    @pytest.mark.parametrize(
        ("alter", "error"),
        [
            ({"origin": "https://egide.example.org.evil.test"}, PasskeyWrongOrigin),
            ({"rp_id": "evil.test"}, PasskeyWrongSite),
            ({"ceremony": "webauthn.get"}, PasskeyWrongCeremony),
        ],
        ids=["origin", "rp-id", "ceremony"],
    )
    def test_bad_registrations_are_refused_and_recorded(
        self, svc: Services, alice: Principal, alter: dict[str, Any], error: type[EgideError]
    ) -> None:
        pending = login(svc)
        options = svc.sessions.passkey_registration_options(pending.cookie)
        answer = SoftPasskey(ORIGIN).create_json(options, **alter)
        with pytest.raises(error):
            svc.sessions.register_passkey(pending.cookie, NAME, answer)
        assert denials(svc, "mfa.passkey.add") == [error.code]
        assert not svc.mfa.state(alice.user_id or "").enrolled

    @pytest.mark.usefixtures("alice")
    def test_a_registration_challenge_serves_once(self, svc: Services) -> None:
        pending = login(svc)
        options = svc.sessions.passkey_registration_options(pending.cookie)
        broken = SoftPasskey(ORIGIN).create_json(options, origin="https://evil.test")
        with pytest.raises(PasskeyWrongOrigin):
            svc.sessions.register_passkey(pending.cookie, NAME, broken)
        right = SoftPasskey(ORIGIN).create_json(options)
        with pytest.raises(PasskeyChallengeInvalid):
            svc.sessions.register_passkey(pending.cookie, NAME, right)

    @pytest.mark.usefixtures("alice")
    def test_a_malformed_registration(self, svc: Services) -> None:
        pending = login(svc)
        options = svc.sessions.passkey_registration_options(pending.cookie)
        answer = SoftPasskey(ORIGIN).create_json(options)
        answer["response"]["attestationObject"] = b64(b"\xff not cbor")
        with pytest.raises(PasskeyMalformed):
            svc.sessions.register_passkey(pending.cookie, NAME, answer)
        assert denials(svc, "mfa.passkey.add") == ["passkey-malformed"]


class TestSecondFactor:
    def test_a_passkey_after_the_password(self, svc: Services, alice: Principal) -> None:
        passkey, _ = enrolled(svc)
        pending = login(svc)
        assert pending.mfa_required
        assert not pending.mfa_enrolment_required
        options = json.loads(svc.sessions.passkey_options(pending.cookie))
        assert options["userVerification"] == "preferred"
        assert [c["id"] for c in options["allowCredentials"]] == [b64(passkey.credential_id)]
        # User presence only (soft-webauthn's own answer): enough after a password.
        answer = passkey.get_json(json.dumps(options), user_verified=False)
        _, new = svc.sessions.verify_passkey(pending.cookie, answer)
        assert new.info.mfa_method == "passkey"
        svc.sessions.authenticate(new.cookie)
        verified = [e for e in events(svc, "mfa.verify") if e.outcome == ALLOWED]
        assert [json.loads(e.details) for e in verified] == [{"method": "passkey"}]
        (passkey_info,) = svc.passkeys.list_passkeys(alice)
        assert passkey_info.last_used_at is not None

    def test_no_passkey_no_options(
        self, svc: Services, alice: Principal, clock: ManualClock
    ) -> None:
        enrol(svc, alice, clock)
        with pytest.raises(NoPasskey):
            svc.sessions.passkey_options(login(svc).cookie)

    @pytest.mark.usefixtures("alice")
    def test_a_recovery_code_stands_in_for_a_lost_passkey(self, svc: Services) -> None:
        _, recovery = enrolled(svc)
        _, new = svc.sessions.verify_mfa(login(svc).cookie, recovery[0])
        assert new.info.mfa_method == "recovery-code"
        with pytest.raises(InvalidMfaCode):
            svc.sessions.verify_mfa(login(svc).cookie, "123456")

    @pytest.mark.usefixtures("alice")
    def test_failures_are_throttled(self, svc: Services) -> None:
        passkey, _ = enrolled(svc)
        forger = ec.generate_private_key(ec.SECP256R1())
        pending = login(svc)
        for _ in range(svc.settings.login_free_failures):
            options = svc.sessions.passkey_options(pending.cookie)
            with pytest.raises(PasskeyBadSignature):
                svc.sessions.verify_passkey(
                    pending.cookie, passkey.get_json(options, signing_key=forger)
                )
        options = svc.sessions.passkey_options(pending.cookie)
        with pytest.raises(PasskeyBadSignature):
            svc.sessions.verify_passkey(
                pending.cookie, passkey.get_json(options, signing_key=forger)
            )
        options = svc.sessions.passkey_options(pending.cookie)
        with pytest.raises(LoginThrottled):
            svc.sessions.verify_passkey(pending.cookie, passkey.get_json(options))
        assert [e.outcome for e in events(svc, "session.throttled")] == [DENIED]


def _second_factor_case(  # noqa: PLR0911 - one answer per case
    svc: Services, passkey: SoftPasskey, cookie: str, clock: ManualClock, case: str
) -> dict[str, Any]:
    """An answer to fresh options of the session `cookie`, wrong as `case` says."""
    options = svc.sessions.passkey_options(cookie)
    if case == "origin":
        return passkey.get_json(options, origin="https://evil.test")
    if case == "rp-id":
        return passkey.get_json(options, rp_id="evil.test")
    if case == "signature":
        return passkey.get_json(options, signing_key=ec.generate_private_key(ec.SECP256R1()))
    if case == "unknown":
        stranger = SoftPasskey(ORIGIN)
        stranger.cred_init(RP_ID, b"someone")
        return stranger.get_json(options)
    if case == "expired":
        answer = passkey.get_json(options)
        clock.advance(minutes=5, seconds=1)
        return answer
    if case == "replayed":
        answer = passkey.get_json(options)
        with pytest.raises(PasskeyBadSignature):  # a first, failed answer uses it up
            svc.sessions.verify_passkey(cookie, tamper_client_data(answer, extra="x"))
        return answer
    if case == "tampered":
        return tamper_client_data(passkey.get_json(options), crossOrigin=True)
    if case == "garbled":
        answer = passkey.get_json(options)
        answer["response"]["clientDataJSON"] = b64(b"{not json")
        return answer
    if case == "ceremony":
        return passkey.get_json(options, ceremony="webauthn.create")
    assert case == "counter"
    return passkey.get_json(options, sign_count=1)  # a copy of the key, behind the original


BAD_ANSWERS: dict[str, type[EgideError]] = {
    "origin": PasskeyWrongOrigin,
    "rp-id": PasskeyWrongSite,
    "signature": PasskeyBadSignature,
    "unknown": PasskeyUnknown,
    "expired": PasskeyChallengeInvalid,
    "replayed": PasskeyChallengeInvalid,
    "tampered": PasskeyBadSignature,
    "garbled": PasskeyMalformed,
    "ceremony": PasskeyWrongCeremony,
    "counter": PasskeyCloned,
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
def test_bad_second_factor_answers_are_refused_and_recorded(
    svc: Services, alice: Principal, clock: ManualClock, case: str
) -> None:
    passkey, _ = enrolled(svc)
    pending = login(svc)
    if case == "counter":  # the server has seen counter 1 once
        options = svc.sessions.passkey_options(pending.cookie)
        svc.sessions.verify_passkey(pending.cookie, passkey.get_json(options, sign_count=1))
        pending = login(svc)
    answer = _second_factor_case(svc, passkey, pending.cookie, clock, case)
    before = {e.id for e in events(svc, "mfa.verify")}
    error = BAD_ANSWERS[case]
    with pytest.raises(error) as raised:
        svc.sessions.verify_passkey(pending.cookie, answer)
    assert raised.value.render()  # a message that says what to do
    new = [e for e in events(svc, "mfa.verify") if e.id not in before]
    assert [(e.outcome, json.loads(e.details)) for e in new] == [
        (DENIED, {"method": "passkey", "reason": error.code})
    ]
    with pytest.raises(MfaRequired):
        svc.sessions.authenticate(pending.cookie)


def test_another_users_passkey_is_refused_and_recorded(
    svc: Services, alice: Principal, make_user: MakeUser
) -> None:
    enrolled(svc, "alice")
    make_user("bob")
    bobs, _ = enrolled(svc, "bob")
    pending = login(svc, "alice")
    options = svc.sessions.passkey_options(pending.cookie)
    with pytest.raises(PasskeyUnknown):
        svc.sessions.verify_passkey(pending.cookie, bobs.get_json(options))
    assert denials(svc, "mfa.verify") == ["passkey-other-user"]


class TestPasswordless:
    def options(self, svc: Services) -> str:
        options = svc.passkeys.assertion_options(user_id=None, session_id=None)
        parsed = json.loads(options)
        assert parsed["userVerification"] == "required"
        assert parsed.get("allowCredentials", []) == []
        return options

    def test_a_verified_passkey_opens_a_verified_session(
        self, svc: Services, alice: Principal
    ) -> None:
        passkey, _ = enrolled(svc)
        who, new = svc.sessions.login_passkey(passkey.get_json(self.options(svc)))
        assert who.user_id == alice.user_id
        assert new.info.mfa_method == "passkey"
        assert not new.mfa_required
        assert not new.password_change_required
        svc.sessions.authenticate(new.cookie)
        assert {"method": "passkey"} in allowed(svc, "session.login")

    @pytest.mark.usefixtures("alice")
    def test_an_answer_serves_once(self, svc: Services) -> None:
        passkey, _ = enrolled(svc)
        answer = passkey.get_json(self.options(svc))
        svc.sessions.login_passkey(answer)
        with pytest.raises(PasskeyChallengeInvalid):
            svc.sessions.login_passkey(answer)
        assert denials(svc, "session.login") == ["passkey-challenge-invalid"]

    @pytest.mark.usefixtures("alice")
    def test_user_verification_is_required(self, svc: Services) -> None:
        passkey, _ = enrolled(svc)
        with pytest.raises(PasskeyUserNotVerified):
            svc.sessions.login_passkey(passkey.get_json(self.options(svc), user_verified=False))
        assert denials(svc, "session.login") == ["passkey-user-not-verified"]

    @pytest.mark.usefixtures("alice")
    def test_an_unknown_passkey(self, svc: Services) -> None:
        stranger = SoftPasskey(ORIGIN)
        stranger.cred_init(RP_ID, b"nobody")
        with pytest.raises(PasskeyUnknown):
            svc.sessions.login_passkey(stranger.get_json(self.options(svc)))
        (event,) = events(svc, "session.login")
        assert event.outcome == DENIED
        assert json.loads(event.details) == {"method": "passkey", "reason": "passkey-unknown"}

    @pytest.mark.usefixtures("alice")
    def test_a_user_handle_of_someone_else(self, svc: Services, make_user: MakeUser) -> None:
        passkey, _ = enrolled(svc)
        bob = make_user("bob")
        passkey.user_handle = (bob.user_id or "").encode()
        with pytest.raises(PasskeyUnknown):
            svc.sessions.login_passkey(passkey.get_json(self.options(svc)))
        assert denials(svc, "session.login") == ["passkey-other-user"]

    @pytest.mark.usefixtures("alice")
    def test_a_disabled_user_is_refused(self, svc: Services) -> None:
        passkey, _ = enrolled(svc)
        svc.accounts.disable_user(SYSTEM, "alice")
        with pytest.raises(AccountDisabled):
            svc.sessions.login_passkey(passkey.get_json(self.options(svc)))
        assert denials(svc, "session.login") == ["account-disabled"]

    @pytest.mark.usefixtures("alice")
    def test_a_password_to_change_is_still_to_change(self, svc: Services) -> None:
        passkey, _ = enrolled(svc)
        svc.accounts.change_password(SYSTEM, "alice", "une toute autre phrase de passe 2026")
        _, new = svc.sessions.login_passkey(passkey.get_json(self.options(svc)))
        assert new.password_change_required

    @pytest.mark.usefixtures("alice")
    def test_failures_of_a_known_passkey_are_throttled(self, svc: Services) -> None:
        passkey, _ = enrolled(svc)
        for _ in range(svc.settings.login_free_failures + 1):
            with pytest.raises(PasskeyUserNotVerified):
                svc.sessions.login_passkey(passkey.get_json(self.options(svc), user_verified=False))
        with pytest.raises(LoginThrottled):
            svc.sessions.login_passkey(passkey.get_json(self.options(svc)))


class TestRemoval:
    def test_with_the_password_the_last_factor_takes_the_codes(
        self, svc: Services, alice: Principal
    ) -> None:
        enrolled(svc)
        (passkey,) = svc.passkeys.list_passkeys(alice)
        with pytest.raises(WrongCurrentPassword):
            svc.passkeys.remove(alice, passkey.id, current_password="not my password")
        with pytest.raises(InvalidInput):
            svc.passkeys.remove(alice, passkey.id)
        svc.passkeys.remove(alice, passkey.id, current_password=PASSWORD)
        assert svc.passkeys.list_passkeys(alice) == []
        status = svc.mfa.status(alice)
        assert (status.passkeys, status.recovery_codes_left) == (0, 0)
        assert not svc.mfa.state(alice.user_id or "").enrolled
        assert denials(svc, "mfa.passkey.remove") == ["invalid-input", "wrong-current-password"]
        assert allowed(svc, "mfa.passkey.remove") == [
            {"by": "self", "proof": "password", "last_factor": True}
        ]

    def test_with_a_code_beside_an_app(
        self, svc: Services, alice: Principal, clock: ManualClock
    ) -> None:
        uri, _ = enrol(svc, alice, clock)
        clock.advance(seconds=30)  # the next code: the first one confirmed the app
        _, verified = svc.sessions.verify_mfa(login(svc).cookie, code_at(uri, clock.now()))
        register(svc, verified.cookie)
        (passkey,) = svc.passkeys.list_passkeys(alice)
        clock.advance(seconds=30)
        with pytest.raises(InvalidMfaCode):
            svc.passkeys.remove(alice, passkey.id, code="000000")
        svc.passkeys.remove(alice, passkey.id, code=code_at(uri, clock.now()))
        status = svc.mfa.status(alice)
        assert status.totp
        assert status.recovery_codes_left == 10, "the app still needs them"

    def test_an_app_removed_keeps_the_codes_of_the_passkeys(
        self, svc: Services, alice: Principal, clock: ManualClock
    ) -> None:
        uri, _ = enrol(svc, alice, clock)
        clock.advance(seconds=30)  # the next code: the first one confirmed the app
        _, verified = svc.sessions.verify_mfa(login(svc).cookie, code_at(uri, clock.now()))
        register(svc, verified.cookie)
        clock.advance(seconds=30)
        svc.mfa.remove_totp(alice, code=code_at(uri, clock.now()))
        assert svc.mfa.status(alice).recovery_codes_left == 10

    def test_someone_elses_is_not_found_an_admin_may(
        self, svc: Services, alice: Principal, make_user: MakeUser
    ) -> None:
        enrolled(svc)
        (passkey,) = svc.passkeys.list_passkeys(alice)
        bob = make_user("bob")
        with pytest.raises(PasskeyNotFound):
            svc.passkeys.remove(bob, passkey.id, current_password=PASSWORD)
        with pytest.raises(EgideError):
            svc.passkeys.remove(bob, passkey.id, username="alice")
        svc.passkeys.remove(SYSTEM, passkey.id, username="alice")
        assert svc.passkeys.list_passkeys(alice) == []
        assert [d["by"] for d in allowed(svc, "mfa.passkey.remove")] == ["admin"]


@pytest.mark.usefixtures("alice")
def test_an_administrator_resets_every_passkey(svc: Services, make_user: MakeUser) -> None:
    _, recovery = enrolled(svc)
    _, verified = svc.sessions.verify_mfa(login(svc).cookie, recovery[0])
    register(svc, verified.cookie, "Téléphone")
    with pytest.raises(EgideError):
        svc.passkeys.remove_all(make_user("bob"), "alice")
    assert svc.passkeys.remove_all(SYSTEM, "alice") == 2
    alice = svc.accounts.principal_for_username("alice")
    assert svc.passkeys.list_passkeys(alice) == []
    assert svc.mfa.status(alice).recovery_codes_left == 0, "no factor left, no codes"
    assert (
        allowed(svc, "mfa.passkey.remove")
        == [{"by": "admin", "proof": None, "last_factor": True}] * 2
    )
    assert login(svc).mfa_enrolment_required


def test_tokens_cannot_manage_passkeys(svc: Services, alice: Principal) -> None:
    info, _ = svc.accounts.create_token(alice, "script", ["files:read"], mfa_method="passkey")
    token = svc.accounts.principal_for(alice.user_id or "", token_id=info.id)
    calls: list[Callable[[], object]] = [
        lambda: svc.passkeys.list_passkeys(token),
        lambda: svc.passkeys.rename(token, "x", "y"),
        lambda: svc.passkeys.remove(token, "x", current_password=PASSWORD),
    ]
    for call in calls:
        with pytest.raises(EgideError, match="user"):
            call()
