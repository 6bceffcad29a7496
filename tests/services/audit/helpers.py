"""Reading the audit tables back, for assertions."""

from __future__ import annotations

from sqlalchemy import select

from egide.core.audit import merkle
from egide.core.db import Database
from egide.core.db.models import AuditEvent, AuditLeaf, AuditNode


def stored_leaves(db: Database) -> list[tuple[int, bytes]]:
    with db.read() as session:
        rows = session.execute(select(AuditLeaf.seq, AuditLeaf.leaf).order_by(AuditLeaf.seq))
        return [(seq, bytes(leaf)) for seq, leaf in rows]


def stored_seqs(db: Database) -> list[int | None]:
    with db.read() as session:
        return list(session.scalars(select(AuditEvent.seq)))


def leaf_node_hashes(db: Database) -> list[bytes]:
    with db.read() as session:
        rows = session.scalars(
            select(AuditNode.hash).where(AuditNode.level == 0).order_by(AuditNode.idx)
        )
        return [bytes(value) for value in rows]


def root_of_stored_leaves(db: Database) -> bytes:
    """The reference head: RFC 9162's MTH recomputed from the stored leaf bytes."""
    return merkle.root([merkle.leaf_hash(leaf) for _, leaf in stored_leaves(db)])
