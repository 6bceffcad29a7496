"""From audit events to notifications: who is told what (ADR 26).

Every change is recorded in the audit log in its own transaction, so the log
is the complete, ordered list of what happened. `Deriver.run_pass` follows
it with a durable cursor (the `notifications` row of `audit_cursors`): for
each sequenced event it finds the people to tell, drops the person who acted,
checks through the access policy that each one may still read the item
(someone who lost access is told nothing), writes their notification rows,
the immediate mail into the outbox, and moves the cursor, all in **one**
transaction: a crash anywhere leaves either all of it or none of it, so an
event is notified exactly once and its mail enqueued once (its idempotency
key names the event).

Which events notify (the action names of `AuditAction`, outcome `allowed`):

| event | kind | who |
| --- | --- | --- |
| `file.write`, first version | file_added | followers of a folder above the file |
| `file.write`, later version; `version.restore` | file_updated | same |
| `node.delete` | deleted | followers above where it was, or of what was deleted |
| `grant.add` | shared | the user given the role, or the group's members |
| `link.open` | link_opened | the link's creator |
| `filerequest.upload` | request_received | the request's creator and the followers |
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from egide.core.clock import Clock
from egide.core.db import Database
from egide.core.db.base import new_id
from egide.core.db.models import (
    AuditCursor,
    AuditEvent,
    Follow,
    Grant,
    GroupMember,
    Node,
    Notification,
    NotifyPreference,
    Space,
    TrashItem,
    User,
)
from egide.core.db.models.sharing import ShareLink
from egide.services.access.grants import effective_role
from egide.services.access.policy import Action, Decision, Principal, SpaceRole, decide
from egide.services.accounts.records import load_principal
from egide.services.audit.actions import AuditAction
from egide.services.mail import templates as mail_templates
from egide.services.mail.errors import InvalidMailAddress
from egide.services.mail.outbox import Outbox
from egide.services.notifications import templates
from egide.services.sharing.common import display_name
from egide.services.vault.tree import FILE, Tree

#: The row of `audit_cursors` this worker moves.
CURSOR: Final = "notifications"
#: Events per pass: one transaction.
BATCH: Final = 500
#: The PostgreSQL advisory lock of a pass: "EgideNtf" as a big-endian int64.
LOCK: Final = int.from_bytes(b"EgideNtf", "big") & 0x7FFF_FFFF_FFFF_FFFF
#: The upload through a file request (issue 7 item 3), consumed by its name.
FILE_REQUEST_UPLOAD: Final = "filerequest.upload"

DELIVERIES: Final = ("immediate", "hourly", "daily", "off")
DEFAULT_DELIVERY: Final = "immediate"


@dataclass
class _Pending:
    """What one pass is writing for one user."""

    rows: list[Notification] = field(default_factory=list)
    first_event: str = ""


@dataclass
class _Pass:
    """What one pass reads once and reuses for every event of its batch."""

    #: user id -> principal as of now (None: gone or disabled).
    principals: dict[str, Principal | None] = field(default_factory=dict)
    #: node id -> the node and its ancestors, up to the root (or the trash top).
    ancestors: dict[str, list[str]] = field(default_factory=dict)
    #: Versions written by a file request's upload (told as such, not as file.write).
    request_versions: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class PassReport:
    events: int
    notifications: int
    mails: int


class Deriver:
    """Derives notifications from the audit log and mails the immediate ones."""

    def __init__(
        self,
        db: Database,
        tree: Tree,
        outbox: Outbox,
        *,
        clock: Clock,
        public_url: str,
        language: str,
        batch: int = BATCH,
    ) -> None:
        self.db = db
        self.tree = tree
        self.outbox = outbox
        self.clock = clock
        self.public_url = public_url
        self.language = language
        self.batch = batch

    # The pass -------------------------------------------------------------

    def run_pass(self) -> PassReport:
        """Notify the next batch of sequenced events, in one transaction."""
        with self.db.write() as session:
            if (
                not self.db.is_sqlite
                and not session.execute(
                    text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": LOCK}
                ).scalar_one()
            ):
                return PassReport(0, 0, 0)  # another process is at it
            cursor = session.get(AuditCursor, CURSOR)
            start = 0 if cursor is None else int(cursor.next_seq)
            events = list(
                session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.seq >= start)
                    .order_by(AuditEvent.seq)
                    .limit(self.batch)
                )
            )
            events = _contiguous(events)
            if not events:
                return PassReport(0, 0, 0)
            now = self.clock.now()
            pending: dict[str, _Pending] = {}
            cache = _Pass(request_versions=_request_versions(session, events))
            written = 0
            for event in events:
                for user_id, kind, node_id in self._recipients(session, event, cache):
                    row = Notification(
                        id=new_id(),
                        user_id=user_id,
                        kind=kind,
                        event_id=event.id,
                        seq=int(event.seq or 0),
                        space_id=event.space_id,
                        node_id=node_id,
                        actor_id=event.user_id,
                        created_at=now,
                    )
                    session.add(row)
                    written += 1
                    slot = pending.setdefault(user_id, _Pending(first_event=event.id))
                    slot.rows.append(row)
            session.flush()
            mails = self._immediate(session, pending, now)
            end = int(events[-1].seq or 0) + 1
            if cursor is None:
                session.add(AuditCursor(name=CURSOR, next_seq=end, updated_at=now))
            else:
                cursor.next_seq = end
                cursor.updated_at = now
            return PassReport(len(events), written, mails)

    def run_pending(self, max_passes: int = 1000) -> int:
        """Passes until the log is caught up; how many notifications were written."""
        total = 0
        for _ in range(max_passes):
            report = self.run_pass()
            total += report.notifications
            if report.events < self.batch:
                break
        return total

    # Who is told ----------------------------------------------------------

    def _recipients(
        self, session: Session, event: AuditEvent, cache: _Pass
    ) -> list[tuple[str, str, str]]:
        """(user id, kind, node id) for each person `event` notifies, access checked."""
        if event.outcome != "allowed":
            return []
        target: dict[str, Any] = json.loads(event.target)
        node_id = target.get("node")
        if not isinstance(node_id, str):
            return []
        found = self._candidates(session, event, target, node_id, cache)
        # The person who acted is not told of their own change.
        found.pop(event.user_id or "", None)
        by_node: dict[str, list[str]] = {}
        for user_id, (_, checked) in found.items():
            by_node.setdefault(checked, []).append(user_id)
        allowed: set[str] = set()
        for checked, user_ids in by_node.items():
            allowed |= self._readers(session, checked, user_ids, cache)
        return [(user_id, found[user_id][0], node_id) for user_id in found if user_id in allowed]

    def _candidates(
        self,
        session: Session,
        event: AuditEvent,
        target: dict[str, Any],
        node_id: str,
        cache: _Pass,
    ) -> dict[str, tuple[str, str]]:
        """user -> (kind, the node whose access decides), before the access check."""
        action = event.action
        found: dict[str, tuple[str, str]] = {}
        if action in (AuditAction.FILE_WRITE, AuditAction.VERSION_RESTORE):
            if target.get("version") in cache.request_versions:
                return {}  # told once, as the request's upload (below)
            details: dict[str, Any] = json.loads(event.details)
            first = action == AuditAction.FILE_WRITE and details.get("number") == 1
            kind = "file_added" if first else "file_updated"
            found = dict.fromkeys(self._followers(session, node_id, cache), (kind, node_id))
        elif action == AuditAction.NODE_DELETE:
            parent = self._original_parent(session, target)
            if parent is not None:
                # Those who follow where it was, or the deleted folder itself (or a
                # folder inside it); all judged on where it was, the trashed subtree
                # inheriting nothing.
                followers = self._followers(session, parent, cache)
                inside = session.scalars(
                    select(Follow.user_id).where(Follow.node_id.in_(Tree.subtree(node_id)))
                )
                found = dict.fromkeys([*followers, *inside], ("deleted", parent))
        elif action == AuditAction.GRANT_ADD:
            found = dict.fromkeys(self._grantees(session, target), ("shared", node_id))
        elif action in (AuditAction.LINK_OPEN, FILE_REQUEST_UPLOAD):
            kind = "link_opened" if action == AuditAction.LINK_OPEN else "request_received"
            if action == FILE_REQUEST_UPLOAD:
                found = dict.fromkeys(self._followers(session, node_id, cache), (kind, node_id))
            creator = self._link_creator(session, target)
            if creator is not None:
                found[creator] = (kind, node_id)
        return found

    def may_read(self, session: Session, user_id: str, node_id: str) -> bool:
        """Whether the user may still see `node_id` now, by the access policy."""
        user = session.get(User, user_id)
        node = session.get(Node, node_id)
        if user is None or user.is_disabled or node is None:
            return False
        principal = load_principal(session, user)
        action = Action.FILE_READ if node.kind == FILE else Action.FOLDER_LIST
        role = effective_role(session, principal, node_id)
        return decide(principal, action, role) is Decision.ALLOW

    def _readers(
        self,
        session: Session,
        node_id: str,
        user_ids: list[str],
        cache: _Pass,
    ) -> set[str]:
        """Those of `user_ids` who may see `node_id` now, by the access policy.

        `may_read` for many users at once: the roles are those of
        `grants.effective_role` (the highest held on the node or a folder above
        it, by the user or one of their groups), read with one query for all;
        the decision is the policy's (`decide`). Principals are loaded once a pass.
        """
        node = session.get(Node, node_id)
        if node is None or not user_ids:
            return set()
        ancestors = _ancestors(session, node_id, cache.ancestors)
        held = session.execute(
            select(Grant.principal_kind, Grant.principal_id, Grant.role).where(
                Grant.node_id.in_(ancestors)
            )
        ).all()
        action = Action.FILE_READ if node.kind == FILE else Action.FOLDER_LIST
        readers = set()
        for user_id in user_ids:
            if user_id not in cache.principals:
                user = session.get(User, user_id)
                ok = user is not None and not user.is_disabled
                cache.principals[user_id] = load_principal(session, user) if ok and user else None
            principal = cache.principals[user_id]
            if principal is None:
                continue
            roles = [
                SpaceRole.parse(role)
                for kind, holder, role in held
                if (kind == "user" and holder == user_id)
                or (kind == "group" and holder in principal.group_ids)
            ]
            role = max((r for r in roles if r is not None), default=None)
            if decide(principal, action, role) is Decision.ALLOW:
                readers.add(user_id)
        return readers

    @staticmethod
    def _followers(session: Session, node_id: str, cache: _Pass) -> list[str]:
        ancestors = _ancestors(session, node_id, cache.ancestors)
        return list(
            session.scalars(select(Follow.user_id).where(Follow.node_id.in_(ancestors)).distinct())
        )

    @staticmethod
    def _original_parent(session: Session, target: dict[str, Any]) -> str | None:
        trash = target.get("trash")
        item = session.get(TrashItem, trash) if isinstance(trash, str) else None
        return None if item is None else item.original_parent_id

    @staticmethod
    def _grantees(session: Session, target: dict[str, Any]) -> Iterable[str]:
        user = target.get("user")
        if isinstance(user, str):
            return [user]
        group = target.get("group")
        if isinstance(group, str):
            return list(
                session.scalars(select(GroupMember.user_id).where(GroupMember.group_id == group))
            )
        return []

    @staticmethod
    def _link_creator(session: Session, target: dict[str, Any]) -> str | None:
        link_id = target.get("link")
        link = session.get(ShareLink, link_id) if isinstance(link_id, str) else None
        return None if link is None else link.created_by

    # Immediate mail -------------------------------------------------------

    def _immediate(self, session: Session, pending: dict[str, _Pending], now: dt.datetime) -> int:
        """One mail per user who wants mail at once, for all of this pass's events."""
        if not pending:
            return 0
        prefs = {
            p.user_id: p
            for p in session.scalars(
                select(NotifyPreference).where(NotifyPreference.user_id.in_(list(pending)))
            )
        }
        mails = 0
        for user_id, slot in pending.items():
            pref = prefs.get(user_id)
            if (pref.email if pref else DEFAULT_DELIVERY) != "immediate":
                continue
            privacy = True if pref is None else pref.privacy
            user = session.get(User, user_id)
            if user is None or not user.email:
                continue
            language = self.language_of(user)
            items = [self.mail_item(session, row, privacy) for row in slot.rows]
            if self.enqueue(
                session,
                user,
                language,
                items,
                key=f"notify.{user_id}.{slot.first_event}",
                privacy=privacy,
            ):
                mails += 1
            for row in slot.rows:
                row.mailed_at = now
        return mails

    def language_of(self, user: User) -> str:
        if user.language in mail_templates.LANGUAGES:
            return str(user.language)
        return self.language if self.language in mail_templates.LANGUAGES else "fr"

    def mail_item(self, session: Session, row: Notification, privacy: bool) -> templates.Item:
        """What a mail may say of one notification: its kind only, in privacy mode."""
        if privacy or row.node_id is None:
            return templates.Item(row.kind)
        where = self.where(session, row.user_id, row.kind, row.node_id)
        if where is None:
            return templates.Item(row.kind)
        return templates.Item(row.kind, where=where, actor=display_name(session, row.actor_id))

    def where(self, session: Session, user_id: str, kind: str, node_id: str) -> str | None:
        """`space/path` of the item for a reader who may still see it; None otherwise."""
        node = session.get(Node, node_id)
        if node is None:
            return None
        if kind == "deleted":
            item = session.scalars(
                select(TrashItem)
                .where(TrashItem.node_id == node_id)
                .order_by(TrashItem.deleted_at.desc())
            ).first()
            if item is None:
                return None
            parent = session.get(Node, item.original_parent_id)
            if parent is None or not self.may_read(session, user_id, parent.id):
                return None
            base = self._path(session, parent)
            return None if base is None else f"{base}/{self.tree.name_of(session, node)}"
        if not self.may_read(session, user_id, node_id):
            return None
        return self._path(session, node)

    def _path(self, session: Session, node: Node) -> str | None:
        space = session.get(Space, node.space_id)
        if space is None:
            return None
        segments = self.tree.path_of(session, space, node)
        if segments is None:
            return None
        return "/".join([space.slug, *segments])

    def enqueue(
        self,
        session: Session,
        user: User,
        language: str,
        items: list[templates.Item],
        *,
        key: str,
        privacy: bool,
        digest: str | None = None,
    ) -> bool:
        rendered = templates.render(
            language, items, url=self.public_url, privacy=privacy, digest=digest
        )
        try:
            return self.outbox.enqueue(
                session,
                idempotency_key=key,
                recipient=user.email or "",
                kind="notification" if digest is None else "notification-digest",
                subject=rendered.subject,
                body_text=rendered.body_text,
                user_id=user.id,
                language=language,
            )
        except InvalidMailAddress:
            return False  # an address mail cannot take: the in-app list still has it


def _contiguous(events: list[AuditEvent]) -> list[AuditEvent]:
    """The events up to the first gap in `seq` (an archived range is skipped at the start)."""
    run: list[AuditEvent] = []
    for event in events:
        if run and event.seq != (run[-1].seq or 0) + 1:
            break
        run.append(event)
    return run


def _request_versions(session: Session, events: list[AuditEvent]) -> set[str]:
    """The versions of this batch's writes that a file request's upload made.

    Such an upload is two entries: `file.write` (acting as the request's
    creator, ADR 25) and `filerequest.upload`; it is told once, as the latter.
    """
    nodes = {e.node_id for e in events if e.action == AuditAction.FILE_WRITE and e.node_id}
    if not nodes:
        return set()
    targets = session.scalars(
        select(AuditEvent.target).where(
            AuditEvent.node_id.in_(nodes), AuditEvent.action == FILE_REQUEST_UPLOAD
        )
    )
    versions = (json.loads(target).get("version") for target in targets)
    return {version for version in versions if isinstance(version, str)}


#: Folders deeper than this are a corrupt tree (a cycle), not a real one.
_MAX_DEPTH: Final = 10_000


def _ancestors(session: Session, node_id: str, cache: dict[str, list[str]]) -> list[str]:
    """The node and its ancestors up to the top (`Tree.ancestor_ids`), through the
    session's identity map and a per-pass cache: files of one folder share its walk."""
    chain: list[str] = []
    current: str | None = node_id
    while current is not None and current not in cache and len(chain) < _MAX_DEPTH:
        node = session.get(Node, current)
        if node is None:
            break
        chain.append(current)
        current = node.parent_id
    tail = cache.get(current, []) if current is not None else []
    for depth, nid in enumerate(chain):
        cache[nid] = chain[depth:] + tail
    return cache.get(node_id, [])
