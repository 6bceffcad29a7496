"""External share links (issue 7, item 2) and the per-space policy for them (item 4).

Internal shares need no table of their own: a role on a single file is a row
of `grants` like a role on a folder. A link's token is never stored: only its
SHA-256 (`token_hash`), so a database dump opens no link. Passwords and
one-time codes are argon2id hashes. Recipients' addresses are stored in clear
(they are where the codes go, like `users.email`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from egide.core.db.base import Base, UTCDateTime, new_id, utcnow


class ShareLink(Base):
    """A link to a file or a folder, for people without an account."""

    __tablename__ = "share_links"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    #: SHA-256 (hex) of the token; the token itself is shown once, at creation.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id"), index=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id"), index=True)
    #: "file" or "folder", as the node was when the link was made.
    kind: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[str | None] = mapped_column(String(36), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: argon2id of the link's password; None: no password.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    #: A recipient must prove their address with a one-time code before anything is shown.
    require_verification: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Downloads allowed (a file, or a folder's zip, counts one); None: no limit.
    max_downloads: Mapped[int | None] = mapped_column(Integer)
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    #: How often the link was opened (its content listed to a recipient).
    opens: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(36))
    # File requests (kind "request": an upload-only link to a folder, ADR 25).
    #: Largest file a recipient may send, in bytes (required for a request).
    max_file_bytes: Mapped[int | None] = mapped_column(BigInteger)
    #: Bytes all recipients together may send (required for a request).
    max_total_bytes: Mapped[int | None] = mapped_column(BigInteger)
    #: Files the request accepts; None: no limit but the sizes.
    max_files: Mapped[int | None] = mapped_column(Integer)
    #: Bytes and files received or being received (reserved before a body is read).
    received_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    received_files: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class ShareLinkRecipient(Base):
    """An address a link is bound to, and its current one-time code."""

    __tablename__ = "share_link_recipients"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    link_id: Mapped[str] = mapped_column(
        ForeignKey("share_links.id", ondelete="CASCADE"), index=True
    )
    #: One bare address, checked by `mail.message.check_address` (lower-case domain).
    email: Mapped[str] = mapped_column(String(320))
    #: argon2id of the current 6-digit code; None once used or never sent.
    code_hash: Mapped[str | None] = mapped_column(String(200))
    code_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    code_attempts: Mapped[int] = mapped_column(Integer, default=0)
    code_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ShareLinkSession(Base):
    """What a recipient's browser proved for one link (password, address), for a short while.

    The cookie holds a random value; this row holds its SHA-256 only.
    """

    __tablename__ = "share_link_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    link_id: Mapped[str] = mapped_column(
        ForeignKey("share_links.id", ondelete="CASCADE"), index=True
    )
    password_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The recipient whose address was verified; None: not verified.
    recipient_id: Mapped[str | None] = mapped_column(
        ForeignKey("share_link_recipients.id", ondelete="CASCADE")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SpaceLinkPolicy(Base):
    """What an administrator allows for external links in one space (no row: the defaults)."""

    __tablename__ = "space_link_policies"

    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id"), primary_key=True)
    links_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Longest expiry in days; None: the `links_max_days` setting. Never above it.
    max_days: Mapped[int | None] = mapped_column(Integer)
    #: Links must bind recipients' addresses; False lets a creator make links without.
    verification_required: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(36))
