"""What an access report asks, and the SQL that picks its events (see `reports`).

Conditions on the event rows' indexed columns (`created_at`, `space_id`,
`node_id`, `user_id`) and on the action and outcome; bound parameters only.
A folder's events are those of its subtree as it is now, trash included,
plus the copies made from it (the `reports` docstring says why).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Final

from sqlalchemy import ColumnElement, and_, exists, literal, or_, select, true, union

from egide.core.db.models import AuditEvent, Node, TrashItem
from egide.services.audit.actions import AuditAction
from egide.services.audit.recorder import DENIED

#: What reading or changing content is recorded as; `access` also takes `grant.*`.
CONTENT_ACTIONS: Final = frozenset(
    {
        AuditAction.FILE_READ,
        AuditAction.FILE_WRITE,
        AuditAction.VERSION_RESTORE,
        AuditAction.NODE_MOVE,
        AuditAction.NODE_COPY,
        AuditAction.NODE_DELETE,
        AuditAction.TRASH_RESTORE,
    }
)
GRANT_ACTIONS: Final = "grant."


class ReportKind(enum.StrEnum):
    ACCESS = "access"
    ACTIVITY = "activity"
    DENIED = "denied"
    OUT_OF_HOURS = "out-of-hours"


@dataclass(frozen=True)
class ReportQuery:
    """What a report is asked about. `since` is included, `until` excluded.

    `space` is a space's slug; `path` a file or folder in it, or `node` its id
    (for an item in the trash too); `user` a username or a user id.
    """

    since: dt.datetime
    until: dt.datetime
    space: str | None = None
    path: str | None = None
    node: str | None = None
    user: str | None = None


@dataclass(frozen=True)
class Scope:
    """The ids a query named, once looked up."""

    space_id: str | None = None
    node_id: str | None = None
    user_id: str | None = None


def condition(kind: ReportKind, query: ReportQuery, scope: Scope) -> ColumnElement[bool]:
    """The events of the report `kind` over the query's period, within `scope`."""
    return and_(_period(query), _kind_condition(kind), *_scope_conditions(scope))


def _period(query: ReportQuery) -> ColumnElement[bool]:
    return and_(AuditEvent.created_at >= query.since, AuditEvent.created_at < query.until)


def _kind_condition(kind: ReportKind) -> ColumnElement[bool]:
    content = AuditEvent.action.in_(sorted(CONTENT_ACTIONS))
    if kind is ReportKind.ACCESS:
        return or_(content, AuditEvent.action.startswith(GRANT_ACTIONS, autoescape=True))
    if kind is ReportKind.DENIED:
        return AuditEvent.outcome == DENIED
    if kind is ReportKind.OUT_OF_HOURS:
        return content
    return true()


def _scope_conditions(scope: Scope) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if scope.node_id is not None:
        conditions.append(_in_subtree(scope.node_id, scope.space_id))
    elif scope.space_id is not None:
        conditions.append(AuditEvent.space_id == scope.space_id)
    if scope.user_id is not None:
        conditions.append(AuditEvent.user_id == scope.user_id)
    return conditions


def _in_subtree(node_id: str, space_id: str | None) -> ColumnElement[bool]:
    """Events on the node or below it (trash included), and copies made from them."""
    # Parent links of the live tree and of trashed subtrees, as one edge list, so
    # the recursive part refers to the CTE once (PostgreSQL requires it).
    edges = union(
        select(Node.id.label("child"), Node.parent_id.label("parent")).where(
            Node.parent_id.is_not(None)
        ),
        select(TrashItem.node_id.label("child"), TrashItem.original_parent_id.label("parent")),
    ).subquery("edges")
    down = select(Node.id).where(Node.id == node_id).cte("subtree", recursive=True)
    down = down.union(select(edges.c.child).where(edges.c.parent == down.c.id))
    # Canonical JSON of the leaf's target: `"source":"<id>"` (ids hold no LIKE wildcard).
    source = literal('"source":"') + down.c.id + literal('"')
    copied = and_(
        AuditEvent.action == AuditAction.NODE_COPY,
        AuditEvent.space_id == space_id,
        exists(select(down.c.id).where(AuditEvent.target.contains(source))),
    )
    return or_(AuditEvent.node_id.in_(select(down.c.id)), copied)
