"""A vault whose MFA policy each test states, and helpers computing codes as an app would."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import argon2
import pyotp
import pytest
from sqlalchemy import select

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.core.db.models import AuditEvent
from egide.services.access.policy import Principal
from egide.services.registry import Services, build_services, initialise


def secret_of(uri: str) -> str:
    """The base32 secret an authenticator app reads from the otpauth:// URI."""
    return parse_qs(urlparse(uri).query)["secret"][0]


def code_at(uri: str, moment: dt.datetime) -> str:
    """The code the app shows at `moment` (pyotp, independent of the server's code)."""
    return pyotp.TOTP(secret_of(uri)).at(moment)


def events(svc: Services, action: str | None = None) -> list[AuditEvent]:
    with svc.db.read() as session:
        query = select(AuditEvent).order_by(AuditEvent.created_at, AuditEvent.id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return list(session.scalars(query))


def outcomes(svc: Services, action: str) -> list[str]:
    """The outcomes of `action`'s events, sorted (events of one instant have no order)."""
    return sorted(e.outcome for e in events(svc, action))


def leaf_text(event: AuditEvent) -> str:
    """Everything of an event that is stored in clear (its context is sealed)."""
    return json.dumps([event.action, event.target, event.details, event.outcome])


@pytest.fixture
def policy() -> str:
    """The MFA policy of the vault; a test or module overrides it."""
    return "everyone"


@pytest.fixture
def svc(
    settings: Settings,
    policy: str,
    clock: ManualClock,
    insecure_fast_argon2: argon2.PasswordHasher,
) -> Iterator[Services]:
    mfa_settings = settings.with_overrides(
        mfa_required=policy, mfa_groups="urgences" if policy == "groups" else None
    )
    initialise(mfa_settings)
    services = build_services(mfa_settings, clock=clock, hasher=insecure_fast_argon2)
    yield services
    services.close()


def enrol(svc: Services, who: Principal, clock: ManualClock) -> tuple[str, list[str]]:
    """Set up and confirm an authenticator for `who`; (otpauth URI, recovery codes)."""
    uri = svc.mfa.begin_totp(who).uri
    recovery = svc.mfa.confirm_totp(who, code_at(uri, clock.now()))
    return uri, recovery
