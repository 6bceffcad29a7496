"""Access reports (issue 4, item 7): who accessed what, what one person did, refusals, off hours.

A hospital answers a patient's access request, or looks into an incident,
with four reports over a period [since, until) of at most `MAX_DAYS` days:

- `access`: who accessed a file, a folder or a whole space: the content
  actions (`report_query.CONTENT_ACTIONS`) and the grant actions (`grant.*`), allowed and
  refused;
- `activity`: everything one person did, through a session or an API token
  (the event's `user_id` is the person behind either);
- `denied`: every refused attempt (outcome `denied`);
- `out-of-hours`: content actions outside the working hours of the settings
  (`egide.core.workhours`).

Every report also takes any of the filters of the others (a space, a file or
folder, a person), each narrowing the rows.

A folder is the folder and its subtree **as it is now**, trashed
descendants included (a trashed subtree hangs from its `original_parent_id`):
events are matched on their node id (`node_id`), plus the copies made from
a node of the subtree (`node.copy` names its source in the leaf). So an item
moved out of the folder since keeps its history in its own report and leaves
the folder's; an item moved in brings its earlier history along; an item
purged from the trash has no node any more and is found by the space's
report only. The event's path at the time (from its sealed context) is shown
on each row, so a reader sees where the item was.

A report opens personal contexts, so it is itself an audit event
(`audit.report`, recorded before the first row is read; its details hold the
report's kind and period, its target the ids it was asked about); a refusal
is recorded under the same name with outcome `denied`. Rows come in
(`created_at`, event id) order, read `_BATCH` events at a time, so a report
over a busy year runs in bounded memory. Pending events are sequenced first,
so every row but those recorded meanwhile has its `seq`. A context erased by
retention or on request leaves its columns empty.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import ColumnElement, Row, Select, and_, or_, select
from sqlalchemy.orm import Session

from egide.core import workhours
from egide.core.db.models import AuditEvent, Node, Space, User
from egide.core.errors import EgideError, InvalidInput, NotFound
from egide.core.workhours import WorkingHours
from egide.services.access.policy import Action, Principal, authorize
from egide.services.accounts.errors import UserNotFound
from egide.services.accounts.records import find_user
from egide.services.audit.actions import AuditAction
from egide.services.audit.recorder import format_time
from egide.services.audit.report_query import ReportKind, ReportQuery, Scope, condition
from egide.services.vault.names import split_path
from egide.services.vault.tree import Tree

if TYPE_CHECKING:
    from egide.services.audit.service import AuditService
    from egide.services.registry import Services

#: The longest period of one report: a year, leap day included.
MAX_DAYS: Final = 366
#: The times a period may name: no entry is older than 1970, and times stay four-digit
#: years once in UTC (RFC 3339).
_EARLIEST: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_LATEST: Final = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
#: Events read, and contexts opened, per query.
_BATCH: Final = 500


class InvalidReportPeriod(InvalidInput):
    code = "audit-report-period"


class ReportTargetMissing(InvalidInput):
    code = "audit-report-target"


class ReportTargetNotFound(NotFound):
    code = "audit-report-target-not-found"


@dataclass(frozen=True)
class ReportRow:
    """One event as a report shows it; context fields are None once erased."""

    time: str
    seq: int | None
    action: str
    outcome: str
    username: str | None
    display_name: str | None
    user_id: str | None
    #: "user", "token", "link" or "system"; `actor_id` is the token's id for a token.
    actor_kind: str
    actor_id: str | None
    role: str | None
    purpose: str | None
    client_address: str | None
    path: str | None
    space_id: str | None
    node_id: str | None
    version_id: str | None
    event_id: str
    details: dict[str, Any] = field(default_factory=dict)


#: The columns of a row, in the order of the CSV and table outputs.
COLUMNS: Final = tuple(column.name for column in dataclasses.fields(ReportRow))


@dataclass(frozen=True)
class Report:
    kind: ReportKind
    since: dt.datetime
    until: dt.datetime
    space_id: str | None
    node_id: str | None
    user_id: str | None
    #: The working hours in force, for `out-of-hours` (`WorkingHours.describe`).
    working_hours: dict[str, str] | None
    #: The `audit.report` event that records this report.
    event_id: str
    #: Read lazily, a batch at a time: iterate once.
    rows: Iterator[ReportRow]


#: An event's columns (`_events`), as read for a report.
_Event = Row[str, dt.datetime, int | None, str, str | None, str, str, str, str, str | None]


def _events() -> Select[
    str, dt.datetime, int | None, str, str | None, str, str, str, str, str | None
]:
    return select(
        AuditEvent.id,
        AuditEvent.created_at,
        AuditEvent.seq,
        AuditEvent.actor_kind,
        AuditEvent.actor_id,
        AuditEvent.action,
        AuditEvent.outcome,
        AuditEvent.target,
        AuditEvent.details,
        AuditEvent.user_id,
    )


class AccessReports:
    """The four reports, authorised as `audit.read` (administrators and DPOs)."""

    def __init__(self, audit: AuditService, tree: Tree, hours: WorkingHours) -> None:
        self.audit = audit
        self.db = audit.db
        self.tree = tree
        self.hours = hours

    @classmethod
    def for_services(cls, services: Services) -> AccessReports:
        settings = services.settings
        hours = workhours.parse(
            settings.audit_working_hours, settings.audit_working_days, settings.audit_timezone
        )
        return cls(services.audit, services.nodes.tree, hours)

    def access_to(
        self,
        actor: Principal,
        *,
        since: dt.datetime,
        until: dt.datetime,
        space: str | None = None,
        path: str | None = None,
        node: str | None = None,
        user: str | None = None,
    ) -> Report:
        """Who accessed a space, or a file or folder in it (`space` and `path`, or `node`)."""
        query = ReportQuery(since, until, space=space, path=path, node=node, user=user)
        return self.run(actor, ReportKind.ACCESS, query)

    def activity_of(
        self,
        actor: Principal,
        user: str,
        *,
        since: dt.datetime,
        until: dt.datetime,
        space: str | None = None,
    ) -> Report:
        """What one person (a username or a user id) did, tokens included."""
        query = ReportQuery(since, until, space=space, user=user)
        return self.run(actor, ReportKind.ACTIVITY, query)

    def denied(
        self,
        actor: Principal,
        *,
        since: dt.datetime,
        until: dt.datetime,
        space: str | None = None,
        user: str | None = None,
    ) -> Report:
        """Every refused attempt, or those in one space or by one person."""
        query = ReportQuery(since, until, space=space, user=user)
        return self.run(actor, ReportKind.DENIED, query)

    def out_of_hours(
        self,
        actor: Principal,
        *,
        since: dt.datetime,
        until: dt.datetime,
        space: str | None = None,
        user: str | None = None,
    ) -> Report:
        """Content actions outside the working hours of the settings."""
        query = ReportQuery(since, until, space=space, user=user)
        return self.run(actor, ReportKind.OUT_OF_HOURS, query)

    def run(self, actor: Principal, kind: ReportKind, query: ReportQuery) -> Report:
        """Authorise, check, record the report, then hand back its rows to read."""
        self._authorize(actor, kind)
        _check_period(query.since, query.until)
        with self.db.read() as session:
            scope = self._scope(session, query)
        _check_target(kind, scope)
        self.audit.sequencer.run_pending()
        event_id = self._record(actor, kind, query, scope)
        selected = condition(kind, query, scope)
        hours = self.hours if kind is ReportKind.OUT_OF_HOURS else None
        keep = None if hours is None else (lambda moment: not hours.contains(moment))
        return Report(
            kind=kind,
            since=query.since,
            until=query.until,
            space_id=scope.space_id,
            node_id=scope.node_id,
            user_id=scope.user_id,
            working_hours=None if hours is None else hours.describe(),
            event_id=event_id,
            rows=self._rows(selected, keep),
        )

    def _authorize(self, actor: Principal, kind: ReportKind) -> None:
        """Through the policy; a refusal is itself recorded (outcome `denied`)."""
        try:
            authorize(actor, Action.AUDIT_READ)
        except EgideError as exc:
            self.audit.recorder.record_denied(
                self.db,
                actor=actor,
                action=AuditAction.AUDIT_REPORT,
                target={},
                details={"reason": exc.code, "report": str(kind)},
            )
            raise

    def _scope(self, session: Session, query: ReportQuery) -> Scope:
        """The ids the query names; NotFound for a space, item or person that is not there."""
        space_id = None
        if query.space is not None:
            space = self.tree.space_by_slug(session, query.space.strip().lower())
            if space is None:
                raise ReportTargetNotFound(
                    "No space {space}. Give the slug of an existing space (egide space list).",
                    space=query.space,
                )
            space_id = space.id
        node = self._node(session, query, space_id)
        user_id = None if query.user is None else _user_id(session, query.user)
        if node is not None:
            space_id = node.space_id
        return Scope(space_id, None if node is None else node.id, user_id)

    def _node(self, session: Session, query: ReportQuery, space_id: str | None) -> Node | None:
        segments = split_path(query.path or "")
        if query.node is not None and segments:
            raise ReportTargetMissing(
                "Name the file or folder once: by its path or by its id (node), not both.",
                field="path",
            )
        if query.node is not None:
            node = session.get(Node, query.node)
            if node is None or (space_id is not None and node.space_id != space_id):
                raise ReportTargetNotFound(
                    "No file or folder with the id {node} in this space. Check the id, or give "
                    "its path instead.",
                    node=query.node,
                )
            return node
        if not segments:
            return None
        space = None if space_id is None else session.get(Space, space_id)
        if space is None:
            raise ReportTargetMissing(
                "A path is looked up in a space: give the space too (space and path).",
                field="space",
            )
        node, rest = self.tree.resolve_deepest(session, space, segments)
        if rest:
            raise ReportTargetNotFound(
                "No file or folder at this path in the space. An item in the trash is "
                "found by its id (node) instead."
            )
        return node

    def _record(self, actor: Principal, kind: ReportKind, query: ReportQuery, scope: Scope) -> str:
        with self.db.write() as session:
            return self.audit.recorder.record(
                session,
                actor=actor,
                action=AuditAction.AUDIT_REPORT,
                target={"space": scope.space_id, "node": scope.node_id, "user": scope.user_id},
                details={
                    "report": str(kind),
                    "since": format_time(query.since),
                    "until": format_time(query.until),
                },
            )

    def _rows(
        self, condition: ColumnElement[bool], keep: Callable[[dt.datetime], bool] | None
    ) -> Iterator[ReportRow]:
        """The matching events in (created_at, id) order, `_BATCH` per query (keyset paging)."""
        after: tuple[dt.datetime, str] | None = None
        while True:
            statement = _events().where(condition)
            if after is not None:
                statement = statement.where(
                    or_(
                        AuditEvent.created_at > after[0],
                        and_(AuditEvent.created_at == after[0], AuditEvent.id > after[1]),
                    )
                )
            statement = statement.order_by(AuditEvent.created_at, AuditEvent.id).limit(_BATCH)
            with self.db.read() as session:
                events = session.execute(statement).all()
            if not events:
                return
            after = (events[-1].created_at, events[-1].id)
            yield from self._rows_of([e for e in events if keep is None or keep(e.created_at)])
            if len(events) < _BATCH:
                return

    def _rows_of(self, events: Sequence[_Event]) -> Iterator[ReportRow]:
        if not events:
            return
        contexts = self.audit.open_contexts([event.id for event in events])
        user_ids = {event.user_id for event in events if event.user_id is not None}
        with self.db.read() as session:
            people = {
                row.id: (row.username, row.display_name)
                for row in session.execute(
                    select(User.id, User.username, User.display_name).where(User.id.in_(user_ids))
                )
            }
        for event in events:
            yield _row(event, contexts.get(event.id, {}), people)


def _check_period(since: dt.datetime, until: dt.datetime) -> None:
    if since.tzinfo is None or until.tzinfo is None:
        raise InvalidReportPeriod(
            "Give since and until with their time zone (2026-03-01T00:00:00Z).", field="since"
        )
    for name, moment in (("since", since), ("until", until)):
        if not _EARLIEST <= moment <= _LATEST:
            raise InvalidReportPeriod(
                "Give {name} between 1970 and 9998: the log holds nothing outside.",
                field=name,
                name=name,
            )
    if since >= until:
        raise InvalidReportPeriod(
            "The period is empty: since ({since}) must come before until ({until}).",
            field="since",
            since=format_time(since),
            until=format_time(until),
        )
    if until - since > dt.timedelta(days=MAX_DAYS):
        raise InvalidReportPeriod(
            "A report covers at most {days} days; split the period into several reports.",
            field="until",
            days=MAX_DAYS,
        )


def _check_target(kind: ReportKind, scope: Scope) -> None:
    if kind is ReportKind.ACCESS and scope.space_id is None:
        raise ReportTargetMissing(
            "Say what the access report is about: a space, a file or folder in it (space and "
            "path), or an item's id (node).",
            field="space",
        )
    if kind is ReportKind.ACTIVITY and scope.user_id is None:
        raise ReportTargetMissing(
            "Say whose activity to report: give a username or a user id (user).", field="user"
        )


def _user_id(session: Session, value: str) -> str:
    user = find_user(session, value) or session.get(User, value.strip())
    if user is None:
        raise UserNotFound(value)
    return user.id


def _row(event: _Event, context: dict[str, Any], people: dict[str, tuple[str, str]]) -> ReportRow:
    target = _object(event.target)
    client = context.get("client")
    username, display_name = people.get(event.user_id or "", (None, None))
    if username is None:
        # A failed log-in under a name no account has: the name tried, from the context.
        username = _text(context.get("username"))
    return ReportRow(
        time=format_time(event.created_at),
        seq=event.seq,
        action=event.action,
        outcome=event.outcome,
        username=username,
        display_name=display_name,
        user_id=event.user_id,
        actor_kind=event.actor_kind,
        actor_id=event.actor_id,
        role=_text(context.get("role")),
        purpose=_text(context.get("purpose")),
        client_address=_text(client.get("address")) if isinstance(client, dict) else None,
        path=_text(context.get("path")),
        space_id=_text(target.get("space")),
        node_id=_text(target.get("node")),
        version_id=_text(target.get("version")),
        event_id=event.id,
        details=_object(event.details),
    )


def _object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
