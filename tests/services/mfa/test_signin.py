"""The MFA policy and the second step of signing in (issue 5, item 3)."""

from __future__ import annotations

import pytest

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.services.access.policy import GlobalRole, Principal
from egide.services.accounts.errors import LoginThrottled, PasswordChangeRequired, TokenNotAllowed
from egide.services.audit.recorder import ALLOWED, DENIED
from egide.services.mfa.errors import InvalidMfaCode, MfaEnrolmentRequired, MfaRequired
from egide.services.mfa.policy import MfaMode, MfaPolicy
from egide.services.registry import Services
from egide.services.sessions.errors import NoSession, SessionLocked
from tests.services.mfa.conftest import code_at, enrol, events, outcomes
from tests.vault_fixtures import PASSWORD, SYSTEM, MakeUser

NEW_PASSWORD = "une toute autre phrase de passe 2026"


def required(svc: Services, who: Principal) -> bool:
    return svc.mfa.state(who.user_id or "").required


class TestPolicy:
    @pytest.mark.parametrize("policy", ["everyone"])
    def test_everyone(self, svc: Services, make_user: MakeUser) -> None:
        assert required(svc, make_user("alice"))
        assert required(svc, make_user("root", GlobalRole.ADMIN))

    @pytest.mark.parametrize("policy", ["admins"])
    def test_admins_means_any_global_role(self, svc: Services, make_user: MakeUser) -> None:
        assert not required(svc, make_user("alice"))
        assert required(svc, make_user("root", GlobalRole.ADMIN))
        assert required(svc, make_user("dpo", GlobalRole.DPO))
        assert required(svc, make_user("rssi", GlobalRole.SECURITY))
        svc.accounts.set_roles(SYSTEM, "alice", ["admin"])
        assert required(svc, svc.accounts.principal_for_username("alice"))

    @pytest.mark.parametrize("policy", ["groups"])
    def test_groups(self, svc: Services, make_user: MakeUser) -> None:
        alice, bob = make_user("alice"), make_user("bob")
        svc.accounts.create_group(SYSTEM, "urgences")
        svc.accounts.create_group(SYSTEM, "cardiologie")
        svc.accounts.add_member(SYSTEM, "urgences", "alice")
        svc.accounts.add_member(SYSTEM, "cardiologie", "bob")
        assert required(svc, alice)
        assert not required(svc, bob)
        assert not required(svc, make_user("root", GlobalRole.ADMIN))

    @pytest.mark.parametrize("policy", ["none"])
    def test_none_but_an_enrolled_user_is_still_asked(
        self, svc: Services, make_user: MakeUser, clock: ManualClock
    ) -> None:
        alice = make_user("alice")
        assert not required(svc, alice)
        assert not required(svc, make_user("root", GlobalRole.ADMIN))
        _, new = svc.sessions.login("alice", PASSWORD)
        assert not new.mfa_required
        svc.sessions.authenticate(new.cookie)
        enrol(svc, alice, clock)
        assert required(svc, alice)
        _, new = svc.sessions.login("alice", PASSWORD)
        assert new.mfa_required
        assert not new.mfa_enrolment_required
        with pytest.raises(MfaRequired):
            svc.sessions.authenticate(new.cookie)


def test_enrolment_at_first_sign_in_then_the_code_at_the_next(
    svc: Services, make_user: MakeUser, clock: ManualClock
) -> None:
    alice = make_user("alice")
    _, new = svc.sessions.login("alice", PASSWORD)
    assert new.mfa_required
    assert new.mfa_enrolment_required
    assert new.info.mfa_at is None
    with pytest.raises(MfaEnrolmentRequired):
        svc.sessions.authenticate(new.cookie)
    who, _ = svc.sessions.authenticate(new.cookie, mfa_pending=True)
    uri = svc.mfa.begin_totp(who).uri
    with pytest.raises(InvalidMfaCode):
        svc.sessions.confirm_totp(new.cookie, "000000")
    _, confirmed, recovery = svc.sessions.confirm_totp(new.cookie, code_at(uri, clock.now()))
    assert len(recovery) == 10
    assert confirmed.cookie != new.cookie
    assert confirmed.csrf_token != new.csrf_token
    assert confirmed.info.id != new.info.id
    assert confirmed.info.expires_at == new.info.expires_at, "the absolute end is kept"
    assert (confirmed.info.mfa_at, confirmed.info.mfa_method) == (clock.now(), "totp")
    assert not confirmed.mfa_required
    with pytest.raises(NoSession):
        svc.sessions.authenticate(new.cookie, mfa_pending=True)
    assert svc.sessions.authenticate(confirmed.cookie)[0].user_id == alice.user_id
    svc.sessions.logout(confirmed.cookie)

    clock.advance(minutes=2)
    _, second = svc.sessions.login("alice", PASSWORD)
    assert second.mfa_required
    assert not second.mfa_enrolment_required
    with pytest.raises(MfaRequired):
        svc.sessions.authenticate(second.cookie)
    code = code_at(uri, clock.now())
    _, verified = svc.sessions.verify_mfa(second.cookie, code)
    assert verified.info.mfa_method == "totp"
    svc.sessions.authenticate(verified.cookie)

    _, third = svc.sessions.login("alice", PASSWORD)
    with pytest.raises(InvalidMfaCode):
        svc.sessions.verify_mfa(third.cookie, code), "a code works once"
    _, by_recovery = svc.sessions.verify_mfa(third.cookie, recovery[0])
    assert by_recovery.info.mfa_method == "recovery-code"

    logins = [e.details for e in events(svc, "session.login") if e.outcome == ALLOWED]
    assert sorted(logins).count('{"method":"password"}') == 3
    assert '{"method":"password+totp"}' in logins
    assert '{"method":"password+recovery-code"}' in logins
    assert outcomes(svc, "mfa.verify") == [ALLOWED, ALLOWED, DENIED]
    renewed = [e for e in events(svc, "session.revoke") if '"renewed"' in e.details]
    assert len(renewed) == 3


def test_the_forced_password_change_comes_first(svc: Services, clock: ManualClock) -> None:
    svc.accounts.create_user(SYSTEM, "nurse", password=PASSWORD, must_change_password=True)
    _, new = svc.sessions.login("nurse", PASSWORD)
    assert new.password_change_required
    assert new.mfa_enrolment_required
    with pytest.raises(PasswordChangeRequired):
        svc.sessions.authenticate(new.cookie, mfa_pending=True)
    with pytest.raises(PasswordChangeRequired):
        svc.sessions.verify_mfa(new.cookie, "123456")
    who, _ = svc.sessions.authenticate(new.cookie, password_change=True, mfa_pending=True)
    _, changed = svc.sessions.change_password(new.cookie, PASSWORD, NEW_PASSWORD)
    assert not changed.password_change_required
    assert changed.mfa_enrolment_required, "then the second factor"
    with pytest.raises(MfaEnrolmentRequired):
        svc.sessions.authenticate(changed.cookie)
    with pytest.raises(MfaEnrolmentRequired):
        # With the password changed, changing it again needs the second factor.
        svc.sessions.authenticate(changed.cookie, password_change=True)
    who, _ = svc.sessions.authenticate(changed.cookie, mfa_pending=True)
    uri = svc.mfa.begin_totp(who).uri
    _, done, _ = svc.sessions.confirm_totp(changed.cookie, code_at(uri, clock.now()))
    svc.sessions.authenticate(done.cookie)


def test_unlocking_keeps_the_second_factor(
    svc: Services, make_user: MakeUser, clock: ManualClock
) -> None:
    alice = make_user("alice")
    uri, _ = enrol(svc, alice, clock)
    clock.advance(minutes=1)
    _, new = svc.sessions.login("alice", PASSWORD)
    _, verified = svc.sessions.verify_mfa(new.cookie, code_at(uri, clock.now()))
    clock.advance(minutes=16)
    with pytest.raises(SessionLocked):
        svc.sessions.authenticate(verified.cookie)
    info = svc.sessions.unlock(verified.cookie, PASSWORD)
    assert info.mfa_method == "totp"
    svc.sessions.authenticate(verified.cookie)

    _, pending = svc.sessions.login("alice", PASSWORD)
    clock.advance(minutes=16)
    with pytest.raises(SessionLocked):
        svc.sessions.authenticate(pending.cookie, mfa_pending=True)
    svc.sessions.unlock(pending.cookie, PASSWORD)
    with pytest.raises(MfaRequired):
        svc.sessions.authenticate(pending.cookie), "a password-only session stays one"


def test_a_token_is_made_only_from_a_session_that_gave_its_second_factor(
    svc: Services, make_user: MakeUser, clock: ManualClock
) -> None:
    alice = make_user("alice")
    with pytest.raises(TokenNotAllowed) as refused:
        svc.accounts.create_token(alice, "cli", ["files:read"])
    assert "second factor" in str(refused.value)
    assert outcomes(svc, "token.create") == [DENIED]
    _, secret = svc.accounts.create_token(alice, "cli", ["files:read"], mfa_method="totp")
    assert outcomes(svc, "token.create") == [ALLOWED, DENIED]
    # A token made from a verified session keeps working: it skips the second factor.
    enrol(svc, alice, clock)
    assert svc.accounts.authenticate_token(secret).user_id == alice.user_id


@pytest.mark.parametrize("policy", ["admins"])
def test_a_user_the_policy_spares_makes_tokens_with_a_password(
    svc: Services, make_user: MakeUser
) -> None:
    svc.accounts.create_token(make_user("alice"), "cli", ["files:read"])
    with pytest.raises(TokenNotAllowed):
        svc.accounts.create_token(make_user("root", GlobalRole.ADMIN), "cli", ["files:read"])


def test_the_groups_policy_needs_its_groups() -> None:
    with pytest.raises(ValueError, match="mfa_groups"):
        Settings(mfa_required="groups")
    policy = MfaPolicy.from_settings(Settings(mfa_required="groups", mfa_groups="Urgences,dim"))
    assert policy.groups == frozenset({"urgences", "dim"})
    assert MfaPolicy.from_settings(Settings()).mode is MfaMode.EVERYONE


def test_wrong_codes_are_slowed_like_wrong_passwords(
    svc: Services, make_user: MakeUser, clock: ManualClock
) -> None:
    alice = make_user("alice")
    uri, _ = enrol(svc, alice, clock)
    _, pending = svc.sessions.login("alice", PASSWORD)
    for _ in range(svc.settings.login_free_failures + 1):
        with pytest.raises(InvalidMfaCode):
            svc.sessions.verify_mfa(pending.cookie, "000000")
    # Blocked now: even the right code is not judged, and the refusal says when to retry.
    with pytest.raises(LoginThrottled) as caught:
        svc.sessions.verify_mfa(pending.cookie, code_at(uri, clock.now()))
    assert caught.value.retry_after >= 1
    assert outcomes(svc, "session.throttled") == [DENIED]
    clock.advance(seconds=caught.value.retry_after)
    clock.advance(seconds=30)  # the next time step: a fresh code
    _, verified = svc.sessions.verify_mfa(pending.cookie, code_at(uri, clock.now()))
    assert verified.info.mfa_method == "totp"
