"""The folder tree of a space: resolving paths, sealing names, walking up and down.

Every function runs inside the caller's session (and so its transaction).
Names are looked up through their blind index under each active space key
(more than one only while a space key rotation is in progress).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, literal, select
from sqlalchemy.orm import Session, aliased

from egide.core.db.base import new_id
from egide.core.db.models import Node, Space
from egide.core.db.models.history import CREATE
from egide.services.vault.history import record_place
from egide.services.vault.keyring import SpaceKeyRing

FOLDER = "folder"
FILE = "file"


@dataclass(frozen=True)
class SealedName:
    name_enc: bytes
    name_index: str
    key_id: str


class Tree:
    def __init__(self, keyring: SpaceKeyRing) -> None:
        self.keyring = keyring

    # Spaces -----------------------------------------------------------------

    @staticmethod
    def space_by_slug(session: Session, slug: str) -> Space | None:
        return session.scalars(select(Space).where(Space.slug == slug)).one_or_none()

    def space_title(self, session: Session, space: Space) -> str:
        return self.keyring.names(session, space.title_key_id).open(space.id, space.title_enc)

    # Names ------------------------------------------------------------------

    def seal(
        self, session: Session, space: Space, node_id: str, parent_id: str, name: str
    ) -> SealedName:
        cipher = self.keyring.names(session, space.current_key_id)
        return SealedName(
            name_enc=cipher.seal(node_id, name),
            name_index=cipher.index(parent_id, name),
            key_id=space.current_key_id,
        )

    def add_node(
        self,
        session: Session,
        space: Space,
        parent: Node,
        name: str,
        *,
        kind: str,
        created_by: str | None,
        now: dt.datetime,
        current_version_id: str | None = None,
    ) -> Node:
        """Insert a file or folder named `name` under `parent` (name sealed, index computed)."""
        node_id = new_id()
        sealed = self.seal(session, space, node_id, parent.id, name)
        node = Node(
            id=node_id,
            space_id=space.id,
            parent_id=parent.id,
            kind=kind,
            name_enc=sealed.name_enc,
            name_index=sealed.name_index,
            name_key_id=sealed.key_id,
            current_version_id=current_version_id,
            created_at=now,
            updated_at=now,
            created_by=created_by,
        )
        session.add(node)
        # Where it came from, for roll-backs (ADR 24); same transaction.
        record_place(session, node, CREATE, by=created_by, at=now)
        session.flush()
        return node

    def name_of(self, session: Session, node: Node) -> str:
        return self.open_name(session, node.name_key_id, node.id, node.name_enc)

    def open_name(self, session: Session, key_id: str, node_id: str, name_enc: bytes) -> str:
        """A node's name from its stored columns (for listings that load no ORM object)."""
        return self.keyring.names(session, key_id).open(node_id, name_enc)

    def indexes(self, session: Session, space: Space, parent_id: str, name: str) -> list[str]:
        return [
            self.keyring.names(session, key_id).index(parent_id, name)
            for key_id in self.keyring.active_key_ids(session, space.id)
        ]

    # Lookups ----------------------------------------------------------------

    def child(
        self, session: Session, space: Space, parent_id: str, name: str, *, for_update: bool = False
    ) -> Node | None:
        query = select(Node).where(
            Node.parent_id == parent_id,
            Node.name_index.in_(self.indexes(session, space, parent_id, name)),
        )
        if for_update:
            # Refresh attributes already loaded in this session: the locked row is
            # the truth, a copy read before the lock may be stale.
            query = query.with_for_update().execution_options(populate_existing=True)
        return session.scalars(query).first()

    def resolve_deepest(
        self, session: Session, space: Space, segments: list[str]
    ) -> tuple[Node, list[str]]:
        """The deepest existing node along `segments`, and the segments left after it."""
        node = session.get(Node, space.root_node_id)
        if node is None:  # pragma: no cover - a space always has its root
            raise LookupError("space without root")
        for depth, name in enumerate(segments):
            if node.kind != FOLDER:
                return node, segments[depth:]
            found = self.child(session, space, node.id, name)
            if found is None:
                return node, segments[depth:]
            node = found
        return node, []

    @staticmethod
    def children(session: Session, parent_id: str) -> list[Node]:
        return list(session.scalars(select(Node).where(Node.parent_id == parent_id)))

    # Walking ----------------------------------------------------------------

    @staticmethod
    def ancestor_ids(session: Session, node_id: str) -> list[str]:
        """The node and its ancestors, from the node up to the top (root or trash top)."""
        up = select(Node.id, Node.parent_id, literal(0).label("depth")).where(Node.id == node_id)
        up_cte = up.cte("up", recursive=True)
        parent = aliased(Node)
        up_cte = up_cte.union_all(
            select(parent.id, parent.parent_id, (up_cte.c.depth + 1).label("depth")).where(
                parent.id == up_cte.c.parent_id
            )
        )
        return list(session.scalars(select(up_cte.c.id).order_by(up_cte.c.depth)))

    @staticmethod
    def subtree(node_id: str) -> Select[tuple[str]]:
        """A query of the node's id and of every id below it (for `IN (...)` clauses)."""
        down = select(Node.id, literal(0).label("depth")).where(Node.id == node_id)
        down_cte = down.cte("down", recursive=True)
        child = aliased(Node)
        down_cte = down_cte.union_all(
            select(child.id, (down_cte.c.depth + 1).label("depth")).where(
                child.parent_id == down_cte.c.id
            )
        )
        return select(down_cte.c.id)

    def subtree_ids(self, session: Session, node_id: str) -> list[str]:
        """The node and every node below it."""
        return list(session.scalars(self.subtree(node_id)))

    def path_of(self, session: Session, space: Space, node: Node) -> list[str] | None:
        """Names from the root down to `node`; None when the node sits in the trash."""
        ids = self.ancestor_ids(session, node.id)
        if ids[-1] != space.root_node_id:
            return None
        nodes = {n.id: n for n in session.scalars(select(Node).where(Node.id.in_(ids)))}
        return [self.name_of(session, nodes[i]) for i in reversed(ids[:-1])]

    def is_live(self, session: Session, space: Space, node_id: str) -> bool:
        return self.ancestor_ids(session, node_id)[-1] == space.root_node_id
