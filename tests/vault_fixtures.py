"""Shared fixtures: a real vault (key files, blobs, database) per test, with a movable clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import argon2
import pytest

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.core.crypto.provider import FileKeyProvider
from egide.services.access.policy import GlobalRole, Principal
from egide.services.audit.context import ContextSealer
from egide.services.audit.recorder import AuditRecorder
from egide.services.registry import Services, build_services, initialise

SYSTEM = Principal.system()
PASSWORD = "correct horse battery staple 42"

MakeUser = Callable[..., Principal]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def audit_recorder(tmp_path: Path, clock: ManualClock) -> AuditRecorder:
    """An audit recorder with a real context key, for services built outside the registry."""
    keys, _ = FileKeyProvider.create(tmp_path / "audit-keys" / "egide.keys", tmp_path / "escrow")
    return AuditRecorder(clock, ContextSealer(keys))


@pytest.fixture
def vault_settings(settings: Settings) -> Settings:
    # Small segments so small test files still span several EGS1 segments.
    return settings.with_overrides(segment_size=4096)


@pytest.fixture
def svc(
    vault_settings: Settings, clock: ManualClock, insecure_fast_argon2: argon2.PasswordHasher
) -> Iterator[Services]:
    initialise(vault_settings)
    services = build_services(vault_settings, clock=clock, hasher=insecure_fast_argon2)
    yield services
    services.close()


@pytest.fixture
def make_user(svc: Services) -> MakeUser:
    def make(name: str, *roles: GlobalRole) -> Principal:
        user = svc.accounts.create_user(SYSTEM, name, password=PASSWORD, roles=list(roles))
        return svc.accounts.principal_for(user.id)

    return make


@pytest.fixture
def alice(svc: Services, make_user: MakeUser) -> Principal:
    """A contributor of the space `cardio`."""
    svc.spaces.create(SYSTEM, "cardio", title="Cardiologie")
    principal = make_user("alice")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:alice", "contributor")
    return principal
