"""OAuth 2.0 device authorization grant (RFC 8628) for `egide login` (issue 5).

The CLI asks for a device code and shows the user code and a URL; the user
approves in the browser from a session that gave its second factor; the CLI,
polling, then receives an API token, once. Both codes are stored as SHA-256
only.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from egide.core.db.base import Base, UTCDateTime, new_id, utcnow


class DeviceAuthorization(Base):
    __tablename__ = "device_authorizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    device_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: SHA-256 of the normalised user code (upper case, no dash).
    user_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: What the CLI said it is ("egide CLI on host X"), shown on the approval page.
    client_name: Mapped[str] = mapped_column(String(100), default="")
    #: The scopes asked for (space-separated), granted as asked or refused.
    scopes: Mapped[str] = mapped_column(Text, default="")
    #: "pending", "approved", "denied" or "issued" (the token was handed over).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    #: The MFA-verified web session that approved it.
    approved_session_id: Mapped[str | None] = mapped_column(String(36))
    #: How that session gave its second factor (None: the user was bound to none);
    #: judged again, by the rule of POST /tokens, when the token is issued.
    mfa_method: Mapped[str | None] = mapped_column(String(32))
    #: The lifetime, in days, of the token the device asked for.
    token_days: Mapped[int] = mapped_column(Integer, default=90)
    #: The token issued to the device, once approved and polled.
    token_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_polled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Seconds the device must wait between polls (raised by `slow_down`).
    interval: Mapped[int] = mapped_column(Integer, default=5)
