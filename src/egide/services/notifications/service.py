"""NotificationService: what a user does with notifications (issue 7 item 5).

- follow or stop following a folder or a whole space (empty path): allowed
  to whoever may list the folder (`folder.list`, by the access policy), and
  audited (`notify.follow`, `notify.unfollow`);
- the in-app list, newest first, and marking items read;
- the e-mail preferences (`notify.preferences`): delivery `immediate`,
  `hourly`, `daily` or `off`, and the privacy mode (on by default).

The rows themselves are written by the worker (`derive.py`, `digest.py`).
Names and paths are never stored with a notification: they are computed
when the list is read, and only for items the reader may still see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update

from egide.core.db.models import Follow, Node, Notification, NotifyPreference, Space, User
from egide.core.errors import InvalidInput
from egide.services.access.policy import Action, Principal
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.notifications.derive import DEFAULT_DELIVERY, DELIVERIES, Deriver
from egide.services.notifications.digest import Digests
from egide.services.notifications.errors import CannotFollowFile, InvalidDelivery
from egide.services.sharing.common import display_name
from egide.services.vault.base import VaultContext, VaultServiceBase
from egide.services.vault.names import join_path, split_path
from egide.services.vault.tree import FILE

#: Notifications one page holds, at most.
MAX_PAGE = 200
#: Ids one "mark read" call takes, at most.
MAX_MARK = 1000


class UsersOnly(InvalidInput):
    code = "notify-users-only"

    def __init__(self) -> None:
        super().__init__(
            "Notifications belong to a user: sign in as one (the local system account has none)."
        )


@dataclass(frozen=True)
class FollowInfo:
    space: str
    #: The folder's path in the space; "" for the whole space.
    path: str
    created_at: dt.datetime


@dataclass(frozen=True)
class NotificationInfo:
    id: str
    kind: str
    created_at: dt.datetime
    read: bool
    #: The space's slug and the item's path, when the reader may still see it.
    space: str | None
    path: str | None
    actor: str | None


@dataclass(frozen=True)
class NotificationPage:
    items: list[NotificationInfo]
    unread: int
    next_offset: int | None


@dataclass(frozen=True)
class Preferences:
    email: str
    privacy: bool
    #: Whether the account has an e-mail address (no address: no mail).
    has_address: bool


class NotificationService(VaultServiceBase):
    def __init__(self, ctx: VaultContext, deriver: Deriver, digests: Digests) -> None:
        super().__init__(ctx)
        self.deriver = deriver
        self.digests = digests

    # Follows -------------------------------------------------------------------

    @records_denials
    def follow(self, actor: Principal, slug: str, path: str = "") -> FollowInfo:
        """Follow a folder (or the space, for an empty path); following twice is no change."""
        user_id = _user(actor)
        with self.db.write() as session:
            space = self._space(session, slug)
            segments = split_path(path)
            node, role = self._locate_with_role(session, actor, space, segments, Action.FOLDER_LIST)
            if node.kind == FILE:
                raise CannotFollowFile()
            row = session.scalars(
                select(Follow).where(Follow.user_id == user_id, Follow.node_id == node.id)
            ).one_or_none()
            if row is None:
                row = Follow(
                    user_id=user_id, space_id=space.id, node_id=node.id, created_at=self.clock.now()
                )
                session.add(row)
                self._record(
                    session,
                    actor,
                    AuditAction.NOTIFY_FOLLOW,
                    {"space": space.id, "node": node.id},
                    path=join_path(segments),
                    role=role,
                )
            return FollowInfo(space=space.slug, path=join_path(segments), created_at=row.created_at)

    @records_denials
    def unfollow(self, actor: Principal, slug: str, path: str = "") -> bool:
        """Stop following; False when the caller did not follow it. Works even after
        losing access to the folder (one may always stop being told)."""
        user_id = _user(actor)
        with self.db.write() as session:
            space = self._space(session, slug)
            segments = split_path(path)
            node, rest = self.tree.resolve_deepest(session, space, segments)
            row = None
            if not rest:
                row = session.scalars(
                    select(Follow).where(Follow.user_id == user_id, Follow.node_id == node.id)
                ).one_or_none()
            if row is None:
                return False
            session.delete(row)
            self._record(
                session,
                actor,
                AuditAction.NOTIFY_UNFOLLOW,
                {"space": space.id, "node": node.id},
                path=join_path(segments),
            )
            return True

    def follows(self, actor: Principal) -> list[FollowInfo]:
        """What I follow and may still see, newest first."""
        user_id = _user(actor)
        with self.db.read() as session:
            rows = session.execute(
                select(Follow, Node, Space)
                .join(Node, Node.id == Follow.node_id)
                .join(Space, Space.id == Follow.space_id)
                .where(Follow.user_id == user_id)
                .order_by(Follow.created_at.desc(), Follow.id)
            ).all()
            result = []
            for follow, node, space in rows:
                if not self.deriver.may_read(session, user_id, node.id):
                    continue
                segments = self.tree.path_of(session, space, node)
                if segments is None:
                    continue  # in the trash
                result.append(
                    FollowInfo(
                        space=space.slug, path=join_path(segments), created_at=follow.created_at
                    )
                )
            return result

    # The in-app list -----------------------------------------------------------

    def notifications(
        self, actor: Principal, *, unread_only: bool = False, offset: int = 0, limit: int = 50
    ) -> NotificationPage:
        """My notifications, newest first, with the count of unread ones."""
        user_id = _user(actor)
        limit = max(1, min(limit, MAX_PAGE))
        with self.db.read() as session:
            query = select(Notification).where(Notification.user_id == user_id)
            if unread_only:
                query = query.where(Notification.read_at.is_(None))
            rows = list(
                session.scalars(
                    query.order_by(Notification.seq.desc(), Notification.id)
                    .offset(max(0, offset))
                    .limit(limit + 1)
                )
            )
            unread = session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            )
            items = []
            for row in rows[:limit]:
                where = (
                    None
                    if row.node_id is None
                    else self.deriver.where(session, user_id, row.kind, row.node_id)
                )
                space, _, path = (where or "").partition("/")
                items.append(
                    NotificationInfo(
                        id=row.id,
                        kind=row.kind,
                        created_at=row.created_at,
                        read=row.read_at is not None,
                        space=space or None,
                        path="/" + path if where else None,
                        actor=(
                            display_name(session, row.actor_id) if where and row.actor_id else None
                        ),
                    )
                )
            more = len(rows) > limit
            return NotificationPage(
                items=items, unread=int(unread or 0), next_offset=offset + limit if more else None
            )

    def mark_read(self, actor: Principal, ids: Sequence[str] | None = None) -> int:
        """Mark my notifications read (`ids`, or all when None); how many changed."""
        user_id = _user(actor)
        if ids is not None and len(ids) > MAX_MARK:
            raise InvalidInput(
                "Mark at most {n} notifications read at once, or all of them.",
                field="ids",
                n=MAX_MARK,
            )
        with self.db.write() as session:
            stmt = update(Notification).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
            if ids is not None:
                stmt = stmt.where(Notification.id.in_(list(ids)))
            result = session.execute(
                stmt.values(read_at=self.clock.now()).execution_options(synchronize_session=False)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    # Preferences ---------------------------------------------------------------

    def preferences(self, actor: Principal) -> Preferences:
        user_id = _user(actor)
        with self.db.read() as session:
            pref = session.get(NotifyPreference, user_id)
            user = session.get(User, user_id)
            return Preferences(
                email=pref.email if pref else DEFAULT_DELIVERY,
                privacy=pref.privacy if pref else True,
                has_address=bool(user and user.email),
            )

    def set_preferences(
        self, actor: Principal, *, email: str | None = None, privacy: bool | None = None
    ) -> Preferences:
        """Change my delivery and privacy mode; a digest covers what follows the change."""
        user_id = _user(actor)
        if email is not None and email not in DELIVERIES:
            raise InvalidDelivery()
        with self.db.write() as session:
            now = self.clock.now()
            pref = session.get(NotifyPreference, user_id)
            if pref is None:
                pref = NotifyPreference(
                    user_id=user_id, email=DEFAULT_DELIVERY, privacy=True, updated_at=now
                )
                session.add(pref)
            before = (pref.email, pref.privacy)
            if email is not None:
                if email != pref.email:
                    pref.last_digest_at = now  # a digest covers what follows the change
                pref.email = email
            if privacy is not None:
                pref.privacy = privacy
            pref.updated_at = now
            self._record(
                session,
                actor,
                AuditAction.NOTIFY_PREFERENCES,
                {"user": user_id},
                details={
                    "email": pref.email,
                    "privacy": pref.privacy,
                    "changed": before != (pref.email, pref.privacy),
                },
            )
            user = session.get(User, user_id)
            return Preferences(
                email=pref.email, privacy=pref.privacy, has_address=bool(user and user.email)
            )


def _user(actor: Principal) -> str:
    if actor.user_id is None:
        raise UsersOnly()
    return actor.user_id
