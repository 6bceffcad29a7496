"""What the vault services return: plain frozen values, never ORM rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class SpaceInfo:
    id: str
    slug: str
    title: str
    quota_bytes: int | None
    history_quota_bytes: int | None
    used_bytes: int
    created_at: dt.datetime
    #: The caller's role on the whole space (None for an administrator without one).
    role: str | None


@dataclass(frozen=True)
class NodeInfo:
    id: str
    name: str
    kind: str
    path: str
    size: int
    created_at: dt.datetime
    modified_at: dt.datetime
    #: Current version id (the ETag) for files; None for folders.
    version_id: str | None
    sha256: str | None


@dataclass(frozen=True)
class VersionInfo:
    id: str
    node_id: str
    number: int
    size: int
    sha256: str
    created_at: dt.datetime
    created_by: str | None
    is_current: bool
    restored_from: str | None
    #: Antivirus state of its content (docs/antivirus.md): clean, pending,
    #: too_large, infected or unscanned.
    scan: str = "unscanned"


@dataclass(frozen=True)
class TrashInfo:
    id: str
    name: str
    kind: str
    #: Path of the folder it was deleted from, if that folder still exists.
    original_path: str | None
    size: int
    deleted_at: dt.datetime
    deleted_by: str | None
    protected_until: dt.datetime


@dataclass(frozen=True)
class GrantView:
    principal: str
    role: str
    path: str
    created_at: dt.datetime
