"""TOTP enrolment, codes, replay, clock skew, recovery codes and removal (issue 5, item 1)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.crypto.errors import IntegrityError
from egide.core.db.models import RecoveryCode, TotpFactor
from egide.core.errors import EgideError
from egide.services.access.errors import GlobalRoleRequired
from egide.services.access.policy import GlobalRole, Principal
from egide.services.accounts.errors import TokenNotAllowed
from egide.services.audit.recorder import ALLOWED, DENIED
from egide.services.mfa.errors import InvalidMfaCode, NoTotpFactor, TotpAlreadyEnrolled
from egide.services.registry import Services
from tests.services.mfa.conftest import (
    code_at,
    enrol,
    events,
    leaf_text,
    outcomes,
    secret_of,
)
from tests.vault_fixtures import SYSTEM, MakeUser

RECOVERY = re.compile(r"^[2-9A-HJKMNP-TV-Z]{4}(-[2-9A-HJKMNP-TV-Z]{4}){3}$")
STEP = dt.timedelta(seconds=30)


@pytest.fixture
def alice(make_user: MakeUser) -> Principal:
    return make_user("alice")


def test_enrolment_gives_a_uri_a_qr_code_then_ten_recovery_codes(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    enrolment = svc.mfa.begin_totp(alice)
    assert enrolment.uri.startswith("otpauth://totp/")
    assert "alice" in enrolment.uri
    assert "issuer=%C3%89gide" in enrolment.uri
    assert enrolment.svg.startswith("<svg")
    assert "</svg>" in enrolment.svg
    assert secret_of(enrolment.uri) not in repr(enrolment)
    status = svc.mfa.status(alice)
    assert (status.totp, status.totp_pending, status.required) == (False, True, True)
    assert not svc.mfa.state(alice.user_id or "").enrolled

    recovery = svc.mfa.confirm_totp(alice, code_at(enrolment.uri, clock.now()))
    assert len(recovery) == 10
    assert len(set(recovery)) == 10
    assert all(RECOVERY.fullmatch(code) for code in recovery), recovery
    status = svc.mfa.status(alice)
    assert (status.totp, status.totp_pending, status.recovery_codes_left) == (True, False, 10)
    assert svc.mfa.state(alice.user_id or "").enrolled

    secret = secret_of(enrolment.uri)
    with svc.db.read() as session:
        factor = session.get(TotpFactor, alice.user_id)
        hashes = list(session.scalars(select(RecoveryCode.code_hash)))
    assert factor is not None
    assert factor.confirmed_at == clock.now()
    assert secret.encode() not in factor.secret_sealed, "the secret is sealed, never in clear"
    assert not any(code.replace("-", "") in h for code in recovery for h in hashes)
    assert sorted(e.action for e in events(svc) if e.action.startswith("mfa.")) == [
        "mfa.confirm",
        "mfa.enrol",
    ]


def test_a_begun_factor_may_be_replaced_a_confirmed_one_not(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    first = svc.mfa.begin_totp(alice).uri
    second = svc.mfa.begin_totp(alice).uri
    assert secret_of(first) != secret_of(second)
    with pytest.raises(InvalidMfaCode):
        svc.mfa.confirm_totp(alice, code_at(first, clock.now()))
    svc.mfa.confirm_totp(alice, code_at(second, clock.now()))
    with pytest.raises(TotpAlreadyEnrolled):
        svc.mfa.begin_totp(alice)
    refused = [e for e in events(svc, "mfa.enrol") if e.outcome == DENIED]
    assert [e.details for e in refused] == ['{"reason":"mfa-already-enrolled"}']


def test_a_wrong_code_does_not_confirm(svc: Services, alice: Principal, clock: ManualClock) -> None:
    uri = svc.mfa.begin_totp(alice).uri
    right = code_at(uri, clock.now())
    for wrong in (f"{(int(right) + 1) % 1_000_000:06d}", "abc", "", "1234567"):
        with pytest.raises(InvalidMfaCode) as caught:
            svc.mfa.confirm_totp(alice, wrong)
        assert caught.value.field == "code"
    assert not svc.mfa.status(alice).totp
    assert outcomes(svc, "mfa.confirm") == [DENIED] * 4
    with pytest.raises(NoTotpFactor):
        svc.mfa.confirm_totp(make_other(svc), right)


def make_other(svc: Services) -> Principal:
    user = svc.accounts.create_user(SYSTEM, "bob", password="une autre phrase de passe 12")
    return svc.accounts.principal_for(user.id)


def test_a_code_works_once_within_one_step_either_side(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    uri, _ = enrol(svc, alice, clock)
    user_id = alice.user_id or ""
    clock.advance(minutes=5)
    now = clock.now()
    assert svc.mfa.verify(user_id, code_at(uri, now - STEP)) == "totp", "the previous step"
    assert svc.mfa.verify(user_id, code_at(uri, now + STEP)) == "totp", "the next step"
    with pytest.raises(InvalidMfaCode):
        # The current step is older than the last accepted one: a replay.
        svc.mfa.verify(user_id, code_at(uri, now))
    with pytest.raises(InvalidMfaCode):
        svc.mfa.verify(user_id, code_at(uri, now + STEP)), "the same code again"

    clock.advance(minutes=5)
    now = clock.now()
    for off in (now - 2 * STEP, now + 2 * STEP):
        with pytest.raises(InvalidMfaCode):
            svc.mfa.verify(user_id, code_at(uri, off)), "two steps off: expired or early"
    current = code_at(uri, now)
    assert svc.mfa.verify(user_id, f" {current[:3]} {current[3:]} ") == "totp", "spaces ignored"
    with pytest.raises(InvalidMfaCode):
        svc.mfa.verify(user_id, current)

    assert outcomes(svc, "mfa.verify") == [ALLOWED] * 3 + [DENIED] * 5
    verified = events(svc, "mfa.verify")
    assert all('"reason":"invalid-mfa-code"' in e.details for e in verified if e.outcome == DENIED)


def test_a_recovery_code_works_once(svc: Services, alice: Principal, clock: ManualClock) -> None:
    _, recovery = enrol(svc, alice, clock)
    user_id = alice.user_id or ""
    typed = recovery[0].lower().replace("-", " ")
    assert svc.mfa.verify(user_id, typed) == "recovery-code"
    with pytest.raises(InvalidMfaCode):
        svc.mfa.verify(user_id, recovery[0])
    assert svc.mfa.status(alice).recovery_codes_left == 9
    with pytest.raises(InvalidMfaCode):
        svc.mfa.verify(user_id, "2222-3333-4444-5555")
    assert svc.mfa.verify(user_id, recovery[1], session_id="s-1") == "recovery-code"
    (last,) = [e for e in events(svc, "mfa.verify") if '"s-1"' in e.target]
    assert last.target == '{"session":"s-1","user":"' + user_id + '"}'
    assert last.details == '{"method":"recovery-code"}'


def test_verify_without_a_confirmed_factor(svc: Services, alice: Principal) -> None:
    with pytest.raises(NoTotpFactor):
        svc.mfa.verify(alice.user_id or "", "123456")
    svc.mfa.begin_totp(alice)
    with pytest.raises(NoTotpFactor):
        svc.mfa.verify(alice.user_id or "", "123456")
    assert outcomes(svc, "mfa.verify") == [DENIED, DENIED]


def test_new_recovery_codes_void_the_old_ones(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    uri, old = enrol(svc, alice, clock)
    with pytest.raises(InvalidMfaCode):
        svc.mfa.regenerate_recovery_codes(alice, "000000")
    clock.advance(seconds=30)
    new = svc.mfa.regenerate_recovery_codes(alice, code_at(uri, clock.now()))
    assert len(new) == 10
    assert not set(new) & set(old)
    user_id = alice.user_id or ""
    with pytest.raises(InvalidMfaCode):
        svc.mfa.verify(user_id, old[2])
    assert svc.mfa.verify(user_id, new[2]) == "recovery-code"
    assert outcomes(svc, "mfa.recovery_codes") == [ALLOWED, DENIED]


def test_removing_ones_own_factor_needs_a_current_code(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    uri, recovery = enrol(svc, alice, clock)
    with pytest.raises(InvalidMfaCode):
        svc.mfa.remove_totp(alice, code="999999")
    with pytest.raises(InvalidMfaCode):
        svc.mfa.remove_totp(alice)
    svc.mfa.remove_totp(alice, "alice", code=recovery[0])
    status = svc.mfa.status(alice)
    assert (status.totp, status.totp_pending, status.recovery_codes_left) == (False, False, 0)
    with pytest.raises(NoTotpFactor):
        svc.mfa.remove_totp(alice, code=code_at(uri, clock.now()))
    # Two wrong codes; nothing to remove is no refusal.
    assert outcomes(svc, "mfa.remove") == [ALLOWED, DENIED, DENIED]
    # Enrolling again works, with a new secret.
    again, _ = enrol(svc, alice, clock)
    assert secret_of(again) != secret_of(uri)


def test_an_administrator_removes_a_users_factor(
    svc: Services, alice: Principal, make_user: MakeUser, clock: ManualClock
) -> None:
    enrol(svc, alice, clock)
    bob = make_user("bob")
    admin = make_user("root", GlobalRole.ADMIN)
    with pytest.raises(GlobalRoleRequired):
        svc.mfa.remove_totp(bob, "alice")
    assert svc.mfa.status(alice).totp
    svc.mfa.remove_totp(admin, "alice")
    assert not svc.mfa.status(alice).totp
    assert outcomes(svc, "mfa.remove") == [ALLOWED]
    # The policy's refusal names what it refused, as for every administrative action.
    assert outcomes(svc, "user.manage") == [DENIED]
    (removal,) = [e for e in events(svc, "mfa.remove") if e.outcome == ALLOWED]
    assert removal.target == '{"user":"' + (alice.user_id or "") + '"}'
    assert '"by":"admin"' in removal.details
    with pytest.raises(NoTotpFactor):
        svc.mfa.remove_totp(SYSTEM, "alice")


def test_tokens_and_the_system_cannot_manage_factors(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    _, token = svc.accounts.create_token(alice, "t", ["files:read"], mfa_method="totp")
    through_token = svc.accounts.authenticate_token(token)
    for act in (
        lambda: svc.mfa.begin_totp(through_token),
        lambda: svc.mfa.confirm_totp(through_token, "123456"),
        lambda: svc.mfa.regenerate_recovery_codes(through_token, "123456"),
        lambda: svc.mfa.status(through_token),
        lambda: svc.mfa.begin_totp(SYSTEM),
    ):
        with pytest.raises(TokenNotAllowed):
            act()


def test_a_sealed_secret_opens_for_its_own_user_only(
    svc: Services, alice: Principal, make_user: MakeUser, clock: ManualClock
) -> None:
    uri, _ = enrol(svc, alice, clock)
    bob = make_user("bob")
    enrol(svc, bob, clock)
    with svc.db.write() as session:
        mine = session.get(TotpFactor, alice.user_id)
        theirs = session.get(TotpFactor, bob.user_id)
        assert mine is not None
        assert theirs is not None
        theirs.secret_sealed, theirs.key_id = mine.secret_sealed, mine.key_id
    clock.advance(seconds=60)
    with pytest.raises(IntegrityError):
        svc.mfa.verify(bob.user_id or "", code_at(uri, clock.now()))


def test_no_code_or_secret_in_any_audit_entry(
    svc: Services, alice: Principal, make_user: MakeUser, clock: ManualClock
) -> None:
    uri, recovery = enrol(svc, alice, clock)
    user_id = alice.user_id or ""
    typed = [code_at(uri, clock.now())]
    clock.advance(seconds=30)
    typed.append(code_at(uri, clock.now()))
    svc.mfa.verify(user_id, typed[-1])
    with pytest.raises(EgideError):
        svc.mfa.verify(user_id, typed[-1])
    svc.mfa.verify(user_id, recovery[0])
    clock.advance(seconds=30)
    typed.append(code_at(uri, clock.now()))
    fresh = svc.mfa.regenerate_recovery_codes(alice, typed[-1])
    clock.advance(seconds=30)
    typed.append(code_at(uri, clock.now()))
    svc.mfa.remove_totp(alice, code=typed[-1])
    secrets = [secret_of(uri), uri, *typed, *recovery, *fresh]
    secrets += [c.replace("-", "") for c in recovery + fresh]
    every = events(svc)
    assert {e.action for e in every} >= {
        "mfa.enrol",
        "mfa.confirm",
        "mfa.verify",
        "mfa.recovery_codes",
        "mfa.remove",
    }
    for event in every:
        for secret in secrets:
            assert secret not in leaf_text(event), (event.action, secret)
