"""Server-side web sessions: revocable, lockable, with an absolute lifetime."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from egide.core.db.base import Base, UTCDateTime, new_id, utcnow


class WebSession(Base):
    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: SHA-256 (hex) of the cookie's secret part; the secret itself is never stored.
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: SHA-256 (hex) of the CSRF token sent back in X-CSRF-Token on unsafe methods.
    csrf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Absolute end of the session, whatever the activity.
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Set when the idle timeout passed: the session needs the password again.
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Why it ended: "logout", "revoked", "expired", "password-changed", "disabled".
    end_reason: Mapped[str | None] = mapped_column(String(32))
    #: Shown to the user in "my sessions" so they can spot a session that is not theirs.
    client_address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    #: When a second factor was verified in this session; None: password only,
    #: and the session may do nothing but complete (or enrol) a second factor.
    mfa_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Which one: "totp", "recovery-code", "passkey" or "oidc".
    mfa_method: Mapped[str | None] = mapped_column(String(32))
    #: The authentication context class an OpenID provider asserted for this
    #: log-in (`acr` claim, e.g. "eidas1" for a CPS card or e-CPS); None otherwise.
    acr: Mapped[str | None] = mapped_column(String(100))
