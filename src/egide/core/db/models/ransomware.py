"""Ransomware detection and containment (issue 8, docs/ransomware.md).

- `ransomware_fingerprints`: what the detector keeps of a content (type,
  entropy, similarity digest; never a byte of it), so a new version is
  compared with the previous one without reading its blob;
- `ransomware_events`: every write, rename and delete of an acting
  principal, for the sliding windows (pruned once older than the long
  window, unless an incident holds them);
- `ransomware_incidents`: one per containment; while open, the user's
  writes and downloads are refused (423) by every process;
- `ransomware_canaries`: decoy files; any touch is certain detection.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from egide.core.db.base import Base, UTCDateTime, new_id, utcnow


class RansomwareFingerprint(Base):
    __tablename__ = "ransomware_fingerprints"

    content_id: Mapped[str] = mapped_column(
        ForeignKey("contents.id", ondelete="CASCADE"), primary_key=True
    )
    size: Mapped[int] = mapped_column(Integer)
    #: FileKind value, None when the magic bytes show no type.
    kind: Mapped[str | None] = mapped_column(String(16))
    entropy: Mapped[float] = mapped_column(Float)
    first_block_entropy: Mapped[float] = mapped_column(Float)
    parses: Mapped[bool | None] = mapped_column(Boolean)
    tlsh: Mapped[str | None] = mapped_column(String(80))


class RansomwareIncident(Base):
    __tablename__ = "ransomware_incidents"
    __table_args__ = (Index("ix_ransomware_incidents_user_status", "user_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    #: The user whose sessions and tokens are suspended while the incident is open.
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The acting principal that crossed the threshold: "session:<id>", "token:<id>", "user:<id>".
    principal: Mapped[str] = mapped_column(String(80))
    #: open, released (a false alarm: access back), confirmed (an attack: stays suspended).
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: "score" or "canary".
    reason: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_suspicious_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: When a roll-back (`egide incident restore`) last finished, and by whom
    #: (None: the local administrator). The status is unchanged by it.
    restored_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    restored_by: Mapped[str | None] = mapped_column(String(36))


class RansomwareEvent(Base):
    __tablename__ = "ransomware_events"
    __table_args__ = (
        Index("ix_ransomware_events_principal_at", "principal", "at"),
        Index("ix_ransomware_events_principal_sha", "principal", "content_sha256"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    principal: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[str | None] = mapped_column(String(36))
    #: EventKind value: write, create, rename, delete, note, canary.
    kind: Mapped[str] = mapped_column(String(16))
    weight: Mapped[float] = mapped_column(Float)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    space_id: Mapped[str] = mapped_column(String(36))
    node_id: Mapped[str] = mapped_column(String(36))
    version_id: Mapped[str | None] = mapped_column(String(36))
    parent_id: Mapped[str | None] = mapped_column(String(36))
    #: For new small files only (ransom notes are identical in every folder).
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    #: The signals that fired, comma-separated ("looks-encrypted,type-lost,...").
    signals: Mapped[str] = mapped_column(String(200), default="")
    incident_id: Mapped[str | None] = mapped_column(
        ForeignKey("ransomware_incidents.id", ondelete="CASCADE"), index=True
    )


class RansomwareCanary(Base):
    __tablename__ = "ransomware_canaries"

    node_id: Mapped[str] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
