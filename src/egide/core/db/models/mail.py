"""The mail outbox (issue 7, item 6): mail is written in the same transaction
as the event that causes it, and a worker sends it over SMTP.

A row is sent at most once: `idempotency_key` is unique (the event that
caused the mail names it) and doubles as the Message-ID, and a worker claims
a row (`claimed_until`) before sending it; a crash between the SMTP answer and
the `sent_at` write can resend only a message the server received with the
same Message-ID.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from egide.core.db.base import Base, UTCDateTime, new_id, utcnow


class OutboxMail(Base):
    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "sent_at", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    #: The user it is for, when it is for a user (None: an external recipient).
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(320))
    #: What kind of message ("login-new-device", "share", ...), for the admin page.
    kind: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    #: The language the message is written in ("fr", "en"): its Content-Language.
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: The last SMTP or connection error (no message content).
    last_error: Mapped[str] = mapped_column(String(500), default="")
    #: A worker holds the row until then; another may take it afterwards.
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Given up (the server refused it for good); kept for the admin to see.
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
