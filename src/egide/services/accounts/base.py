"""The state the parts of AccountService share (users, groups, tokens)."""

from __future__ import annotations

import datetime as dt

import argon2

from egide.core.clock import Clock, SystemClock
from egide.core.db.engine import Database
from egide.services.accounts.passwords import default_hasher
from egide.services.audit.recorder import AuditRecorder
from egide.services.mfa.policy import MfaMode, MfaPolicy


class AccountServiceBase:
    def __init__(
        self,
        db: Database,
        *,
        hasher: argon2.PasswordHasher | None = None,
        clock: Clock | None = None,
        audit: AuditRecorder | None = None,
        mfa_policy: MfaPolicy | None = None,
    ) -> None:
        self._db = db
        self._hasher = hasher or default_hasher()
        self._clock = clock or SystemClock()
        #: Without one (tests of this service alone), events are recorded with no context key.
        self.audit = audit or AuditRecorder(self._clock)
        #: Who must have given a second factor to create a token (issue 5, item 3).
        #: Alone (tests), only users who enrolled one must.
        self.mfa_policy = mfa_policy or MfaPolicy(MfaMode.NONE)

    @property
    def db(self) -> Database:
        return self._db

    def _now(self) -> dt.datetime:
        return self._clock.now()
