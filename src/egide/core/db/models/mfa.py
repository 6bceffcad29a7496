"""Second factors and log-in throttling (issue 5).

- `mfa_totp`: one TOTP authenticator per user (RFC 6238). The shared secret
  must be read back to check codes, so it is sealed (AES-256-GCM under a key
  the key provider derives from the master key named in `key_id`), never
  stored in clear. `last_step` is the time step of the last code accepted:
  a code of that step or an earlier one is a replay.
- `mfa_recovery_codes`: ten single-use codes per user, stored as hashes only.
- `login_throttles`: failed log-ins per account and per client address, for
  the exponential back-off; a row is a counter, never a permanent lock.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from egide.core.db.base import Base, UTCDateTime, new_id, utcnow


class TotpFactor(Base):
    __tablename__ = "mfa_totp"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    #: The base32 secret, sealed (nonce | AES-256-GCM), bound to the user id.
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    #: The master key whose derived key sealed the secret.
    key_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set by the first valid code: until then the factor does not count.
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The RFC 6238 time step of the last accepted code (replay protection).
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(Base):
    __tablename__ = "mfa_recovery_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: SHA-256 (hex) of the code (high-entropy codes: no need for a slow hash).
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    __tablename__ = "login_throttles"

    #: "user:<user id>" or "ip:<client address>".
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: No attempt is judged before this instant (429 with Retry-After).
    blocked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
