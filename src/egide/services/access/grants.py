"""Who holds which space role where: queries on the grants table.

Each function takes the caller's SQLAlchemy `Session` so it runs inside the
caller's transaction (a check and the action it guards see the same data).
Nothing here decides whether an action is allowed: callers ask the policy
(`policy.decide` / `policy.authorize`) with the role found here. The write
functions only keep the data sound (the node belongs to the space, the
principal exists).

A role granted on a folder holds on everything below it; a role on the space
root is membership of the space. A trashed subtree is detached (its top node
has no parent), so it inherits nothing while in the trash: trash actions are
authorised on the space root.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.exc import IntegrityError as SQLIntegrityError
from sqlalchemy.orm import Session, aliased

from egide.core.db.models import Grant, Group, Node, User
from egide.core.errors import InvalidInput, NotFound
from egide.services.access.policy import Principal, SpaceRole

PRINCIPAL_KINDS = frozenset({"user", "group"})


@dataclass(frozen=True)
class GrantInfo:
    principal_kind: str
    principal_id: str
    role: SpaceRole
    #: When and by whom the current role was set (a change of role updates both).
    created_at: dt.datetime
    created_by: str | None


def _held_by(principal: Principal) -> ColumnElement[bool]:
    """Grants to the principal's user or to any of its groups."""
    clauses: list[ColumnElement[bool]] = []
    if principal.user_id is not None:
        clauses.append(
            and_(Grant.principal_kind == "user", Grant.principal_id == principal.user_id)
        )
    if principal.group_ids:
        clauses.append(
            and_(Grant.principal_kind == "group", Grant.principal_id.in_(principal.group_ids))
        )
    return or_(*clauses) if clauses else false()


def effective_role(session: Session, principal: Principal, node_id: str) -> SpaceRole | None:
    """The highest role the principal holds on `node_id` or any folder above it.

    None when it holds none (or for the system principal, which holds no
    space role by design). Walks parent_id upwards with a recursive CTE, the
    same SQL on SQLite and PostgreSQL; UNION (not UNION ALL) ends the walk
    even if a corrupt tree had a cycle.
    """
    if principal.is_system:
        return None
    parent = aliased(Node)
    ancestors = (
        select(Node.id, Node.parent_id).where(Node.id == node_id).cte("ancestors", recursive=True)
    )
    ancestors = ancestors.union(
        select(parent.id, parent.parent_id).join(ancestors, parent.id == ancestors.c.parent_id)
    )
    rows = session.scalars(
        select(Grant.role).where(Grant.node_id.in_(select(ancestors.c.id)), _held_by(principal))
    )
    # A role text that names no role grants nothing (default deny); fsck reports it.
    roles = [role for role in map(SpaceRole.parse, rows) if role is not None]
    return max(roles, default=None)


def visible_space_ids(session: Session, principal: Principal) -> set[str]:
    """Spaces where the principal holds at least one grant, on any node."""
    if principal.is_system:
        return set()
    rows = session.scalars(select(Grant.space_id).where(_held_by(principal)).distinct())
    return set(rows)


def _check_principal(session: Session, principal_kind: str, principal_id: str) -> None:
    if principal_kind not in PRINCIPAL_KINDS:
        raise InvalidInput(
            "A role is granted to a user or a group, not to {kind}.",
            field="principal",
            kind=principal_kind,
        )
    model = User if principal_kind == "user" else Group
    if session.get(model, principal_id) is None:
        raise NotFound("No such {kind}.", kind=principal_kind)


def _find(session: Session, node_id: str, principal_kind: str, principal_id: str) -> Grant | None:
    return session.scalars(
        select(Grant).where(
            Grant.node_id == node_id,
            Grant.principal_kind == principal_kind,
            Grant.principal_id == principal_id,
        )
    ).one_or_none()


def set_grant(
    session: Session,
    *,
    space_id: str,
    node_id: str,
    principal_kind: str,
    principal_id: str,
    role: SpaceRole,
    created_by: str | None,
    now: dt.datetime,
) -> bool:
    """Give `role` on the node to the principal; True if anything changed."""
    _check_principal(session, principal_kind, principal_id)
    node = session.get(Node, node_id)
    if node is None or node.space_id != space_id:
        raise NotFound("No such folder in this space.")
    role = SpaceRole(role)
    existing = _find(session, node_id, principal_kind, principal_id)
    if existing is None:
        try:
            # A savepoint, so a concurrent insert of the same grant (PostgreSQL;
            # SQLite serialises writers) turns into an update below rather than
            # failing the caller's whole transaction.
            with session.begin_nested():
                session.add(
                    Grant(
                        space_id=space_id,
                        node_id=node_id,
                        principal_kind=principal_kind,
                        principal_id=principal_id,
                        role=role.value,
                        created_at=now,
                        created_by=created_by,
                    )
                )
        except SQLIntegrityError:
            existing = _find(session, node_id, principal_kind, principal_id)
            if existing is None:
                raise
        else:
            return True
    if existing.role == role.value:
        return False
    existing.role = role.value
    existing.created_at = now
    existing.created_by = created_by
    return True


def remove_grant(session: Session, *, node_id: str, principal_kind: str, principal_id: str) -> bool:
    """Take the principal's role on this node away; True if there was one.

    Roles inherited from folders above stay: remove those where they are granted.
    """
    existing = _find(session, node_id, principal_kind, principal_id)
    if existing is None:
        return False
    session.delete(existing)
    session.flush()
    return True


def remove_principal_grants(session: Session, *, principal_kind: str, principal_id: str) -> int:
    """Delete every grant of a principal (a group being deleted); returns how many."""
    grants = session.scalars(
        select(Grant).where(
            Grant.principal_kind == principal_kind, Grant.principal_id == principal_id
        )
    ).all()
    for grant in grants:
        session.delete(grant)
    session.flush()
    return len(grants)


def list_grants(session: Session, node_id: str) -> list[GrantInfo]:
    """Roles granted on this very node (not those inherited), oldest first."""
    rows = session.scalars(
        select(Grant).where(Grant.node_id == node_id).order_by(Grant.created_at, Grant.id)
    )
    result = []
    for grant in rows:
        role = SpaceRole.parse(grant.role)
        if role is None:
            continue  # grants nothing (see effective_role); fsck reports it
        result.append(
            GrantInfo(
                principal_kind=grant.principal_kind,
                principal_id=grant.principal_id,
                role=role,
                created_at=grant.created_at,
                created_by=grant.created_by,
            )
        )
    return result
