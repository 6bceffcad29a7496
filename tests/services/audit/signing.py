"""An audit service that signs checkpoints, for the checkpoint and verification tests."""

from __future__ import annotations

from pathlib import Path

from egide.core.clock import ManualClock
from egide.core.crypto.provider import FileKeyProvider
from egide.core.db import Database
from egide.services.audit import AuditService
from egide.services.audit.checkpoints import CheckpointPolicy

ORIGIN = "audit.chu-exemple.fr/egide"


def new_provider(directory: Path) -> FileKeyProvider:
    keys, _ = FileKeyProvider.create(directory / "keys" / "egide.keys", directory / "escrow.json")
    return keys


def make_audit(
    db: Database,
    clock: ManualClock,
    provider: FileKeyProvider,
    *,
    entries: int = 10,
    seconds: int = 60,
    directory: Path | None = None,
    origin: str = ORIGIN,
) -> AuditService:
    policy = CheckpointPolicy(origin, entries=entries, seconds=seconds, directory=directory)
    return AuditService(db, clock, signer=provider, policy=policy)
