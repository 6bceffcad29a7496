"""Resumable uploads (tus 1.0.0) in progress: the upload and its encrypted parts.

The target path is personal data, so it is sealed like a name (`target_enc`,
bound to the upload id). Each part is an EGS1 blob with its own data key
wrapped under the space key, exactly like a content: nothing received is
ever kept in clear.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from egide.core.db.base import Base, UTCDateTime, utcnow


class Upload(Base):
    __tablename__ = "uploads"

    #: The tus upload id (UUID4): unguessable, part of the upload URL.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id"), index=True)
    #: The target path, sealed by the space's name cipher with the upload id as node id.
    target_enc: Mapped[bytes] = mapped_column(LargeBinary)
    target_key_id: Mapped[str] = mapped_column(String(80))
    #: Upload-Length: the size of the whole file.
    length: Mapped[int] = mapped_column(BigInteger)
    #: Upload-Offset: bytes received and kept so far.
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The version the completed upload became.
    version_id: Mapped[str | None] = mapped_column(String(36))


class UploadPart(Base):
    """One PATCH body (or creation-with-upload body), sealed into its own blob."""

    __tablename__ = "upload_parts"

    upload_id: Mapped[str] = mapped_column(
        ForeignKey("uploads.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Where this part's bytes start in the file.
    offset: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    blob_key: Mapped[str] = mapped_column(String(80), unique=True)
    blob_size: Mapped[int] = mapped_column(BigInteger)
    wrapped_dek: Mapped[bytes] = mapped_column(LargeBinary)
    dek_key_id: Mapped[str] = mapped_column(String(80))
