"""OpenID Connect single sign-on (issue 5, item 4).

- `sso_identities`: which Égide user an external identity (issuer, subject)
  is; matched or created at the first log-in by the configured claim.
- `sso_login_states`: one authorization request in flight: the SHA-256 of
  its `state`, its `nonce` and PKCE `code_verifier`, where to go back to;
  single-use, deleted by the callback, and short-lived.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from egide.core.db.base import Base, UTCDateTime, new_id, utcnow


class ExternalIdentity(Base):
    __tablename__ = "sso_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SsoLoginState(Base):
    __tablename__ = "sso_login_states"

    #: SHA-256 (hex) of the `state` parameter; the value itself travels only
    #: in the browser's redirect.
    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    #: A path of this server to return to after the log-in ("/" by default).
    return_to: Mapped[str] = mapped_column(String(500), default="/")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
