"""Passkeys (WebAuthn) as a second factor or a passwordless first factor (issue 5).

- `mfa_passkeys`: one row per registered authenticator credential. The
  public key is public: stored as given (COSE). `sign_count` is the last
  signature counter seen (a counter that goes backwards betrays a cloned
  authenticator).
- `mfa_passkey_challenges`: the random challenge of one registration or one
  assertion ceremony, single-use and short-lived; deleted when answered.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from egide.core.db.base import Base, UTCDateTime, new_id, utcnow


class PasskeyCredential(Base):
    __tablename__ = "mfa_passkeys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: The credential id chosen by the authenticator (raw bytes, at most 1,023).
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    #: The credential's public key, COSE-encoded.
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Transports the browser reported ("usb,nfc,internal,hybrid"), as hints.
    transports: Mapped[str] = mapped_column(String(200), default="")
    #: The authenticator model (AAGUID), "" when not attested.
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    #: The user's own name for it ("YubiKey bureau", "Téléphone").
    name: Mapped[str] = mapped_column(String(100))
    #: Synced passkey (backup state flag of the authenticator data).
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PasskeyChallenge(Base):
    __tablename__ = "mfa_passkey_challenges"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    #: "register", "second-factor" or "login" (passwordless).
    purpose: Mapped[str] = mapped_column(String(16))
    #: The user concerned; None for a passwordless log-in (not known yet).
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    #: The web session that asked, when there is one.
    session_id: Mapped[str | None] = mapped_column(String(36))
    challenge: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
