"""Groups and their members (part of AccountService; administrators only)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from egide.core.db.models import Group, GroupMember, User
from egide.core.errors import InvalidInput
from egide.services.access.grants import remove_principal_grants
from egide.services.access.policy import Action, Principal, authorize
from egide.services.accounts.base import AccountServiceBase
from egide.services.accounts.errors import GroupNameTaken
from egide.services.accounts.records import (
    GroupInfo,
    UserInfo,
    canonical_name,
    get_group_row,
    get_user_row,
    user_info,
)
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials

_MAX_DESCRIPTION = 500


def _check_description(description: str) -> str:
    description = description.strip()
    if len(description) > _MAX_DESCRIPTION:
        raise InvalidInput(
            "The description is too long: at most {maximum} characters.",
            field="description",
            maximum=_MAX_DESCRIPTION,
        )
    return description


class GroupAdmin(AccountServiceBase):
    @records_denials
    def create_group(self, actor: Principal, name: str, description: str = "") -> GroupInfo:
        authorize(actor, Action.GROUP_MANAGE)
        canonical = canonical_name(name, field="name", what="group name")
        description = _check_description(description)
        with self._db.write() as session:
            if session.scalars(select(Group.id).where(Group.name == canonical)).first():
                raise GroupNameTaken(canonical)
            group = Group(name=canonical, description=description, created_at=self._now())
            session.add(group)
            try:
                session.flush()
            except SQLIntegrityError as exc:
                # Another transaction took the name between the check and the insert.
                raise GroupNameTaken(canonical) from exc
            self.audit.record(
                session, actor=actor, action=AuditAction.GROUP_CREATE, target={"group": group.id}
            )
            return GroupInfo(id=group.id, name=canonical, description=description, member_count=0)

    @records_denials
    def delete_group(self, actor: Principal, name: str) -> None:
        """Delete the group, its memberships and every role granted to it."""
        authorize(actor, Action.GROUP_MANAGE)
        with self._db.write() as session:
            group = get_group_row(session, name)
            for member in session.scalars(
                select(GroupMember).where(GroupMember.group_id == group.id)
            ):
                session.delete(member)
            remove_principal_grants(session, principal_kind="group", principal_id=group.id)
            session.delete(group)
            self.audit.record(
                session, actor=actor, action=AuditAction.GROUP_DELETE, target={"group": group.id}
            )

    @records_denials
    def list_groups(self, actor: Principal) -> list[GroupInfo]:
        authorize(actor, Action.GROUP_MANAGE)
        counts = (
            select(GroupMember.group_id, func.count().label("n"))
            .group_by(GroupMember.group_id)
            .subquery()
        )
        with self._db.read() as session:
            rows = session.execute(
                select(Group, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.group_id == Group.id)
                .order_by(Group.name)
            ).all()
            return [
                GroupInfo(
                    id=group.id,
                    name=group.name,
                    description=group.description,
                    member_count=int(count),
                )
                for group, count in rows
            ]

    @records_denials
    def add_member(self, actor: Principal, group: str, username: str) -> bool:
        """Add the user to the group; False if it already was a member."""
        authorize(actor, Action.GROUP_MANAGE)
        with self._db.write() as session:
            group_row = get_group_row(session, group)
            user = get_user_row(session, username)
            if session.get(GroupMember, (group_row.id, user.id)) is not None:
                return False
            session.add(GroupMember(group_id=group_row.id, user_id=user.id))
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.GROUP_MEMBER_ADD,
                target={"group": group_row.id, "user": user.id},
            )
            return True

    @records_denials
    def remove_member(self, actor: Principal, group: str, username: str) -> bool:
        """Remove the user from the group; False if it was not a member."""
        authorize(actor, Action.GROUP_MANAGE)
        with self._db.write() as session:
            group_row = get_group_row(session, group)
            user = get_user_row(session, username)
            member = session.get(GroupMember, (group_row.id, user.id))
            if member is None:
                return False
            session.delete(member)
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.GROUP_MEMBER_REMOVE,
                target={"group": group_row.id, "user": user.id},
            )
            return True

    @records_denials
    def list_members(self, actor: Principal, group: str) -> list[UserInfo]:
        authorize(actor, Action.GROUP_MANAGE)
        with self._db.read() as session:
            group_row = get_group_row(session, group)
            users = session.scalars(
                select(User)
                .join(GroupMember, GroupMember.user_id == User.id)
                .where(GroupMember.group_id == group_row.id)
                .order_by(User.username)
            ).all()
            return [user_info(session, user) for user in users]
