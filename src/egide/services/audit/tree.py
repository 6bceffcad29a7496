"""Reading the stored Merkle tree: heads and proofs over `audit_nodes` (RFC 9162 2.1).

Every read goes through `node_reader`, one primary-key lookup per node, so a
head or a proof costs O(log n) reads whatever the size of the log. Complete
nodes never change once written, so the same rows answer for every past size.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from egide.core.audit import merkle
from egide.core.audit.errors import InvalidTreeRequest
from egide.core.db import Database
from egide.core.db.models import AuditNode


def node_reader(session: Session) -> merkle.NodeReader:
    """`get(level, index)` over `audit_nodes`; a missing node reads as damaged (b"")."""

    def get(level: int, index: int) -> bytes:
        value = session.execute(
            select(AuditNode.hash).where(AuditNode.level == level, AuditNode.idx == index)
        ).scalar_one_or_none()
        return b"" if value is None else bytes(value)

    return get


def stored_size(session: Session) -> int:
    """Entries in the log: the highest leaf hash's index + 1 (one primary-key lookup).

    Counted on the level-0 nodes rather than `audit_leaves`: archiving old
    entries (FORMATS.md section 5) may remove leaf bytes, never leaf hashes.
    Leaves 0 .. n-1 all exist (seq is gap-free), so the highest plus one is the count.
    """
    highest = session.execute(select(func.max(AuditNode.idx)).where(AuditNode.level == 0))
    value = highest.scalar_one_or_none()
    return 0 if value is None else int(value) + 1


def _within(session: Session, size: int | None) -> int:
    current = stored_size(session)
    if size is None:
        return current
    if size > current:
        raise InvalidTreeRequest(
            "The tree holds {current} entries, not {size}; ask for a size it has reached.",
            current=current,
            size=size,
        )
    return size


def tree_head(db: Database, size: int | None = None) -> tuple[int, bytes]:
    """(size, MTH) of the log now, or of its first `size` entries."""
    with db.read() as session:
        size = _within(session, size)
        return size, merkle.tree_head(size, node_reader(session))


def inclusion_proof(db: Database, seq: int, tree_size: int) -> list[bytes]:
    """PATH(seq, D[0:tree_size]) from stored nodes."""
    with db.read() as session:
        tree_size = _within(session, tree_size)
        return merkle.inclusion_proof(seq, tree_size, node_reader(session))


def consistency_proof(db: Database, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[0:second]) from stored nodes."""
    with db.read() as session:
        second = _within(session, second)
        return merkle.consistency_proof(first, second, node_reader(session))
