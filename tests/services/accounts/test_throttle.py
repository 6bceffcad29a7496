"""Log-in throttling: back-off per account and per client address (issue 5, item 5)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from typing import Literal

import argon2
import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.db.engine import Database
from egide.core.db.models import AuditContext, AuditEvent, LoginThrottle
from egide.services.accounts import AccountService
from egide.services.accounts.errors import BadCredentials, LoginThrottled
from egide.services.accounts.throttle import (
    LoginThrottler,
    ThrottleKeys,
    ThrottlePolicy,
    account_key,
    address_key,
)
from egide.services.audit.actions import AuditAction
from egide.services.audit.context import RequestContext, request_context
from egide.services.audit.recorder import DENIED, AuditRecorder
from egide.services.registry import Services
from egide.services.sessions.errors import SessionLocked
from tests.vault_fixtures import PASSWORD

from .conftest import GOOD_PASSWORD, SYSTEM

WRONG = "not the right password at all"
#: Small numbers, so each test reaches the interesting part in a few attempts.
POLICY = ThrottlePolicy(
    free_failures=3,
    address_free_failures=6,
    base=dt.timedelta(seconds=1),
    cap=dt.timedelta(seconds=60),
    memory=dt.timedelta(hours=24),
    address_leak=dt.timedelta(minutes=2),
)


class CountingHasher(argon2.PasswordHasher):
    """Counts verifications: a throttled attempt must cost none."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:  # noqa: A002 - argon2's own parameter name, kept for the override
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def throttled(
    db: Database, clock: ManualClock, audit_recorder: AuditRecorder, hasher: CountingHasher
) -> AccountService:
    accounts = AccountService(db, hasher=hasher, clock=clock, audit=audit_recorder, throttle=POLICY)
    for name in ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"):
        accounts.create_user(SYSTEM, name, password=GOOD_PASSWORD)
    return accounts


@pytest.fixture
def from_address() -> Iterator[None]:
    """The attempts come through the web door from one client address."""
    with request_context(RequestContext(client_address="203.0.113.7", channel="session")):
        yield


def fail(accounts: AccountService, username: str = "alice") -> None:
    with pytest.raises(BadCredentials):
        accounts.authenticate(username, WRONG)


def wait_of(accounts: AccountService, username: str = "alice", password: str = WRONG) -> int:
    """The Retry-After of an attempt that must be throttled."""
    with pytest.raises(LoginThrottled) as caught:
        accounts.authenticate(username, password)
    return caught.value.retry_after


def counter(db: Database, key: str) -> LoginThrottle | None:
    with db.read() as session:
        return session.get(LoginThrottle, key)


def test_free_failures_then_delays_that_double(
    throttled: AccountService, clock: ManualClock
) -> None:
    for _ in range(POLICY.free_failures):
        fail(throttled)
    fail(throttled)  # the first beyond the free ones: judged, then a 1 s block
    waits = []
    for _ in range(5):
        waits.append(wait_of(throttled))
        clock.advance(seconds=waits[-1])
        fail(throttled)
    assert waits == [1, 2, 4, 8, 16]
    # Every throttled attempt tells the same thing, with the time to wait.
    with pytest.raises(LoginThrottled) as caught:
        throttled.authenticate("alice", WRONG)
    assert str(caught.value) == "Too many failed log-in attempts. Wait 32 s, then try again."


def test_a_long_wait_is_told_in_minutes() -> None:
    assert (
        str(LoginThrottled(119)) == "Too many failed log-in attempts. Wait 119 s, then try again."
    )
    assert (
        str(LoginThrottled(121)) == "Too many failed log-in attempts. Wait 3 min, then try again."
    )


def test_the_right_password_is_refused_during_the_delay_and_works_after_it(
    throttled: AccountService, clock: ManualClock, hasher: CountingHasher, db: Database
) -> None:
    for _ in range(POLICY.free_failures + 2):
        clock.advance(seconds=2)
        fail(throttled)
    before = counter(db, account_key(throttled.principal_for_username("alice").user_id, ""))
    assert before is not None
    assert before.failures == POLICY.free_failures + 2
    hasher.verified = 0
    assert wait_of(throttled, password=GOOD_PASSWORD) == 2
    assert hasher.verified == 0  # refused unjudged: no argon2 work
    after = counter(db, before.key)
    assert after is not None
    assert (after.failures, after.blocked_until) == (before.failures, before.blocked_until)

    clock.advance(seconds=2)
    assert throttled.authenticate("alice", GOOD_PASSWORD).username == "alice"
    assert counter(db, before.key) is None  # a success clears the account's counter
    for _ in range(POLICY.free_failures):
        fail(throttled)
    throttled.authenticate("alice", GOOD_PASSWORD)  # free failures again


def test_the_delay_never_exceeds_the_cap(throttled: AccountService, clock: ManualClock) -> None:
    for _ in range(POLICY.free_failures + 1):
        fail(throttled)
    waits = []
    for _ in range(30):  # 2**29 s uncapped
        waits.append(wait_of(throttled))
        clock.advance(seconds=waits[-1])
        fail(throttled)
    assert max(waits) == 60
    assert waits[-10:] == [60] * 10
    clock.advance(seconds=60)
    throttled.authenticate("alice", GOOD_PASSWORD)  # never a permanent lock


def test_the_counter_is_forgotten_after_the_memory_window(
    throttled: AccountService, clock: ManualClock
) -> None:
    for _ in range(POLICY.free_failures):
        fail(throttled)
    clock.advance(hours=23, minutes=59)
    fail(throttled)
    assert wait_of(throttled) == 1  # still remembered within the window
    clock.advance(hours=24)
    for _ in range(POLICY.free_failures):
        fail(throttled)  # counted from zero again
    fail(throttled)
    assert wait_of(throttled) == 1


@pytest.mark.usefixtures("from_address")
def test_password_spraying_from_one_address_is_slowed(
    throttled: AccountService, clock: ManualClock
) -> None:
    names = ["alice", "bob", "carol", "dave", "erin", "frank"]
    assert len(names) == POLICY.address_free_failures
    for name in names:
        fail(throttled, name)  # one guess per account: no account counter is near its limit
    clock.advance(seconds=1)
    fail(throttled, "grace")  # the address's first failure beyond its free ones
    # Every account is now refused from this address, even one never tried ...
    assert wait_of(throttled, "heidi", GOOD_PASSWORD) == 1
    # ... but not from another address.
    with request_context(RequestContext(client_address="198.51.100.20")):
        assert throttled.authenticate("heidi", GOOD_PASSWORD).username == "heidi"
    clock.advance(seconds=1)
    fail(throttled, "heidi")
    assert wait_of(throttled, "alice", GOOD_PASSWORD) == 2


@pytest.mark.usefixtures("from_address")
def test_a_success_does_not_clear_the_address_and_the_address_forgets_slowly(
    throttled: AccountService, clock: ManualClock, db: Database
) -> None:
    for name in ["alice", "bob", "carol", "dave", "erin", "frank"]:
        fail(throttled, name)
    throttled.authenticate("grace", GOOD_PASSWORD)
    stored = counter(db, "ip:203.0.113.7")
    assert stored is not None
    assert stored.failures == POLICY.address_free_failures
    # One failure forgotten per leak interval: after two intervals, two more are free.
    clock.advance(minutes=4)
    fail(throttled, "grace")
    fail(throttled, "heidi")
    throttled.authenticate("alice", GOOD_PASSWORD)
    fail(throttled, "bob")
    assert wait_of(throttled, "alice", GOOD_PASSWORD) == 1


def test_an_unknown_name_is_throttled_like_a_known_one(
    throttled: AccountService, clock: ManualClock, hasher: CountingHasher
) -> None:
    def story(name: str) -> list[tuple[str, str, int]]:
        seen: list[tuple[str, str, int]] = []
        for _ in range(POLICY.free_failures + 3):
            hasher.verified = 0
            try:
                throttled.authenticate(name, WRONG)
            except (BadCredentials, LoginThrottled) as exc:
                seen.append((type(exc).__name__, str(exc), hasher.verified))
            clock.advance(seconds=1)
        return seen

    known, unknown = story("alice"), story("nobody.here")
    assert known == unknown
    # Each attempt is judged with one argon2 check, or refused with none at all.
    assert {row[2] for row in known} == {0, 1}
    assert (
        "LoginThrottled",
        "Too many failed log-in attempts. Wait 1 s, then try again.",
        0,
    ) in known


def test_an_unknown_name_is_stored_only_as_a_hash(throttled: AccountService, db: Database) -> None:
    fail(throttled, "Nobody.Here")
    fail(throttled, "not a name: perhaps a password typed in the wrong field")
    with db.read() as session:
        keys = set(session.scalars(select(LoginThrottle.key)))
    assert keys == {account_key(None, "nobody.here"), "user:-"}
    assert all("nobody" not in key and "password" not in key for key in keys)
    # Any spelling that names the same account counts against the same counter.
    assert account_key(None, " NOBODY.here") == account_key(None, "nobody.here")


def test_addresses_are_keyed_by_host_and_ipv6_by_its_64() -> None:
    assert address_key(None) is None
    assert address_key("") is None
    assert address_key("192.0.2.1") == "ip:192.0.2.1"
    assert address_key("::ffff:192.0.2.1") == "ip:192.0.2.1"
    assert address_key("2001:db8:1:2::5") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::5") == "ip:2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::5") != address_key("2001:db8:1:2::5")
    assert address_key("testclient") == "ip:testclient"


def test_the_delay_formula() -> None:
    policy = ThrottlePolicy(base=dt.timedelta(seconds=2), cap=dt.timedelta(seconds=100))
    assert [policy.delay(n, 5).total_seconds() for n in range(4, 12)] == [
        0,
        0,
        2,
        4,
        8,
        16,
        32,
        64,
    ]
    assert policy.delay(12, 5) == dt.timedelta(seconds=100)
    assert policy.delay(10_000, 5) == dt.timedelta(seconds=100)


def test_concurrent_failures_are_all_counted(
    db: Database, clock: ManualClock, audit_recorder: AuditRecorder
) -> None:
    # No delay within the test: every attempt is judged and must be counted.
    lenient = ThrottlePolicy(free_failures=1000, address_free_failures=1000)
    accounts = AccountService(
        db,
        hasher=argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
        clock=clock,
        audit=audit_recorder,
        throttle=lenient,
    )
    alice = accounts.create_user(SYSTEM, "alice", password=GOOD_PASSWORD)
    threads, attempts = 4, 8
    errors: list[BaseException] = []

    def guess() -> None:
        with request_context(RequestContext(client_address="203.0.113.9")):
            for _ in range(attempts):
                try:
                    accounts.authenticate("alice", WRONG)
                except BadCredentials:
                    continue
                except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                    errors.append(exc)

    workers = [threading.Thread(target=guess) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(worker.is_alive() for worker in workers)
    assert errors == []
    for key in (f"user:{alice.id}", "ip:203.0.113.9"):
        stored = counter(db, key)
        assert stored is not None
        assert stored.failures == threads * attempts


def test_stale_counters_are_purged(db: Database, clock: ManualClock) -> None:
    throttler = LoginThrottler(db, clock, POLICY)
    throttler.record_failure(ThrottleKeys(account="user:old", address="ip:192.0.2.1"))
    clock.advance(hours=12)
    throttler.record_failure(ThrottleKeys(account="user:recent", address=None))
    clock.advance(hours=12)
    assert throttler.purge() == 2
    assert counter(db, "user:old") is None
    assert counter(db, "user:recent") is not None


def _events(db: Database, action: str) -> list[AuditEvent]:
    with db.read() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.mark.usefixtures("from_address")
def test_throttled_attempts_are_audited_without_the_password(
    throttled: AccountService, db: Database, audit_recorder: AuditRecorder
) -> None:
    for _ in range(POLICY.free_failures + 1):
        fail(throttled)
    wait_of(throttled, "alice", GOOD_PASSWORD)
    events = _events(db, AuditAction.LOGIN_THROTTLED)
    assert len(events) == 1
    event = events[0]
    alice_id = throttled.principal_for_username("alice").user_id
    assert event.outcome == DENIED
    assert (event.actor_kind, event.actor_id) == ("user", alice_id)
    assert json.loads(event.target) == {"user": alice_id}
    assert json.loads(event.details) == {"blocked_by": "account", "retry_after": 1}
    assert audit_recorder.sealer is not None
    with db.read() as session:
        sealed = session.get_one(AuditContext, event.id)
        context = audit_recorder.sealer.open(sealed.key_id, event.id, sealed.sealed)
    assert context["username"] == "alice"
    assert context["client"]["address"] == "203.0.113.7"
    with db.read() as session:
        rows = session.scalars(select(AuditEvent)).all()
        contexts = session.scalars(select(AuditContext)).all()
    for row in rows:
        assert GOOD_PASSWORD not in f"{row.target}{row.details}"
        assert WRONG not in f"{row.target}{row.details}"
    for stored in contexts:
        opened = json.dumps(
            audit_recorder.sealer.open(stored.key_id, stored.event_id, stored.sealed)
        )
        assert GOOD_PASSWORD not in opened
        assert WRONG not in opened


def test_an_unknown_name_throttled_is_audited_as_nobody(
    throttled: AccountService, db: Database
) -> None:
    for _ in range(POLICY.free_failures + 1):
        fail(throttled, "nobody.here")
    wait_of(throttled, "nobody.here")
    (event,) = _events(db, AuditAction.LOGIN_THROTTLED)
    assert (event.actor_kind, event.actor_id) == ("system", None)
    assert json.loads(event.target) == {"user": None}


def test_unlocking_a_session_is_throttled_too(svc: Services, clock: ManualClock) -> None:
    svc.accounts.create_user(SYSTEM, "alice", password=PASSWORD)
    cookie = svc.sessions.login("alice", PASSWORD)[1].cookie
    clock.advance(minutes=svc.settings.session_idle_minutes + 1)
    with pytest.raises(SessionLocked):
        svc.sessions.authenticate(cookie)
    for _ in range(svc.settings.login_free_failures + 1):
        with pytest.raises(BadCredentials):
            svc.sessions.unlock(cookie, WRONG)
    with pytest.raises(LoginThrottled):
        svc.sessions.unlock(cookie, PASSWORD)
    clock.advance(seconds=svc.settings.login_backoff_base_seconds)
    assert not svc.sessions.unlock(cookie, PASSWORD).locked
