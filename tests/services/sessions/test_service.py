"""Server-side sessions: revocation, idle lock, absolute lifetime, CSRF."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.models import WebSession
from egide.services.access.policy import GlobalRole
from egide.services.accounts.errors import (
    BadCredentials,
    InvalidToken,
    PasswordChangeRequired,
    WeakPassword,
    WrongCurrentPassword,
)
from egide.services.registry import Services
from egide.services.sessions.errors import (
    CsrfRejected,
    NoSession,
    SessionExpired,
    SessionLocked,
    SessionNotFound,
)
from egide.services.sessions.service import SessionService
from tests.vault_fixtures import PASSWORD, SYSTEM, MakeUser


@pytest.fixture
def sessions(svc: Services, clock: ManualClock) -> SessionService:
    return SessionService(
        svc.db,
        svc.accounts,
        idle_timeout=dt.timedelta(minutes=15),
        lifetime=dt.timedelta(hours=12),
        clock=clock,
        audit=svc.audit.recorder,
    )


def test_login_and_use(sessions: SessionService, make_user: MakeUser) -> None:
    make_user("alice")
    principal, new = sessions.login("alice", PASSWORD, client_address="10.0.0.7", user_agent="UA")
    assert principal.username == "alice"
    who, info = sessions.authenticate(new.cookie)
    assert who.user_id == principal.user_id
    assert info.client_address == "10.0.0.7"
    with sessions.db.read() as session:
        row = session.scalars(select(WebSession)).one()
    # Only hashes are stored.
    assert new.cookie.split(".")[1] not in (row.secret_hash, row.csrf_hash)
    assert new.csrf_token not in (row.secret_hash, row.csrf_hash)


def test_wrong_password_or_forged_cookie(sessions: SessionService, make_user: MakeUser) -> None:
    make_user("alice")
    with pytest.raises(BadCredentials):
        sessions.login("alice", "not the password at all")
    _, new = sessions.login("alice", PASSWORD)
    session_id = new.cookie.split(".")[0]
    for forged in (f"{session_id}.AAAA", session_id, "", "x.y", new.cookie + "x"):
        with pytest.raises(NoSession):
            sessions.authenticate(forged)


def test_idle_sessions_lock_and_unlock_with_the_password(
    sessions: SessionService, make_user: MakeUser, clock: ManualClock
) -> None:
    make_user("alice")
    _, new = sessions.login("alice", PASSWORD)
    clock.advance(minutes=14)
    sessions.authenticate(new.cookie)  # activity keeps it open
    clock.advance(minutes=14)
    sessions.authenticate(new.cookie)
    clock.advance(minutes=16)
    with pytest.raises(SessionLocked, match="unlock"):
        sessions.authenticate(new.cookie)
    # Locked is persisted: coming back quickly does not unlock it.
    with pytest.raises(SessionLocked):
        sessions.authenticate(new.cookie)
    with pytest.raises(BadCredentials):
        sessions.unlock(new.cookie, "wrong password here")
    with pytest.raises(SessionLocked):
        sessions.authenticate(new.cookie)
    info = sessions.unlock(new.cookie, PASSWORD)
    assert not info.locked
    sessions.authenticate(new.cookie)


def test_absolute_lifetime(
    sessions: SessionService, make_user: MakeUser, clock: ManualClock
) -> None:
    make_user("alice")
    _, new = sessions.login("alice", PASSWORD)
    for _ in range(60):  # busy all day long (60 x 14 min > 12 h)
        clock.advance(minutes=14)
        if clock.now() >= new.info.expires_at:
            break
        sessions.authenticate(new.cookie)
    with pytest.raises(SessionExpired):
        sessions.authenticate(new.cookie)
    with pytest.raises(NoSession):
        sessions.unlock(new.cookie, PASSWORD)


def test_logout_and_revocation(sessions: SessionService, make_user: MakeUser) -> None:
    alice = make_user("alice")
    bob = make_user("bob")
    admin = make_user("chief", GlobalRole.ADMIN)
    _, first = sessions.login("alice", PASSWORD)
    _, second = sessions.login("alice", PASSWORD)
    _, third = sessions.login("alice", PASSWORD)
    sessions.logout(first.cookie)
    with pytest.raises(NoSession):
        sessions.authenticate(first.cookie)
    assert {s.id for s in sessions.list_sessions(alice)} == {third.info.id, second.info.id}
    with pytest.raises(SessionNotFound):
        sessions.revoke(bob, second.info.id)
    sessions.authenticate(second.cookie)  # bob's attempt changed nothing
    sessions.revoke(alice, second.info.id)
    with pytest.raises(NoSession):
        sessions.authenticate(second.cookie)
    assert [s.id for s in sessions.list_sessions(admin, alice.user_id)] == [third.info.id]
    sessions.revoke(admin, third.info.id)
    with pytest.raises(NoSession):
        sessions.authenticate(third.cookie)
    with pytest.raises(SessionNotFound):
        sessions.revoke(alice, third.info.id)


def test_disabled_user_and_password_change_end_sessions(
    sessions: SessionService, make_user: MakeUser, clock: ManualClock, svc: Services
) -> None:
    make_user("alice")
    make_user("bob")
    _, alice_session = sessions.login("alice", PASSWORD)
    _, bob_session = sessions.login("bob", PASSWORD)
    svc.accounts.disable_user(SYSTEM, "alice")
    with pytest.raises(NoSession):
        sessions.authenticate(alice_session.cookie)
    svc.accounts.enable_user(SYSTEM, "alice")
    with pytest.raises(NoSession):
        sessions.authenticate(alice_session.cookie)  # ended for good, not suspended
    _, fresh_alice = sessions.login("alice", PASSWORD)
    sessions.authenticate(fresh_alice.cookie)  # a session begun after enabling works
    clock.advance(seconds=1)
    svc.accounts.change_password(SYSTEM, "bob", "a brand new passphrase 2026")
    with pytest.raises(NoSession):
        sessions.authenticate(bob_session.cookie)
    _, fresh = sessions.login("bob", "a brand new passphrase 2026")
    assert fresh.password_change_required  # an administrator chose it
    with pytest.raises(PasswordChangeRequired):
        sessions.authenticate(fresh.cookie)


def test_a_password_chosen_by_someone_else_allows_only_its_change(
    sessions: SessionService, make_user: MakeUser, clock: ManualClock, svc: Services
) -> None:
    make_user("alice")
    _, mine = sessions.login("alice", PASSWORD)
    assert not mine.password_change_required
    token = svc.accounts.create_token(sessions.authenticate(mine.cookie)[0], "cli", ["files:read"])
    clock.advance(seconds=1)
    svc.accounts.change_password(SYSTEM, "alice", "handed over on paper 2026")
    with pytest.raises(InvalidToken):  # a reset revokes every token
        svc.accounts.authenticate_token(token[1])
    _, first = sessions.login("alice", "handed over on paper 2026")
    assert first.password_change_required
    with pytest.raises(PasswordChangeRequired):
        sessions.authenticate(first.cookie)
    who, _ = sessions.authenticate(first.cookie, password_change=True)
    assert who.username == "alice"
    with pytest.raises(WrongCurrentPassword):
        sessions.change_password(first.cookie, "not the password", "my own choice at last 77")
    with pytest.raises(WeakPassword):
        sessions.change_password(
            first.cookie, "handed over on paper 2026", "handed over on paper 2026"
        )
    clock.advance(seconds=1)
    _, second = sessions.login("alice", "handed over on paper 2026")
    clock.advance(seconds=1)
    who, renewed = sessions.change_password(
        first.cookie, "handed over on paper 2026", "my own choice at last 77"
    )
    assert not renewed.password_change_required
    assert sessions.authenticate(renewed.cookie)[0].username == "alice"
    for ended in (first.cookie, second.cookie):  # this session and every other one end
        with pytest.raises(NoSession):
            sessions.authenticate(ended, password_change=True)
    clock.advance(seconds=1)
    _, later = sessions.login("alice", "my own choice at last 77")
    assert not later.password_change_required
    sessions.authenticate(later.cookie)


def test_csrf_token(sessions: SessionService, make_user: MakeUser) -> None:
    make_user("alice")
    _, new = sessions.login("alice", PASSWORD)
    _, other = sessions.login("alice", PASSWORD)
    sessions.check_csrf(new.cookie, new.csrf_token)
    for bad in (None, "", other.csrf_token, new.csrf_token[:-1]):
        with pytest.raises(CsrfRejected):
            sessions.check_csrf(new.cookie, bad)


def test_a_session_unused_while_its_user_was_disabled_stays_ended(
    sessions: SessionService, make_user: MakeUser, clock: ManualClock, svc: Services
) -> None:
    make_user("alice")
    _, idle = sessions.login("alice", PASSWORD)
    clock.advance(seconds=1)
    svc.accounts.disable_user(SYSTEM, "alice")
    clock.advance(seconds=1)
    svc.accounts.enable_user(SYSTEM, "alice")  # the session was never used meanwhile
    with pytest.raises(NoSession):
        sessions.authenticate(idle.cookie)
    with svc.db.read() as session:
        row = session.get(WebSession, idle.info.id)
        assert row is not None
        assert row.end_reason == "disabled"
