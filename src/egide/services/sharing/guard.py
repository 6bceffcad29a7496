"""Throttling link guesses (issue 7, "Bad input"): per client address and per link.

The counters are those of the log-in back-off (`login_throttles`, owned by
`LoginThrottler`), under keys of their own so a link's failures never slow a
log-in:

- `linkip:<address>` (IPv6: its /64) counts every token that opens nothing
  (unknown, expired, revoked, exhausted: the same neutral 404) and every
  wrong password or code; past `login_address_free_failures` every link
  request from the address is refused before any lookup, real tokens
  included, so the refusal tells nothing about which tokens exist;
- `link:<link id>` counts wrong passwords and codes on one link, from any
  address; past `login_free_failures` the link refuses them unjudged, the
  right one included, until the back-off ends (it never locks for good).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

from egide.core.clock import Clock
from egide.core.config import Settings
from egide.core.db import Database
from egide.services.accounts.throttle import (
    LoginThrottler,
    ThrottleKeys,
    ThrottlePolicy,
    address_key,
)
from egide.services.audit.context import current_request
from egide.services.sharing.errors import LinkNotFound, LinkThrottled


class Guessed(LinkNotFound):
    """A token that opens nothing: answered as `LinkNotFound`, counted against the address."""


class LinkGuard:
    def __init__(self, db: Database, clock: Clock, settings: Settings) -> None:
        self.db = db
        policy = ThrottlePolicy.from_settings(settings)
        self._per_link = LoginThrottler(db, clock, policy)
        self._per_address = LoginThrottler(
            db,
            clock,
            dataclasses.replace(policy, free_failures=settings.login_address_free_failures),
        )

    @contextmanager
    def guarded(self) -> Iterator[str | None]:
        """Refuse a blocked client address; count a `Guessed` token raised inside.

        Yields the address's counter key (None without a client: the CLI)."""
        request = current_request()
        base = address_key(None if request is None else request.client_address)
        key = None if base is None else f"link{base}"
        if key is not None:
            self._check(self._per_address, key)
        try:
            yield key
        except Guessed:
            if key is not None:
                self._per_address.record_failure(ThrottleKeys(key, None))
            raise LinkNotFound() from None

    def check_link(self, link_id: str) -> None:
        """Refuse a password or code check on a link past its free failures."""
        self._check(self._per_link, _link_key(link_id))

    def wrong(self, link_id: str, address: str | None) -> None:
        """Count a wrong password or code against the link and the address."""
        self._per_link.record_failure(ThrottleKeys(_link_key(link_id), None))
        if address is not None:
            self._per_address.record_failure(ThrottleKeys(address, None))

    def _check(self, throttler: LoginThrottler, key: str) -> None:
        with self.db.read() as session:
            standing = throttler.standing(session, ThrottleKeys(key, None))
        if standing.retry_after:
            raise LinkThrottled(standing.retry_after)


def _link_key(link_id: str) -> str:
    return f"link:{link_id}"
