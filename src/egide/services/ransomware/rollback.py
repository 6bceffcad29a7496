"""Roll-backs: an incident's changes undone, a space or folder put back as it was
at an instant (issue 8, item 3; docs/ransomware.md; ADR 24).

Both work from what the vault keeps anyway: versions (never purged inside the
protection window), the trash, and `node_history` (the place of each node
before each change). For every node concerned a **target** is computed:

- its place (parent and name) at the instant: the "before" of its first
  history row after it, or its current place when it has none;
- its content at the instant: its highest version made before it.

Then the node is brought there, nothing destroyed: a content comes back as a
new version sharing the old content (like `restore_version`), a deleted item
comes out of the trash, a rename or move is reverted, and (point in time
only) an item created after the instant goes to the trash. So a roll-back
can itself be rolled back.

Work goes by batches of `BATCH` nodes, one transaction each, with its audit
event: a crash leaves every committed batch consistent, and since each step
compares the current state with the target (computed from rows a roll-back
never changes), running the command again finishes the job and a second
full run changes nothing.

An incident's roll-back only undoes what the incident's user did since the
first suspicious action: where someone else changed a file or moved it
since, that change is kept and reported as a conflict.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from egide.core.db.base import new_id
from egide.core.db.models import Node, NodeHistory, Space, TrashItem, Version
from egide.core.db.models.history import CREATE, DELETE, MOVE, UNDELETE
from egide.core.db.models.ransomware import RansomwareEvent, RansomwareIncident
from egide.core.errors import InvalidInput
from egide.services.access.policy import Action, Principal, authorize
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.ransomware.detector import RELEASED, Detector, check_contained
from egide.services.ransomware.errors import IncidentNotFound
from egide.services.vault.base import VaultContext, VaultServiceBase, not_found
from egide.services.vault.errors import NotAFolder
from egide.services.vault.files import next_version_number
from egide.services.vault.history import record_place
from egide.services.vault.names import split_path
from egide.services.vault.tree import FILE, FOLDER

#: Nodes per transaction.
BATCH = 500

Progress = Callable[[int, int], None]
_Row = TypeVar("_Row")


@dataclass(frozen=True)
class RollbackConflict:
    """An item left as it is, and why (ids only: names are personal data)."""

    space_id: str
    node_id: str
    #: changed-since, moved-since, name-taken, folder-gone, version-purged
    reason: str


@dataclass
class RollbackReport:
    restored: int = 0
    undeleted: int = 0
    renamed_back: int = 0
    #: Point in time only: items created after the instant, moved to the trash.
    trashed: int = 0
    skipped: int = 0
    conflicts: list[RollbackConflict] = field(default_factory=list)
    dry_run: bool = False

    def counts(self) -> dict[str, int]:
        return {
            "restored": self.restored,
            "undeleted": self.undeleted,
            "renamed_back": self.renamed_back,
            "trashed": self.trashed,
            "skipped": self.skipped,
            "conflicts": len(self.conflicts),
        }

    def add(self, other: RollbackReport) -> None:
        self.restored += other.restored
        self.undeleted += other.undeleted
        self.renamed_back += other.renamed_back
        self.trashed += other.trashed
        self.skipped += other.skipped
        self.conflicts += other.conflicts

    @property
    def changed(self) -> int:
        return self.restored + self.undeleted + self.renamed_back + self.trashed


@dataclass(frozen=True)
class _Place:
    """Where a node was: absent (not created yet), in the trash, or under a parent."""

    state: str  # "absent" | "trash" | "live"
    parent_id: str | None = None
    name_enc: bytes = b""
    name_key_id: str = ""


_ABSENT = _Place("absent")
_TRASH = _Place("trash")


def _place_before(row: NodeHistory) -> _Place:
    if row.change == CREATE:
        return _ABSENT
    if row.change == UNDELETE or row.parent_id is None:
        return _TRASH
    return _Place("live", row.parent_id, row.name_enc, row.name_key_id)


@dataclass
class _Scope:
    """What a roll-back undoes: everything after `since` (point in time), or what
    `user_id` did in [since, until] (an incident)."""

    since: dt.datetime
    #: Versions made at `since` belong to the past (point in time) or not (incident).
    inclusive: bool
    user_id: str | None = None
    until: dt.datetime | None = None
    #: Point in time of a folder: the ids under it (None: the whole space).
    folder_ids: set[str] | None = None
    space_id: str | None = None

    @property
    def incident(self) -> bool:
        return self.user_id is not None


class _Abort(Exception):
    """Rolls back a dry run's transaction."""


def _abort() -> NoReturn:
    raise _Abort()


class RollbackService(VaultServiceBase):
    def __init__(self, ctx: VaultContext, detector: Detector | None = None) -> None:
        super().__init__(ctx)
        self.detector = detector

    # Incident ----------------------------------------------------------------

    @records_denials
    def restore_incident(
        self,
        actor: Principal,
        incident_id: str,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> RollbackReport:
        """Undo what the incident's user changed since its first suspicious action."""
        action = AuditAction.RANSOMWARE_INCIDENT_RESTORE
        try:
            authorize(actor, Action.INCIDENT_MANAGE)
        except Exception as exc:
            if hasattr(exc, "denied"):
                exc.denied(str(action), {"incident": incident_id})
            raise
        with self.db.read() as session:
            check_contained(self.detector, session, actor, str(action))
            incident = session.get(RansomwareIncident, incident_id)
            if incident is None:
                raise IncidentNotFound()
            user_id = incident.user_id
            since = _window_start(session, incident)
            until = incident.closed_at if incident.status == RELEASED else None
        report = RollbackReport(dry_run=dry_run)
        if user_id is not None:
            scope = _Scope(since=since, inclusive=False, user_id=user_id, until=until)
            with self.db.read() as session:
                ids = self._incident_candidates(session, scope)
            report = self._run(
                actor,
                scope,
                ids,
                dry_run=dry_run,
                progress=progress,
                audit=(action, {"incident": incident_id}),
            )
        if not dry_run:
            with self.db.write() as session:
                row = session.get(RansomwareIncident, incident_id)
                if row is not None:
                    row.restored_at = self.clock.now()
                    row.restored_by = actor.user_id
                self._record(
                    session,
                    actor,
                    action,
                    {"incident": incident_id},
                    details={**report.counts(), "final": True},
                )
        return report

    def _incident_candidates(self, session: Session, scope: _Scope) -> list[str]:
        moved = select(NodeHistory.node_id).where(
            NodeHistory.changed_by == scope.user_id,
            NodeHistory.at >= scope.since,
            NodeHistory.change != CREATE,
            NodeHistory.by_restore.is_(False),
        )
        written = select(Version.node_id).where(
            Version.created_by == scope.user_id, Version.created_at >= scope.since
        )
        if scope.until is not None:
            moved = moved.where(NodeHistory.at <= scope.until)
            written = written.where(Version.created_at <= scope.until)
        return self._ordered(session, set(session.scalars(moved)) | set(session.scalars(written)))

    # Point in time -----------------------------------------------------------

    @records_denials
    def restore_at(
        self,
        actor: Principal,
        slug: str,
        at: dt.datetime,
        *,
        path: str = "",
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> RollbackReport:
        """Put a space (or the folder at `path`) back as it was at `at`."""
        if at.tzinfo is None:
            raise InvalidInput(
                "Give the instant with its time zone (for example 2026-11-30T06:00:00Z).",
                field="at",
            )
        if at > self.clock.now():
            raise InvalidInput(
                "This instant is in the future: give a past date and time.", field="at"
            )
        segments = split_path(path)
        with self.db.read() as session:
            check_contained(self.detector, session, actor, Action.SPACE_RESTORE.value)
            space = self._space(session, slug)
            folder = self._locate(session, actor, space, segments, Action.SPACE_RESTORE)
            if folder.kind != FOLDER:
                raise NotAFolder("{path} is a file, not a folder.", path="/" + "/".join(segments))
            folder_ids = None
            if folder.id != space.root_node_id:
                folder_ids = set(self.tree.subtree_ids(session, folder.id))
            scope = _Scope(
                since=at.astimezone(dt.UTC),
                inclusive=True,
                folder_ids=folder_ids,
                space_id=space.id,
            )
            ids = self._space_candidates(session, space, scope)
            target = {"space": space.id, "node": folder.id}
        return self._run(
            actor,
            scope,
            ids,
            dry_run=dry_run,
            progress=progress,
            audit=(AuditAction.SPACE_RESTORE, target),
        )

    def _space_candidates(self, session: Session, space: Space, scope: _Scope) -> list[str]:
        moved = select(NodeHistory.node_id).where(
            NodeHistory.space_id == space.id, NodeHistory.at > scope.since
        )
        written = (
            select(Version.node_id)
            .join(Node, Node.id == Version.node_id)
            .where(Node.space_id == space.id, Version.created_at > scope.since)
        )
        created = select(Node.id).where(
            Node.space_id == space.id,
            Node.created_at > scope.since,
            Node.id != space.root_node_id,
        )
        ids = set(session.scalars(moved)) | set(session.scalars(written))
        ids |= set(session.scalars(created))
        ids.discard(space.root_node_id)
        return self._ordered(session, ids)

    # The engine ----------------------------------------------------------------

    @staticmethod
    def _ordered(session: Session, ids: set[str]) -> list[str]:
        """Folders first (their files may need them back), then files; stable order."""
        kinds: dict[str, str] = {}
        ordered = sorted(ids)
        for i in range(0, len(ordered), BATCH):
            query = select(Node.id, Node.kind).where(Node.id.in_(ordered[i : i + BATCH]))
            kinds.update((row.id, row.kind) for row in session.execute(query))
        present = [i for i in ordered if i in kinds]
        return [i for i in present if kinds[i] == FOLDER] + [
            i for i in present if kinds[i] != FOLDER
        ]

    def _run(
        self,
        actor: Principal,
        scope: _Scope,
        ids: list[str],
        *,
        dry_run: bool,
        progress: Progress | None,
        audit: tuple[AuditAction, dict[str, str]],
    ) -> RollbackReport:
        if not dry_run:
            return self._passes(actor, scope, ids, session=None, progress=progress, audit=audit)
        # A dry run makes every change in one transaction, rolled back at the end,
        # so what it counts is what a real run would do.
        report = RollbackReport(dry_run=True)
        try:
            with self.db.write() as session:
                report = self._passes(
                    actor, scope, ids, session=session, progress=progress, audit=audit
                )
                _abort()
        except _Abort:
            pass
        report.dry_run = True
        return report

    def _passes(
        self,
        actor: Principal,
        scope: _Scope,
        ids: list[str],
        *,
        session: Session | None,
        progress: Progress | None,
        audit: tuple[AuditAction, dict[str, str]],
    ) -> RollbackReport:
        total = RollbackReport()
        done = 0
        pending, last = list(ids), False
        while pending:
            waiting: list[str] = []
            for batch in _batches(pending, BATCH):
                part, wait = self._batch(actor, scope, batch, session, audit, last=last)
                total.add(part)
                waiting += wait
                done += len(batch) - len(wait)
                if progress:
                    progress(done, len(ids))
            # Items wait for a folder that comes back later in the run; when a
            # round brings none back, the last one reports why they stay.
            last = len(waiting) == len(pending)
            pending = waiting
        # Point in time: what was created after the instant goes to the trash
        # last, once everything older has come back out of it.
        if not scope.incident:
            for batch in _batches(ids, BATCH):
                part, _ = self._batch(actor, scope, batch, session, audit, last=True, new=True)
                total.add(part)
        return total

    def _batch(
        self,
        actor: Principal,
        scope: _Scope,
        ids: list[str],
        outer: Session | None,
        audit: tuple[AuditAction, dict[str, str]],
        *,
        last: bool,
        new: bool = False,
    ) -> tuple[RollbackReport, list[str]]:
        part = RollbackReport()
        waiting: list[str] = []
        with contextlib.ExitStack() as stack:
            session = outer if outer is not None else stack.enter_context(self.db.write())
            step = _Step(self, session, actor=actor, scope=scope, now=self.clock.now(), report=part)
            step.preload(ids)
            for node_id, target, history in self._targets(session, scope, ids):
                node = step.node(node_id)
                if node is None:
                    continue
                if new:
                    step.trash_new(node, target)
                elif not step.apply(node, target, history, last=last):
                    waiting.append(node_id)
            step.settle()
            if outer is not None:
                session.flush()
                session.expunge_all()  # bounded memory over a whole dry run
            elif part.changed:
                action, target_ids = audit
                self._record(session, actor, action, target_ids, details=part.counts())
        return part, waiting

    def _targets(
        self, session: Session, scope: _Scope, ids: list[str]
    ) -> Iterator[tuple[str, _Place | None, list[NodeHistory]]]:
        """(node id, its place at the instant or None when unchanged, its history rows
        from the instant on) for each id."""
        rows: dict[str, list[NodeHistory]] = {i: [] for i in ids}
        query = (
            select(NodeHistory)
            .where(NodeHistory.node_id.in_(ids), NodeHistory.at >= scope.since)
            .order_by(NodeHistory.node_id, NodeHistory.at)
        )
        for row in session.scalars(query):
            if scope.incident or row.at > scope.since:
                rows[row.node_id].append(row)
        for node_id in ids:
            history = rows[node_id]
            target: _Place | None = None
            if scope.incident:
                own = [
                    r
                    for r in history
                    if r.changed_by == scope.user_id
                    and not r.by_restore
                    and r.change != CREATE
                    and (scope.until is None or r.at <= scope.until)
                ]
                if own:
                    target = _place_before(own[0])
            elif history:
                target = _place_before(history[0])
            yield node_id, target, history


class _Step:
    """One batch's changes, in its transaction."""

    def __init__(
        self,
        svc: RollbackService,
        session: Session,
        *,
        actor: Principal,
        scope: _Scope,
        now: dt.datetime,
        report: RollbackReport,
    ) -> None:
        self.svc = svc
        self.session = session
        self.actor = actor
        self.scope = scope
        self.now = now
        self.report = report
        self.tree = svc.tree
        self._spaces: dict[str, Space] = {}
        self._live: dict[str, bool] = {}
        #: Per file: its version at the instant, and its highest version number.
        self._old: dict[str, Version] = {}
        self._highest: dict[str, int] = {}
        #: Usage changes per space, applied once per batch.
        self._charges: dict[str, int] = {}
        self._held: list[object] = []
        self._key_ids: dict[str, list[str]] = {}

    def preload(self, ids: list[str]) -> None:
        """The batch's nodes and versions in a few queries (not a few per node)."""
        session = self.session
        # Locked (PostgreSQL; SQLite holds its write lock) so that a concurrent write
        # waits for this batch, as writers lock the node they change. Held here:
        # the identity map only keeps weak references.
        nodes = list(
            session.scalars(
                select(Node)
                .where(Node.id.in_(ids))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
        self._held += nodes
        files = [n.id for n in nodes if n.kind == FILE]
        current = [n.current_version_id for n in nodes if n.current_version_id]
        if current:
            self._held += session.scalars(select(Version).where(Version.id.in_(current)))
        trashed = [n.trash_id for n in nodes if n.trash_id]
        if trashed:
            self._held += session.scalars(select(TrashItem).where(TrashItem.id.in_(trashed)))
        if not files:
            return
        made = (
            Version.created_at <= self.scope.since
            if self.scope.inclusive
            else (Version.created_at < self.scope.since)
        )
        for version in session.scalars(
            select(Version)
            .where(Version.node_id.in_(files), made)
            .order_by(Version.node_id, Version.number.desc())
        ):
            self._old.setdefault(version.node_id, version)
        highest = session.execute(
            select(Version.node_id, func.max(Version.number).label("highest"))
            .where(Version.node_id.in_(files))
            .group_by(Version.node_id)
        )
        self._highest = {row.node_id: row.highest for row in highest}

    def charge(self, space_id: str, delta: int) -> None:
        self._charges[space_id] = self._charges.get(space_id, 0) + delta

    def settle(self) -> None:
        for space_id, delta in self._charges.items():
            _charge(self.session, space_id, delta)
        self._charges = {}

    def get(self, model: type[_Row], key: str | None) -> _Row | None:
        """`session.get`, holding what it loads for the batch (the identity map keeps
        weak references only), without flushing pending changes first."""
        if key is None:
            return None
        with self.session.no_autoflush:
            row = self.session.get(model, key)
        if row is not None:
            self._held.append(row)
        return row

    def node(self, node_id: str) -> Node | None:
        return self.get(Node, node_id)

    def occupant(self, space: Space, parent_id: str, name: str) -> Node | None:
        """The node named `name` in folder `parent_id` (blind indexes under each active
        key, as `Tree.child`), without flushing: the batch's own changes never put two
        items in one place (they restore places that were each held by one)."""
        if space.id not in self._key_ids:
            self._key_ids[space.id] = self.svc.ctx.keyring.active_key_ids(self.session, space.id)
        keyring = self.svc.ctx.keyring
        indexes = [
            keyring.names(self.session, k).index(parent_id, name) for k in self._key_ids[space.id]
        ]
        with self.session.no_autoflush:
            return self.session.scalars(
                select(Node).where(Node.parent_id == parent_id, Node.name_index.in_(indexes))
            ).first()

    def space(self, space_id: str) -> Space:
        if space_id not in self._spaces:
            space = self.get(Space, space_id)
            if space is None:  # pragma: no cover - foreign key
                raise not_found()
            self._spaces[space_id] = space
        return self._spaces[space_id]

    def conflict(self, node: Node, reason: str) -> None:
        self.report.conflicts.append(RollbackConflict(node.space_id, node.id, reason))

    def is_live(self, node_id: str) -> bool:
        """Whether the node hangs from its space's root (not in the trash), walking up
        through the session's identity map and a per-batch cache."""
        path: list[str] = []
        live = False
        current: str | None = node_id
        while current is not None:
            if current in self._live:
                live = self._live[current]
                break
            node = self.get(Node, current)
            if node is None:
                break
            path.append(current)
            if node.parent_id is None:
                live = current == self.space(node.space_id).root_node_id
                break
            current = node.parent_id
        for i in path:
            self._live[i] = live
        return live

    def _ancestors(self, node_id: str) -> set[str]:
        """The node and its ancestors (through the identity map)."""
        seen: set[str] = set()
        current: str | None = node_id
        while current is not None and current not in seen:
            seen.add(current)
            node = self.get(Node, current)
            current = node.parent_id if node is not None else None
        return seen

    def in_scope(self, node: Node, target: _Place | None) -> bool:
        folder = self.scope.folder_ids
        if folder is None:
            return True
        if node.id in folder or node.parent_id in folder:
            return True
        if target is not None and target.parent_id in folder:
            return True
        if node.trash_id is not None:
            item = self.get(TrashItem, node.trash_id)
            return item is not None and item.original_parent_id in folder
        return False

    # Applying ------------------------------------------------------------------

    def apply(
        self, node: Node, target: _Place | None, history: list[NodeHistory], *, last: bool
    ) -> bool:
        """Bring `node` to its target; False when it must wait for another item."""
        if not self.in_scope(node, target):
            return True
        if self.absent(node, target):
            return True  # point in time: trashed in the last pass
        conflicts = len(self.report.conflicts)
        changed = False
        if target is not None and target.state == "trash":
            changed |= self._content(node)
            if self._to_trash(node):
                self.report.trashed += 1
                changed = True
        else:
            if target is not None:
                moved = self._to_place(node, target, history, last=last)
                if moved is None:
                    return False
                changed |= moved
            changed |= self._content(node)
        if not changed and len(self.report.conflicts) == conflicts:
            self.report.skipped += 1
        return True

    def absent(self, node: Node, target: _Place | None) -> bool:
        """Point in time: the node did not exist at the instant."""
        if self.scope.incident:
            return False
        if target is not None:
            return target.state == "absent"
        return node.created_at > self.scope.since

    def _to_place(  # noqa: PLR0911 - one return per obstacle, in checking order
        self, node: Node, target: _Place, history: list[NodeHistory], *, last: bool
    ) -> bool | None:
        """True: moved or undeleted; False: already there or a conflict; None: wait."""
        assert target.parent_id is not None  # noqa: S101 - a live place has a parent
        session = self.session
        name = self.tree.open_name(session, target.name_key_id, node.id, target.name_enc)
        here = (
            node.trash_id is None
            and node.parent_id == target.parent_id
            and self.tree.name_of(session, node) == name
        )
        if here:
            return False
        if self.scope.incident and _changed_by_others(history, self.scope):
            self.conflict(node, "moved-since")
            return False
        space = self.space(node.space_id)
        parent = self.get(Node, target.parent_id)
        if (
            parent is None
            or parent.kind != FOLDER
            or not self.is_live(parent.id)
            or (node.kind == FOLDER and node.id in self._ancestors(parent.id))  # moves first
        ):
            if last:
                self.conflict(node, "folder-gone")
                return False
            return None
        occupant = self.occupant(space, parent.id, name)
        if occupant is not None and occupant.id != node.id:
            if not self.scope.incident and occupant.created_at > self.scope.since:
                # Point in time: it did not exist then; it goes to the trash now.
                if self._to_trash(occupant):
                    self.report.trashed += 1
            elif last:
                self.conflict(node, "name-taken")
                return False
            else:
                return None
        undelete = node.trash_id is not None
        if undelete:
            item = self.get(TrashItem, node.trash_id)
            record_place(
                session, node, UNDELETE, by=self.actor.user_id, at=self.now, by_restore=True
            )
            node.trash_id = None
            if item is not None:
                session.delete(item)
                self.charge(space.id, item.size_bytes)
            self.report.undeleted += 1
        else:
            record_place(session, node, MOVE, by=self.actor.user_id, at=self.now, by_restore=True)
            self.report.renamed_back += 1
        sealed = self.tree.seal(session, space, node.id, parent.id, name)
        node.parent_id = parent.id
        node.name_enc = sealed.name_enc
        node.name_index = sealed.name_index
        node.name_key_id = sealed.key_id
        node.updated_at = self.now
        # Under a live folder now: it and what it holds are live; what was
        # known not to be may have changed.
        self._live = {k: v for k, v in self._live.items() if v}
        self._live[node.id] = True
        return True

    def _content(self, node: Node) -> bool:
        """Make the version of the instant current again (a new version)."""
        if node.kind != FILE:
            return False
        session = self.session
        scope = self.scope
        old = self._old.get(node.id)
        current = self.get(Version, node.current_version_id)
        if old is None:
            # Made at `since` exactly: before it for a point in time, part of the
            # attack for an incident (whose scope starts with that instant).
            existed = node.created_at < scope.since or (
                scope.inclusive and node.created_at == scope.since
            )
            if existed and current is not None:
                self.conflict(node, "version-purged")
            return False
        if current is not None and current.content_id == old.content_id:
            return False
        if scope.incident and current is not None and current.created_by != scope.user_id:
            self.conflict(node, "changed-since")
            return False
        if current is not None:
            current.superseded_at = self.now
        version = Version(
            id=new_id(),
            node_id=node.id,
            number=self._next_number(node.id),
            content_id=old.content_id,
            size=old.size,
            created_at=self.now,
            created_by=self.actor.user_id,
            retain_days=self.svc.ctx.settings.protection_days,
            restored_from=old.id,
        )
        session.add(version)
        node.current_version_id = version.id
        node.updated_at = self.now
        if self.is_live(node.id):
            self.charge(node.space_id, old.size - (current.size if current else 0))
        self.report.restored += 1
        return True

    def _next_number(self, node_id: str) -> int:
        if node_id not in self._highest:
            self._highest[node_id] = next_version_number(self.session, node_id) - 1
        self._highest[node_id] += 1
        return self._highest[node_id]

    def trash_new(self, node: Node, target: _Place | None) -> None:
        if not self.absent(node, target) or not self.in_scope(node, target):
            return
        if node.trash_id is not None or not self.is_live(node.id):
            return
        parent = self.get(Node, node.parent_id)
        if parent is not None and parent.created_at > self.scope.since:
            return  # goes with its folder
        if self._to_trash(node):
            self.report.trashed += 1

    def _to_trash(self, node: Node) -> bool:
        """Move a live node (and what it holds) to the trash, as a delete would."""
        session = self.session
        if node.trash_id is not None or not self.is_live(node.id):
            return False
        space = self.space(node.space_id)
        size, retain = session.execute(
            select(func.coalesce(func.sum(Version.size), 0), func.max(Version.retain_days))
            .join(Node, Node.current_version_id == Version.id)
            .where(Node.id.in_(self.tree.subtree(node.id)))
        ).one()
        days = max(self.svc.ctx.settings.protection_days, retain or 0)
        item = TrashItem(
            id=new_id(),
            space_id=space.id,
            node_id=node.id,
            original_parent_id=node.parent_id or space.root_node_id,
            deleted_at=self.now,
            deleted_by=self.actor.user_id,
            protected_until=self.now + dt.timedelta(days=days),
            size_bytes=int(size),
        )
        session.add(item)
        session.flush()
        record_place(session, node, DELETE, by=self.actor.user_id, at=self.now, by_restore=True)
        node.parent_id = None
        node.trash_id = item.id
        node.updated_at = self.now
        self.charge(space.id, -int(size))
        session.flush()
        self._live = {}
        return True


def _changed_by_others(history: list[NodeHistory], scope: _Scope) -> bool:
    """Whether someone else moved or deleted the node after the user's last change."""
    own = [i for i, r in enumerate(history) if r.changed_by == scope.user_id and not r.by_restore]
    if not own:
        return False
    return any(r.changed_by != scope.user_id and not r.by_restore for r in history[own[-1] + 1 :])


def _charge(session: Session, space_id: str, delta: int) -> None:
    """Usage follows the roll-back without a quota check: putting files back must
    not fail because an attacker filled the space (ADR 24)."""
    if delta:
        session.execute(
            update(Space)
            .where(Space.id == space_id)
            .values(used_bytes=Space.used_bytes + delta)
            .execution_options(synchronize_session=False)
        )


def _window_start(session: Session, incident: RansomwareIncident) -> dt.datetime:
    """The instant of the first suspicious action itself.

    `first_suspicious_at` is when the detector scored it, a moment after the
    version or history row it judged was stamped in the same transaction.
    """
    start = incident.first_suspicious_at
    first = session.scalars(
        select(RansomwareEvent)
        .where(
            RansomwareEvent.incident_id == incident.id,
            (RansomwareEvent.weight > 0) | (RansomwareEvent.kind == "canary"),
        )
        .order_by(RansomwareEvent.at)
        .limit(1)
    ).first()
    if first is None:
        return start
    stamped: dt.datetime | None = None
    if first.version_id is not None:
        version = session.get(Version, first.version_id)
        stamped = version.created_at if version is not None else None
    else:
        stamped = session.scalar(
            select(func.max(NodeHistory.at)).where(
                NodeHistory.node_id == first.node_id,
                NodeHistory.changed_by == incident.user_id,
                NodeHistory.at <= first.at,
            )
        )
    return min(start, stamped) if stamped is not None else start


def _batches(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def report_dict(report: RollbackReport, *, with_trashed: bool) -> dict[str, Any]:
    """The JSON answer of the API and the CLI (docs/api.md)."""
    value: dict[str, Any] = {
        "restored": report.restored,
        "undeleted": report.undeleted,
        "renamed_back": report.renamed_back,
    }
    if with_trashed:
        value["trashed"] = report.trashed
    value["skipped"] = report.skipped
    value["conflicts"] = [
        {"space_id": c.space_id, "node_id": c.node_id, "reason": c.reason} for c in report.conflicts
    ]
    return value
