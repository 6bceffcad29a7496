"""The state the parts of AccountService share (users, groups, tokens)."""

from __future__ import annotations

import datetime as dt

import argon2

from egide.core.clock import Clock, SystemClock
from egide.core.db.engine import Database
from egide.services.accounts.passwords import default_hasher


class AccountServiceBase:
    def __init__(
        self,
        db: Database,
        *,
        hasher: argon2.PasswordHasher | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._db = db
        self._hasher = hasher or default_hasher()
        self._clock = clock or SystemClock()

    def _now(self) -> dt.datetime:
        return self._clock.now()
