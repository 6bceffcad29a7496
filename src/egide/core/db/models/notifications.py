"""Notifications (issue 7 item 5, ADR 26): who follows what, what they were told, how.

- `notify_follows`: a user follows a folder, or a whole space (its root folder).
- `notifications`: the in-app list, one row per (user, audit event): ids only,
  never a name (names are computed, and access checked again, when read).
  `mailed_at` is set when the row went into a mail (immediate or digest).
- `notify_preferences`: a user's choice of e-mail delivery and privacy mode;
  no row means the defaults (immediate, privacy on).

Rows are derived from the audit log by a worker that follows the
`notifications` row of `audit_cursors`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from egide.core.db.base import Base, UTCDateTime, new_id, utcnow


class Follow(Base):
    __tablename__ = "notify_follows"
    __table_args__ = (UniqueConstraint("user_id", "node_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    #: The folder followed (the space's root folder: the whole space).
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "event_id"),
        Index("ix_notifications_user_created", "user_id", "created_at"),
        Index("ix_notifications_user_seq", "user_id", "seq"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: file_added, file_updated, deleted, shared, link_opened, request_received.
    kind: Mapped[str] = mapped_column(String(32))
    #: The audit event it was derived from (its id, not a foreign key: archiving
    #: the log must not touch the notifications).
    event_id: Mapped[str] = mapped_column(String(36))
    #: The event's place in the log: the order of the list.
    seq: Mapped[int] = mapped_column(BigInteger)
    space_id: Mapped[str | None] = mapped_column(String(36))
    node_id: Mapped[str | None] = mapped_column(String(36))
    #: The person who acted (None: the system, or someone outside through a link).
    actor_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: When it went into a mail (immediate or digest); None: not (yet) mailed.
    mailed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class NotifyPreference(Base):
    __tablename__ = "notify_preferences"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    #: immediate, hourly, daily or off.
    email: Mapped[str] = mapped_column(String(16), default="immediate")
    #: On: mail carries no file name or path, only a link to the notifications page.
    privacy: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: The end of the last digest period mailed (hourly, daily).
    last_digest_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
