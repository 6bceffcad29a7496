"""Writes of `node_history` (the place of each node before each change; ADR 24).

Called inside the transaction of the change, *before* the node is modified,
so the row holds the place the change leaves.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from egide.core.db.base import new_id
from egide.core.db.models import Node, NodeHistory


def record_place(
    session: Session,
    node: Node,
    change: str,
    *,
    by: str | None,
    at: dt.datetime,
    by_restore: bool = False,
) -> None:
    """Add the row of `change` to `node`, holding its current (parent, sealed name)."""
    session.add(
        NodeHistory(
            id=new_id(),
            node_id=node.id,
            space_id=node.space_id,
            at=at,
            changed_by=by,
            change=change,
            parent_id=None if node.trash_id is not None else node.parent_id,
            name_enc=node.name_enc,
            name_key_id=node.name_key_id,
            by_restore=by_restore,
        )
    )
