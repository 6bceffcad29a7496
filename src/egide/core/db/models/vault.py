"""Spaces, their keys, the folder tree, versions, contents, trash and role grants.

Names are never stored in clear: `name_enc` is the EGS name ciphertext and
`name_index` its blind index (FORMATS.md section 2), unique per folder, so a
database dump reveals no file name. A few pointers (`Space.root_node_id`,
`Space.current_key_id`, `Node.current_version_id`) carry no foreign key to
avoid cycles between tables; `egide fsck` checks them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from egide.core.db.base import Base, UTCDateTime, new_id, utcnow


class Space(Base):
    __tablename__ = "spaces"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    #: URL-safe identifier (lower-case letters, digits, dashes); must carry no personal data.
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    #: Display title, encrypted like a name (it may name a patient).
    title_enc: Mapped[bytes] = mapped_column(LargeBinary)
    title_key_id: Mapped[str] = mapped_column(String(80))
    current_key_id: Mapped[str] = mapped_column(String(80))
    root_node_id: Mapped[str] = mapped_column(String(36))
    #: Limit on the current versions' total size (None: unlimited).
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger)
    #: Limit on older versions and trash, enforced by pruning, never by refusing uploads.
    history_quota_bytes: Mapped[int | None] = mapped_column(BigInteger)
    #: Total size of current versions of live files, kept in the same transaction as writes.
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(36))


class SpaceKey(Base):
    """A space key wrapped by a master key of a key provider (FORMATS.md section 2)."""

    __tablename__ = "space_keys"
    __table_args__ = (UniqueConstraint("space_id", "generation"),)

    #: "<space id>/<generation>"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id"), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    provider: Mapped[str] = mapped_column(String(32))
    master_key_id: Mapped[str] = mapped_column(String(64))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set when every DEK and name of the space was re-wrapped under a newer key.
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Node(Base):
    """A folder or a file. A space's root folder has no parent and no name."""

    __tablename__ = "nodes"
    __table_args__ = (
        UniqueConstraint("parent_id", "name_index"),
        Index("ix_nodes_space_kind", "space_id", "kind"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id"))
    #: None for a space root and for the top node of a trashed subtree.
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("nodes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "folder" | "file"
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    name_index: Mapped[str] = mapped_column(String(64))
    #: The space key whose derived keys sealed `name_enc` and computed `name_index`.
    name_key_id: Mapped[str] = mapped_column(String(80))
    current_version_id: Mapped[str | None] = mapped_column(String(36))
    #: Set on the top node of a subtree that sits in the trash.
    trash_id: Mapped[str | None] = mapped_column(ForeignKey("trash_items.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(36))


class Content(Base):
    """One stored, encrypted content: a blob and its wrapped data key.

    Several versions may point at one content (restoring an old version copies
    no byte); a content is referenced while any version row names it, and is
    deleted with its wrapped key (crypto-shredding) when none does.
    """

    __tablename__ = "contents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id"), index=True)
    blob_key: Mapped[str] = mapped_column(String(80), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    blob_size: Mapped[int] = mapped_column(BigInteger)
    segment_size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    wrapped_dek: Mapped[bytes] = mapped_column(LargeBinary)
    #: The space key that wraps the DEK.
    dek_key_id: Mapped[str] = mapped_column(String(80), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Antivirus (docs/antivirus.md): clean, infected, pending (awaiting a scan),
    #: too_large (never scanned whole), unscanned (written while scanning was off).
    scan_status: Mapped[str] = mapped_column(
        String(16), default="unscanned", server_default=text("'unscanned'"), index=True
    )
    #: The signature name when infected.
    scan_signature: Mapped[str | None] = mapped_column(String(200))
    scanned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: clamd's signature database version at the last scan (rescans follow updates).
    scan_db_version: Mapped[str | None] = mapped_column(String(80))


class Version(Base):
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("node_id", "number"),)

    #: Globally unique, never reused; a file's ETag is its current version id.
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id"))
    #: 1, 2, 3... per file, in the order versions were made (shown to users).
    number: Mapped[int] = mapped_column(Integer)
    content_id: Mapped[str] = mapped_column(ForeignKey("contents.id"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(36))
    #: When a newer version replaced this one; the protection window runs from here.
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Protection window (days) in force when this version was written; a later
    #: configuration change never shortens it.
    retain_days: Mapped[int] = mapped_column(Integer)
    restored_from: Mapped[str | None] = mapped_column(String(36))


class TrashItem(Base):
    """A deleted file or folder (with everything in it), restorable until purged."""

    __tablename__ = "trash_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id"), index=True)
    node_id: Mapped[str] = mapped_column(String(36))
    original_parent_id: Mapped[str] = mapped_column(String(36))
    deleted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_by: Mapped[str | None] = mapped_column(String(36))
    #: No purge before this instant, whatever the door or the account.
    protected_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)


class Grant(Base):
    """A role given to a user or a group on a folder (the space root: membership)."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("node_id", "principal_kind", "principal_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id"), index=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id"))
    principal_kind: Mapped[str] = mapped_column(String(8))  # "user" | "group"
    principal_id: Mapped[str] = mapped_column(String(36), index=True)
    role: Mapped[str] = mapped_column(String(16))  # "reader" | "contributor" | "manager"
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(36))
