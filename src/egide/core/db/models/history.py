"""Where each node was, for roll-backs (issue 8, items 3 and 4; ADR 24).

A node's place is its (parent, name). Every change of it — creation, move or
rename, delete to the trash, restore from the trash — adds a row here in the
transaction of the change, holding the place **before** the change (for a
creation: the place given). So the place of a node at an instant T is the
"before" of its first row after T, or its current place when it has none:
that holds for nodes created before this table existed too.

The name is stored as node names are (FORMATS.md section 2): sealed under a
space key (`name_key_id`) with the node id as associated data, never in
clear; a space key rotation re-seals these rows as it re-seals nodes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from egide.core.db.base import Base, UTCDateTime, new_id

#: The node did not exist before (the name is the one it was created with).
CREATE = "create"
#: Moved and/or renamed inside its space.
MOVE = "move"
#: Put in the trash (the place is where it was deleted from).
DELETE = "delete"
#: Taken out of the trash (before: in the trash; the name is its name there).
UNDELETE = "undelete"


class NodeHistory(Base):
    __tablename__ = "node_history"
    __table_args__ = (
        Index("ix_node_history_node_at", "node_id", "at"),
        Index("ix_node_history_space_at", "space_id", "at"),
        Index("ix_node_history_changed_by_at", "changed_by", "at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # No foreign keys: `egide gc` deletes the rows of the nodes it purges.
    node_id: Mapped[str] = mapped_column(String(36))
    space_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: The user who made the change (None: the local administrator).
    changed_by: Mapped[str | None] = mapped_column(String(36))
    #: create, move, delete or undelete.
    change: Mapped[str] = mapped_column(String(16))
    #: The parent before the change (None for create and undelete).
    parent_id: Mapped[str | None] = mapped_column(String(36))
    #: The name before the change (for create: the name given), sealed.
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    name_key_id: Mapped[str] = mapped_column(String(80))
    #: Made by a roll-back (`egide incident restore`, `egide restore`).
    by_restore: Mapped[bool] = mapped_column(Boolean, default=False)
