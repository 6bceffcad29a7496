"""Log-in throttling: exponential back-off per account and per client address (issue 5, item 5).

Each failed password check adds one failure to two counters in
`login_throttles`: the account's (`user:<user id>`) and the client
address's (`ip:<address>`, none at the command line). Past a number of free
failures, each further failure blocks the counter for a delay that doubles,
from `base` up to `cap`; an attempt made while either counter is blocked is
refused unjudged (no password check, so no argon2 work), with the seconds
left. Never a permanent lock: the delay is capped, and the right password
after it signs in and clears the account's counter.

The two counters differ on purpose (docs/threat-model.md, section 3):

- the account's counter allows few free failures and is forgotten
  `memory` after its last failure; a success clears it;
- the address's counter allows many more (a hospital's users may share one
  NAT address, so one person's typos must not slow everyone), forgets one
  failure every `address_leak` (a steady trickle of typos never piles up),
  and is not cleared by a success: otherwise an attacker holding one account
  could wipe their address's record between guesses at others'.

A name that belongs to no account gets a counter of its own, keyed by a hash
of the name, so that it is throttled exactly like a real account and the
back-off tells nothing about which names exist. Names that cannot be a user
name at all share one counter: no account can be slowed through it, and
what was typed (perhaps a password in the wrong field) is never stored.

Counters are changed only inside a write transaction that first inserts the
row if missing (INSERT ... ON CONFLICT DO NOTHING) then locks it (SELECT ...
FOR UPDATE on PostgreSQL; SQLite's write transactions are already serialised
by BEGIN IMMEDIATE), so concurrent requests and several server processes
count every failure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from egide.core.clock import Clock
from egide.core.config import Settings
from egide.core.db.engine import Database
from egide.core.db.models import LoginThrottle
from egide.core.errors import InvalidInput
from egide.services.accounts.records import canonical_name

#: The counter of every name that cannot be a user name (see the module docstring).
_NOT_A_NAME_KEY = "user:-"
#: IPv6 clients get a /64 each: one host commonly holds the whole prefix and
#: could otherwise take a fresh address for every guess.
_IPV6_PREFIX = 64
#: Room left for an address in `login_throttles.key` (String(100)).
_MAX_ADDRESS = 90
#: Stale counters are deleted by about one failure in this many (a table scan).
_PURGE_ONE_IN = 64


@dataclass(frozen=True)
class ThrottlePolicy:
    """The back-off parameters (settings `login_*`, docs/configuration.md)."""

    #: Failures of one account allowed before any delay.
    free_failures: int = 5
    #: Failures from one client address allowed before any delay.
    address_free_failures: int = 50
    #: The delay after the first failure beyond the free ones; it doubles at each next.
    base: dt.timedelta = dt.timedelta(seconds=1)
    #: The longest delay, however many failures.
    cap: dt.timedelta = dt.timedelta(minutes=15)
    #: A counter is forgotten this long after its last failure.
    memory: dt.timedelta = dt.timedelta(hours=24)
    #: The address's counter forgets one failure every this long.
    address_leak: dt.timedelta = dt.timedelta(minutes=2)

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottlePolicy:
        return cls(
            free_failures=settings.login_free_failures,
            address_free_failures=settings.login_address_free_failures,
            base=dt.timedelta(seconds=settings.login_backoff_base_seconds),
            cap=dt.timedelta(seconds=settings.login_backoff_max_seconds),
            memory=dt.timedelta(hours=settings.login_failure_memory_hours),
            address_leak=dt.timedelta(seconds=settings.login_address_leak_seconds),
        )

    def delay(self, failures: int, free: int) -> dt.timedelta:
        """How long a counter at `failures` is blocked: none while free, then doubling."""
        beyond = failures - free
        if beyond <= 0:
            return dt.timedelta(0)
        # 2**40 seconds is beyond any sensible cap; stop doubling there.
        return min(self.cap, self.base * (1 << min(beyond - 1, 40)))


@dataclass(frozen=True)
class ThrottleKeys:
    """The counters one log-in attempt is judged by and counted against."""

    account: str
    address: str | None

    def all(self) -> list[str]:
        # Always in the same order, so two transactions lock rows alike (no deadlock).
        return sorted(k for k in (self.account, self.address) if k is not None)


@dataclass(frozen=True)
class Standing:
    """Where an attempt stands before its password is checked."""

    #: Seconds to wait (at least 1), or 0 when the attempt may be judged.
    retry_after: int
    #: "account" or "address": the counter that blocks (for the audit entry).
    blocked_by: str | None
    #: The account's counter holds failures, so a success has one to clear.
    account_failed: bool


def account_key(user_id: str | None, username: str) -> str:
    """`user:<id>` for an account; for a name without one, a key of the same kind."""
    if user_id is not None:
        return f"user:{user_id}"
    try:
        name = canonical_name(username)
    except InvalidInput:
        return _NOT_A_NAME_KEY
    digest = hashlib.sha256(b"egide login throttle\0" + name.encode()).hexdigest()
    return f"user:#{digest}"


def address_key(address: str | None) -> str | None:
    """`ip:<address>`, IPv6 by its /64; None without an address (the command line)."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"ip:{address[:_MAX_ADDRESS]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"ip:{ip.ipv4_mapped}"
        return f"ip:{ipaddress.ip_network((ip, _IPV6_PREFIX), strict=False)}"
    return f"ip:{ip}"


def _seconds(delay: dt.timedelta) -> int:
    return max(1, math.ceil(delay.total_seconds()))


class LoginThrottler:
    """Judges, counts and clears failed log-ins; the one owner of `login_throttles`."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        policy: ThrottlePolicy,
        on_cleared: Callable[[Session, str, LoginThrottle], object] | None = None,
    ) -> None:
        """`on_cleared(session, account key, counter)` runs in the transaction that clears
        an account's counter holding failures (the log-in alert, `services/mail/alerts.py`)."""
        self._db = db
        self._clock = clock
        self.policy = policy
        self.on_cleared = on_cleared

    def standing(self, session: Session, keys: ThrottleKeys) -> Standing:
        """Whether an attempt may be judged now, read in the caller's transaction."""
        now = self._clock.now()
        rows = {
            row.key: row
            for row in session.scalars(
                select(LoginThrottle).where(LoginThrottle.key.in_(keys.all()))
            )
        }
        waits: dict[str, dt.timedelta] = {}
        for which, key in (("account", keys.account), ("address", keys.address)):
            row = rows.get(key) if key is not None else None
            if row is not None and row.blocked_until is not None and row.blocked_until > now:
                waits[which] = row.blocked_until - now
        account = rows.get(keys.account)
        account_failed = account is not None and account.failures > 0
        if not waits:
            return Standing(retry_after=0, blocked_by=None, account_failed=account_failed)
        blocked_by = max(waits, key=waits.__getitem__)
        return Standing(
            retry_after=_seconds(waits[blocked_by]),
            blocked_by=blocked_by,
            account_failed=account_failed,
        )

    def record_failure(self, keys: ThrottleKeys) -> None:
        """Count one failure against each counter, and block those past their free failures."""
        now = self._clock.now()
        with self._db.write() as session:
            for key in keys.all():
                self._count(session, key, now)
        if secrets.randbelow(_PURGE_ONE_IN) == 0:
            self.purge()

    def record_success(self, keys: ThrottleKeys) -> None:
        """Clear the account's counter; the address's stays (see the module docstring)."""
        with self._db.write() as session:
            counter = session.get(LoginThrottle, keys.account)
            if self.on_cleared is not None and counter is not None and counter.failures > 0:
                self.on_cleared(session, keys.account, counter)
            session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys.account))

    def purge(self) -> int:
        """Delete the counters forgotten and no longer blocking; returns how many."""
        now = self._clock.now()
        with self._db.write() as session:
            result = session.execute(
                delete(LoginThrottle).where(
                    LoginThrottle.last_failure_at <= now - self.policy.memory,
                    or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until <= now),
                )
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def _count(self, session: Session, key: str, now: dt.datetime) -> None:
        insert = sqlite_insert if self._db.is_sqlite else pg_insert
        session.execute(
            insert(LoginThrottle)
            .values(key=key, failures=0, last_failure_at=now, blocked_until=None)
            .on_conflict_do_nothing(index_elements=[LoginThrottle.key])
        )
        row = session.execute(
            select(LoginThrottle.failures, LoginThrottle.last_failure_at)
            .where(LoginThrottle.key == key)
            .with_for_update()
        ).one()
        failures = self._remembered(key, row.failures, now - row.last_failure_at) + 1
        free = self._free(key)
        delay = self.policy.delay(failures, free)
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(
                failures=failures,
                last_failure_at=now,
                blocked_until=now + delay if delay else None,
            )
        )

    def _free(self, key: str) -> int:
        if key.startswith("ip:"):
            return self.policy.address_free_failures
        return self.policy.free_failures

    def _remembered(self, key: str, failures: int, elapsed: dt.timedelta) -> int:
        """The failures a counter still holds `elapsed` after its last one."""
        if elapsed >= self.policy.memory:
            return 0
        if key.startswith("ip:"):
            return max(0, failures - elapsed // self.policy.address_leak)
        return failures
