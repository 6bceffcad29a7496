"""The device authorization grant behind `egide login` (RFC 8628; issue 5, item 3).

The real services on the test database (SQLite, or PostgreSQL when
EGIDE_TEST_DATABASE_URL is set), with a movable clock; alice approves from a
real web session.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.models import AuditEvent, DeviceAuthorization
from egide.core.errors import InvalidInput
from egide.services.access.policy import GlobalRole, Principal, Scope
from egide.services.accounts.device import (
    DeviceApprovalNotAllowed,
    DeviceGrant,
    InvalidScope,
    UnknownUserCode,
    normalise_user_code,
)
from egide.services.accounts.errors import LoginThrottled, TokenNotAllowed
from egide.services.audit.recorder import ALLOWED, DENIED
from egide.services.registry import Services
from tests.vault_fixtures import PASSWORD, SYSTEM

pytestmark = pytest.mark.db

USER_CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")


@pytest.fixture
def alice(svc: Services) -> Principal:
    user = svc.accounts.create_user(SYSTEM, "alice", password=PASSWORD)
    return svc.accounts.principal_for(user.id)


@pytest.fixture
def session_id(svc: Services, alice: Principal) -> str:
    """A real web session of alice's (the approving session)."""
    return svc.sessions.login("alice", PASSWORD)[1].info.id


def events(svc: Services, action: str) -> list[AuditEvent]:
    with svc.db.read() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == action)
                .order_by(AuditEvent.created_at, AuditEvent.id)
            )
        )


def start(svc: Services, scopes: str | None = None) -> DeviceGrant:
    return svc.device.start("egide CLI on poste-12", scopes)


def approve(svc: Services, alice: Principal, session_id: str, code: str) -> None:
    svc.device.approve(alice, code, session_id=session_id, mfa_method="totp")


def test_start_hands_out_codes_and_keeps_only_their_hashes(svc: Services) -> None:
    grant = start(svc)
    assert USER_CODE.match(grant.user_code)
    assert len(grant.device_code) >= 43  # 32 random bytes, base64url
    assert grant.verification_uri == f"{svc.settings.resolved_public_url}/device"
    assert grant.user_code not in grant.verification_uri
    assert (grant.expires_in, grant.interval) == (600, 5)
    assert "***" in repr(grant)
    assert grant.device_code not in repr(grant)
    with svc.db.read() as session:
        row = session.scalars(select(DeviceAuthorization)).one()
        stored = json.dumps([str(getattr(row, c.key)) for c in DeviceAuthorization.__table__.c])
    for code in (grant.device_code, grant.user_code, grant.user_code.replace("-", "")):
        assert code not in stored
    assert row.scopes == "files:read files:write"
    assert [e.outcome for e in events(svc, "device.start")] == [ALLOWED]


def test_user_codes_are_read_whatever_the_case_spaces_and_dashes() -> None:
    assert normalise_user_code(" bcdf-ghjk ") == "BCDFGHJK"
    assert normalise_user_code("bc df gh jk") == "BCDFGHJK"
    assert normalise_user_code("BCDFGHJ") is None
    assert normalise_user_code("BCDFGHJA") is None  # a vowel is never in a code


def test_approved_device_gets_its_token_once(
    svc: Services, clock: ManualClock, alice: Principal, session_id: str
) -> None:
    grant = start(svc)
    assert svc.device.poll(grant.device_code).error == "authorization_pending"
    shown = svc.device.describe(alice, grant.user_code.lower(), session_id=session_id)
    assert shown.client_name == "egide CLI on poste-12"
    assert shown.granted == {Scope.FILES_READ, Scope.FILES_WRITE}
    svc.device.approve(
        alice, grant.user_code.replace("-", " "), session_id=session_id, mfa_method="totp"
    )
    clock.advance(seconds=5)
    result = svc.device.poll(grant.device_code)
    assert result.error is None
    assert result.token is not None
    assert result.info is not None
    assert result.token not in repr(result)
    principal = svc.accounts.authenticate_token(result.token)
    assert principal.user_id == alice.user_id
    assert principal.scopes == frozenset({Scope.FILES_READ, Scope.FILES_WRITE})
    assert result.info.name == "egide CLI on poste-12"
    # The token's entry is that of POST /tokens, naming the request and the session.
    (created,) = events(svc, "token.create")
    target = json.loads(created.target)
    assert target["session"] == session_id
    assert target["token"] == result.info.id
    assert created.actor_id == alice.user_id
    (approved,) = events(svc, "device.approve")
    assert approved.outcome == ALLOWED
    assert json.loads(approved.target)["session"] == session_id
    # Replayed: no second token.
    clock.advance(seconds=5)
    assert svc.device.poll(grant.device_code).error == "invalid_grant"
    assert len(svc.accounts.list_tokens(alice)) == 1
    refused = events(svc, "device.token")
    assert [json.loads(e.details)["reason"] for e in refused] == ["already-issued"]
    assert refused[0].outcome == DENIED


def test_polling_faster_than_the_interval_slows_the_device_down(
    svc: Services, clock: ManualClock
) -> None:
    grant = start(svc)
    assert svc.device.poll(grant.device_code).error == "authorization_pending"
    clock.advance(seconds=2)
    slowed = svc.device.poll(grant.device_code)
    assert (slowed.error, slowed.interval) == ("slow_down", 10)
    clock.advance(seconds=6)  # still under the new interval
    assert svc.device.poll(grant.device_code).interval == 15
    clock.advance(seconds=15)
    pending = svc.device.poll(grant.device_code)
    assert (pending.error, pending.interval) == ("authorization_pending", 15)


def test_an_expired_request_can_be_neither_approved_nor_polled(
    svc: Services, clock: ManualClock, alice: Principal, session_id: str
) -> None:
    grant = start(svc)
    clock.advance(minutes=10)
    assert svc.device.poll(grant.device_code).error == "expired_token"
    with pytest.raises(UnknownUserCode):
        approve(svc, alice, session_id, grant.user_code)
    reasons = [json.loads(e.details)["reason"] for e in events(svc, "device.approve")]
    assert reasons == ["device-code-unknown"]


def test_a_denied_device_gets_no_token(
    svc: Services, clock: ManualClock, alice: Principal, session_id: str
) -> None:
    grant = start(svc)
    svc.device.deny(alice, grant.user_code, session_id=session_id)
    clock.advance(seconds=5)
    assert svc.device.poll(grant.device_code).error == "access_denied"
    assert not svc.accounts.list_tokens(alice)
    assert [e.outcome for e in events(svc, "device.deny")] == [ALLOWED]
    # Decided once: neither approved nor denied again.
    with pytest.raises(UnknownUserCode):
        approve(svc, alice, session_id, grant.user_code)


def test_an_unknown_device_code_is_an_invalid_grant(svc: Services) -> None:
    assert svc.device.poll("not-a-device-code").error == "invalid_grant"


def test_a_used_user_code_is_refused(svc: Services, alice: Principal, session_id: str) -> None:
    grant = start(svc)
    approve(svc, alice, session_id, grant.user_code)
    with pytest.raises(UnknownUserCode, match="wrong, expired or already used"):
        approve(svc, alice, session_id, grant.user_code)


def test_wrong_user_codes_are_slowed_like_passwords(
    svc: Services, alice: Principal, session_id: str
) -> None:
    grant = start(svc)
    free = svc.settings.login_free_failures
    for _ in range(free):
        with pytest.raises(UnknownUserCode):
            svc.device.describe(alice, "BBBB-BBBB", session_id=session_id)
    with pytest.raises(UnknownUserCode):
        approve(svc, alice, session_id, "not a code at all")
    # Now the account is blocked: even the right code waits.
    with pytest.raises(LoginThrottled):
        approve(svc, alice, session_id, grant.user_code)
    assert len([e for e in events(svc, "device.approve") if e.outcome == DENIED]) == free + 1
    assert events(svc, "session.throttled")


def test_only_a_web_session_approves(svc: Services, alice: Principal, session_id: str) -> None:
    grant = start(svc)
    info, secret = svc.accounts.create_token(alice, "script", ["files:read"])
    by_token = svc.accounts.authenticate_token(secret)
    assert by_token.token_id == info.id
    with pytest.raises(DeviceApprovalNotAllowed):
        svc.device.approve(by_token, grant.user_code, session_id=session_id, mfa_method="totp")
    with pytest.raises(DeviceApprovalNotAllowed):
        svc.device.approve(alice, grant.user_code, session_id=None, mfa_method="totp")
    with pytest.raises(DeviceApprovalNotAllowed):
        svc.device.describe(SYSTEM, grant.user_code, session_id=session_id)
    denied = [e for e in events(svc, "device.approve") if e.outcome == DENIED]
    assert len(denied) == 3
    # The code is still good for the right session.
    approve(svc, alice, session_id, grant.user_code)


def test_a_session_without_the_second_factor_cannot_approve(
    svc: Services, clock: ManualClock, alice: Principal, session_id: str
) -> None:
    """The rule of POST /tokens: a user bound to a second factor (here: enrolled)
    approves only from a session that gave it."""
    uri = svc.mfa.begin_totp(alice).uri
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    svc.mfa.confirm_totp(alice, pyotp.TOTP(secret).at(clock.now()))
    grant = start(svc)
    with pytest.raises(TokenNotAllowed, match="second factor"):
        svc.device.approve(alice, grant.user_code, session_id=session_id, mfa_method=None)
    (refused,) = events(svc, "device.approve")
    assert refused.outcome == DENIED
    assert json.loads(refused.details)["reason"] == "token-not-allowed"
    clock.advance(seconds=5)
    assert svc.device.poll(grant.device_code).error == "authorization_pending"
    approve(svc, alice, session_id, grant.user_code)
    clock.advance(seconds=5)
    assert svc.device.poll(grant.device_code).token is not None


def test_scopes_are_narrowed_to_the_users_roles(
    svc: Services, clock: ManualClock, alice: Principal, session_id: str
) -> None:
    grant = start(svc, "files:read admin")
    shown = svc.device.describe(alice, grant.user_code, session_id=session_id)
    assert shown.scopes == {Scope.FILES_READ, Scope.ADMIN}
    assert shown.granted == {Scope.FILES_READ}
    approve(svc, alice, session_id, grant.user_code)
    clock.advance(seconds=5)
    result = svc.device.poll(grant.device_code)
    assert result.info is not None
    assert result.info.scopes == {Scope.FILES_READ}
    only_admin = start(svc, "admin")
    with pytest.raises(TokenNotAllowed):
        approve(svc, alice, session_id, only_admin.user_code)


def test_an_administrator_gets_the_admin_scope(svc: Services, clock: ManualClock) -> None:
    user = svc.accounts.create_user(
        SYSTEM, "root.admin", password=PASSWORD, roles=[GlobalRole.ADMIN]
    )
    admin = svc.accounts.principal_for(user.id)
    session_id = svc.sessions.login("root.admin", PASSWORD)[1].info.id
    grant = start(svc, "admin")
    approve(svc, admin, session_id, grant.user_code)
    clock.advance(seconds=5)
    result = svc.device.poll(grant.device_code)
    assert result.info is not None
    assert result.info.scopes == {Scope.ADMIN}


def test_a_user_disabled_after_approving_gets_no_token(
    svc: Services, clock: ManualClock, alice: Principal, session_id: str
) -> None:
    grant = start(svc)
    approve(svc, alice, session_id, grant.user_code)
    svc.accounts.disable_user(SYSTEM, "alice")
    clock.advance(seconds=5)
    assert svc.device.poll(grant.device_code).error == "access_denied"
    clock.advance(seconds=5)
    assert svc.device.poll(grant.device_code).error == "access_denied"


@pytest.mark.parametrize(
    ("name", "scopes", "days"),
    [
        ("", None, 90),
        ("x" * 101, None, 90),
        ("cli\x00", None, 90),
        ("cli\u202e", None, 90),
        ("cli", "files:read root", 90),
        ("cli", None, 0),
    ],
)
def test_bad_requests_are_refused(svc: Services, name: str, scopes: str | None, days: int) -> None:
    with pytest.raises(InvalidScope if scopes else InvalidInput, match=r"scope|device|lives"):
        svc.device.start(name, scopes, token_days=days)
    with svc.db.read() as session:
        assert session.scalars(select(DeviceAuthorization)).first() is None
