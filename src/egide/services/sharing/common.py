"""What both sides of a link share: tokens, their hashes, a link's state and its view."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from egide.core.db.models import Node, Space, User
from egide.core.db.models.sharing import ShareLink, ShareLinkRecipient, SpaceLinkPolicy
from egide.services.sharing.types import LinkInfo, LinkPolicy
from egide.services.vault.tree import Tree

#: 32 random bytes: 256 bits, far beyond the 128 the issue asks for.
TOKEN_BYTES: Final = 32
#: A default link expires after this many days (issue 7, item 2).
DEFAULT_DAYS: Final = 7
#: The kind of a file request (an upload-only link to a folder, ADR 25); others are the
#: kind of their item, "file" or "folder".
REQUEST: Final = "request"
#: Where a recipient opens a link: the page of the web interface (`{token}` filled in).
RECIPIENT_PAGE: Final = "/links/{token}"


def new_token() -> str:
    """A fresh, URL-safe secret (links and link sessions)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a token: what the database keeps. A token carries 256 random bits,
    so a fast hash is enough (no dictionary to try)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def link_state(link: ShareLink, now: dt.datetime) -> str:
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at <= now:
        return "expired"
    if link.max_downloads is not None and link.downloads >= link.max_downloads:
        return "exhausted"
    if link.max_files is not None and link.received_files >= link.max_files:
        return "exhausted"
    if link.max_total_bytes is not None and link.received_bytes >= link.max_total_bytes:
        return "exhausted"
    return "active"


def display_name(session: Session, user_id: str | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    if user is None:
        return None
    return user.display_name or user.username


def username(session: Session, user_id: str | None) -> str | None:
    user = None if user_id is None else session.get(User, user_id)
    return None if user is None else user.username


def recipients_of(session: Session, link_id: str) -> list[ShareLinkRecipient]:
    return list(
        session.scalars(
            select(ShareLinkRecipient)
            .where(ShareLinkRecipient.link_id == link_id)
            .order_by(ShareLinkRecipient.email)
        )
    )


def link_info(session: Session, tree: Tree, link: ShareLink, now: dt.datetime) -> LinkInfo:
    space = session.get(Space, link.space_id)
    node = session.get(Node, link.node_id)
    path = None
    if space is not None and node is not None:
        segments = tree.path_of(session, space, node)
        path = None if segments is None else "/" + "/".join(segments)
    return LinkInfo(
        id=link.id,
        space=space.slug if space is not None else "",
        path=path,
        kind=link.kind,
        created_by=username(session, link.created_by),
        created_at=link.created_at,
        expires_at=link.expires_at,
        has_password=link.password_hash is not None,
        require_verification=link.require_verification,
        max_downloads=link.max_downloads,
        downloads=link.downloads,
        opens=link.opens,
        last_used_at=link.last_used_at,
        revoked_at=link.revoked_at,
        recipients=tuple(r.email for r in recipients_of(session, link.id)),
        state=link_state(link, now),
        max_file_bytes=link.max_file_bytes,
        max_total_bytes=link.max_total_bytes,
        max_files=link.max_files,
        received_files=link.received_files or 0,
        received_bytes=link.received_bytes or 0,
    )


def policy_of(session: Session, space: Space, setting_max_days: int) -> LinkPolicy:
    """The space's link policy, the setting capping its maximum expiry."""
    row = session.get(SpaceLinkPolicy, space.id)
    if row is None:
        return LinkPolicy(
            space=space.slug,
            links_allowed=True,
            max_days=setting_max_days,
            verification_required=True,
        )
    max_days = setting_max_days if row.max_days is None else min(row.max_days, setting_max_days)
    return LinkPolicy(
        space=space.slug,
        links_allowed=row.links_allowed,
        max_days=max_days,
        verification_required=row.verification_required,
    )
