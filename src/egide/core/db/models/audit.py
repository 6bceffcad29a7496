"""The audit log's tables (FORMATS.md section 3): the outbox, the contexts, the tree.

- `audit_events`: the outbox. An action's transaction adds its event here, so
  the event exists if and only if the action committed; `seq` stays NULL
  until the sequencer gives it the next place in the log.
- `audit_contexts`: the personal context of an event (path and names at the
  time, client address, user agent, purpose), sealed; erasing a row leaves the
  log verifiable, since the leaf holds only its salted hash.
- `audit_leaves`: the exact leaf bytes of each sequenced event, never
  re-serialised (an auditor hashes these bytes).
- `audit_nodes`: the complete-subtree hashes of the Merkle tree (level 0 =
  leaf hashes), written once when their last leaf arrives.
- `audit_checkpoints`: the signed checkpoints (FORMATS.md section 4), one per
  tree size, each checked consistent with the previous one before it was signed.
- `audit_cursors`: how far each exporter (syslog forwarding) has sent the log,
  so no entry is skipped or sent twice across restarts.
- `audit_archives`: the ranges of old leaves moved into signed archive bundles
  by the retention step; their leaf hashes stay in `audit_nodes`.

This module holds columns only: the leaf format and the tree live in
`egide.core.audit`, the sealing in `egide.services.audit`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from egide.core.db.base import Base, UTCDateTime, new_id, utcnow


class AuditEvent(Base):
    """One security-relevant event, written in the transaction of the action it records."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # The sequencer's scan: pending events (seq IS NULL) in (created_at, id)
        # order. Partial on both backends, so it stays as small as the backlog.
        Index(
            "ix_audit_events_pending",
            "created_at",
            "id",
            sqlite_where=text("seq IS NULL"),
            postgresql_where=text("seq IS NULL"),
        ),
        # Access reports: by time, by the file or folder, by the person.
        Index("ix_audit_events_created_at", "created_at"),
        Index("ix_audit_events_node_created", "node_id", "created_at"),
        Index("ix_audit_events_space_created", "space_id", "created_at"),
        Index("ix_audit_events_user_created", "user_id", "created_at"),
    )

    #: The event id (UUID4), also in the leaf as `event_id`.
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: "user", "token", "link" or "system".
    actor_kind: Mapped[str] = mapped_column(String(16))
    #: The id of the user, token or link; NULL for the system principal.
    actor_id: Mapped[str | None] = mapped_column(String(36))
    #: Dotted action name (`file.write`): the values of the policy's `Action`.
    action: Mapped[str] = mapped_column(String(64))
    #: Canonical JSON of the target's ids ({"space": ..., "node": ..., "version": ...}).
    target: Mapped[str] = mapped_column(Text)
    #: "allowed", "denied" or "error".
    outcome: Mapped[str] = mapped_column(String(16))
    #: Canonical JSON of details that hold no personal data.
    details: Mapped[str] = mapped_column(Text)
    #: SHA-256 hex of salt | canonical JSON of the context; "" when there is none.
    context_hash: Mapped[str] = mapped_column(String(64))
    #: The place in the log, set by the sequencer; unique, gap-free from 0.
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # Copies of ids for the access reports' indexes, outside the leaf: the
    # target's space and node, and the person behind the actor (a token's owner).
    space_id: Mapped[str | None] = mapped_column(String(36))
    node_id: Mapped[str | None] = mapped_column(String(36))
    user_id: Mapped[str | None] = mapped_column(String(36))


class AuditContext(Base):
    """The sealed personal context of one event, erasable without breaking the log."""

    __tablename__ = "audit_contexts"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("audit_events.id", ondelete="CASCADE"), primary_key=True
    )
    #: 16 random bytes hashed before the context (`context_hash`).
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    #: The context's canonical JSON, sealed (nonce | AES-256-GCM, bound to the event id).
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    #: The master key whose derived audit-context key sealed `sealed`.
    key_id: Mapped[str] = mapped_column(String(16), server_default="")
    #: Lets one flush insert the event before its context (foreign-key order).
    event: Mapped[AuditEvent] = relationship()


class AuditLeaf(Base):
    """The exact bytes of one leaf of the log, at its `seq`."""

    __tablename__ = "audit_leaves"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf: Mapped[bytes] = mapped_column(LargeBinary)


class AuditNode(Base):
    """A complete subtree: the hash of leaves [idx·2^level, (idx+1)·2^level)."""

    __tablename__ = "audit_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class AuditCheckpoint(Base):
    """A signed checkpoint of the log at one tree size (a C2SP signed note)."""

    __tablename__ = "audit_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: The tree head at `size`, as signed.
    root: Mapped[bytes] = mapped_column(LargeBinary)
    #: The whole signed note, exactly as signed and as written to the checkpoint directory.
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditCursor(Base):
    """How far one exporter has sent the log: the next `seq` it will send."""

    __tablename__ = "audit_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditArchive(Base):
    """Leaves [first_seq, end_seq) moved into a signed archive bundle by retention."""

    __tablename__ = "audit_archives"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    first_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    end_seq: Mapped[int] = mapped_column(BigInteger)
    #: The size of the signed checkpoint the bundle carries.
    checkpoint_size: Mapped[int] = mapped_column(BigInteger)
    #: Where the bundle was written (a directory), as given to the archive step.
    location: Mapped[str] = mapped_column(Text)
    #: SHA-256 hex of the bundle's leaves file, to check a copy against.
    leaves_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
