"""A per-address request budget for the few operations that write without a caller.

Starting a passwordless passkey sign-in, a single sign-on or a device
authorization stores a row (a challenge, a state, a device code) before
anyone is known: without a bound, one client could fill the database, and on
SQLite hold its single writer. Each such request spends a token from its
address's bucket (IPv6 by its /64, as the log-in back-off counts them); an
empty bucket answers 429 with Retry-After, and nothing is written.

The buckets live in this process's memory: a refusal costs no database
write, and several server processes each allow the budget (a bound, not an
exact quota). The budget is generous, since a hospital's users often share
one address behind its NAT: `unauthenticated_requests_per_minute`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Request

from egide.core.errors import EgideError, ErrorKind
from egide.services.accounts.throttle import address_key

#: Addresses remembered at most; the least recently seen are forgotten first
#: (a forgotten address starts again with a full bucket).
MAX_ADDRESSES = 10_000


class RequestsThrottled(EgideError):
    kind = ErrorKind.THROTTLED
    code = "requests-throttled"

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            "Too many sign-in requests from your network address. Wait {seconds} s, then "
            "try again.",
            seconds=retry_after,
        )


class AddressBudget:
    """Token buckets per client address: `per_minute` tokens a minute, twice that at most."""

    def __init__(
        self,
        per_minute: int,
        *,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = 2.0 * per_minute
        self.max_addresses = max_addresses
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def spend(self, address: str | None) -> None:
        """Take one token for `address`, or raise RequestsThrottled (nothing taken)."""
        key = address_key(address) or "unknown"
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise RequestsThrottled(max(1, math.ceil((1.0 - tokens) / self.rate)))
            self._buckets[key] = (tokens - 1.0, now)
            while len(self._buckets) > self.max_addresses:
                self._buckets.popitem(last=False)


def spend_unauthenticated(request: Request) -> None:
    """FastAPI dependency: one request of the app's unauthenticated budget."""
    budget: AddressBudget = request.app.state.unauthenticated_budget
    budget.spend(request.client.host if request.client else None)


#: The OpenAPI answer of an operation under the budget.
BUDGET_RESPONSES: dict[int | str, dict[str, object]] = {
    429: {
        "description": "Too many such requests from this address: wait the seconds "
        "Retry-After says",
        "headers": {
            "Retry-After": {
                "description": "Seconds until the address may ask again",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    }
}
