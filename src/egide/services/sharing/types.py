"""What the sharing services return: plain frozen values, never ORM rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SharedItem:
    """A folder or file shared with me (or one of my groups) outside my own spaces."""

    space: str
    path: str
    name: str
    kind: str
    role: str
    shared_by: str | None
    shared_at: dt.datetime
    #: The group the role was given to; None: given to me.
    via_group: str | None


@dataclass(frozen=True)
class LinkInfo:
    """A link as its creator, the space's managers and administrators see it."""

    id: str
    space: str
    path: str | None  # None while its target sits in the trash
    kind: str
    created_by: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    has_password: bool
    require_verification: bool
    max_downloads: int | None
    downloads: int
    opens: int
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    recipients: tuple[str, ...]
    #: "active", "expired", "exhausted" or "revoked".
    state: str
    # File requests (kind "request", ADR 25); None and 0 for other links.
    max_file_bytes: int | None = None
    max_total_bytes: int | None = None
    max_files: int | None = None
    received_files: int = 0
    received_bytes: int = 0


@dataclass(frozen=True)
class LinkCreated:
    """A new link: its token is shown here once and stored nowhere."""

    link: LinkInfo
    token: str = field(repr=False)


@dataclass(frozen=True)
class LinkPolicy:
    space: str
    links_allowed: bool
    #: The longest expiry a new link may have here (the space's limit or the setting).
    max_days: int
    verification_required: bool


@dataclass(frozen=True)
class LinkFile:
    """A file a recipient may download: its path inside the shared item."""

    path: str
    name: str
    size: int


@dataclass(frozen=True)
class LinkView:
    """What a recipient sees. Before the password or the code, only `needs`."""

    #: What is still to be given: "password", "verification"; empty once open.
    needs: tuple[str, ...]
    kind: str | None = None
    name: str | None = None
    sender: str | None = None
    expires_at: dt.datetime | None = None
    downloads_left: int | None = None
    files: tuple[LinkFile, ...] = ()
    #: The address the recipient proved, when the link asks for one.
    verified_email: str | None = None
    # A file request (kind "request"): what may still be sent; no name, no file listed.
    max_file_bytes: int | None = None
    bytes_left: int | None = None
    files_left: int | None = None


@dataclass(frozen=True)
class ReceivedFile:
    """A file a recipient sent through a file request: the name they gave, never the
    name it was stored under (which could tell that another file had theirs)."""

    name: str
    size: int


@dataclass(frozen=True)
class LinkPass:
    """The outcome of a password or code step: the link session cookie to set."""

    cookie: str = field(repr=False)
    expires_at: dt.datetime
    view: LinkView
