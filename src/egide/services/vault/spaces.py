"""Spaces and their members and grants (roles on a space or a folder)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from egide.core.db.base import new_id
from egide.core.db.models import Group, Node, Space, User
from egide.core.errors import InvalidInput
from egide.services.access import grants
from egide.services.access.policy import (
    Action,
    Decision,
    Principal,
    SpaceRole,
    authorize,
    decide,
)
from egide.services.accounts.service import resolve_principal_ref
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.ransomware.detector import refuse_contained
from egide.services.vault.base import VaultServiceBase, not_found
from egide.services.vault.errors import NameTaken
from egide.services.vault.keyring import space_key_id
from egide.services.vault.names import check_slug, join_path, split_path
from egide.services.vault.tree import FOLDER
from egide.services.vault.types import GrantView, SpaceInfo


def parse_role(value: str) -> SpaceRole:
    try:
        return SpaceRole(value.strip().lower())
    except ValueError:
        raise InvalidInput(
            "Unknown role {role}. Use reader, contributor or manager.", field="role", role=value
        ) from None


#: The largest quota: 1 EiB, far beyond any disk, well inside a 64-bit column.
MAX_QUOTA = 1 << 60


def _check_quotas(quota_bytes: int | None, history_quota_bytes: int | None) -> None:
    for limit, field in ((quota_bytes, "quota"), (history_quota_bytes, "history_quota")):
        if limit is not None and limit < 0:
            raise InvalidInput("A quota cannot be negative.", field=field)
        if limit is not None and limit > MAX_QUOTA:
            raise InvalidInput(
                "A quota cannot exceed 1 EiB; leave it unset for no limit.", field=field
            )


class SpaceService(VaultServiceBase):
    @records_denials
    def create(
        self,
        actor: Principal,
        slug: str,
        *,
        title: str | None = None,
        quota_bytes: int | None = None,
        history_quota_bytes: int | None = None,
        managers: Sequence[str] = (),
    ) -> SpaceInfo:
        """A new space with its own key and root folder (administrators only).

        `managers` ("user:NAME" or "group:NAME", or a bare user name) get the
        manager role in the same transaction: an unknown one creates nothing.
        """
        authorize(actor, Action.SPACE_CREATE)
        slug = check_slug(slug)
        _check_quotas(quota_bytes, history_quota_bytes)
        with self.db.write() as session:
            if self.tree.space_by_slug(session, slug) is not None:
                raise NameTaken("A space called {slug} already exists.", slug=slug)
            now = self.clock.now()
            space_id, root_id = new_id(), new_id()
            key_id = space_key_id(space_id, 1)
            space = Space(
                id=space_id,
                slug=slug,
                title_enc=b"",
                title_key_id=key_id,
                current_key_id=key_id,
                root_node_id=root_id,
                quota_bytes=quota_bytes,
                history_quota_bytes=history_quota_bytes,
                used_bytes=0,
                created_at=now,
                created_by=actor.user_id,
            )
            session.add(space)
            session.flush()
            self.ctx.keyring.create(session, space_id, 1, now)
            cipher = self.ctx.keyring.names(session, key_id)
            space.title_enc = cipher.seal(space_id, title or slug)
            session.add(
                Node(
                    id=root_id,
                    space_id=space_id,
                    parent_id=None,
                    kind=FOLDER,
                    name_enc=cipher.seal(root_id, "/"),
                    name_index=cipher.index(space_id, "/"),
                    name_key_id=key_id,
                    created_at=now,
                    updated_at=now,
                    created_by=actor.user_id,
                )
            )
            session.flush()
            for ref in managers:
                kind, principal_id = resolve_principal_ref(
                    session, ref if ":" in ref else f"user:{ref}"
                )
                grants.set_grant(
                    session,
                    space_id=space_id,
                    node_id=root_id,
                    principal_kind=kind,
                    principal_id=principal_id,
                    role=SpaceRole.MANAGER,
                    created_by=actor.user_id,
                    now=now,
                )
                self._record(
                    session,
                    actor,
                    AuditAction.GRANT_ADD,
                    {"space": space_id, "node": root_id, kind: principal_id},
                    details={"role": str(SpaceRole.MANAGER)},
                )
            self._record(
                session,
                actor,
                AuditAction.SPACE_CREATE,
                {"space": space_id, "node": root_id},
                details={"quota_bytes": quota_bytes, "history_quota_bytes": history_quota_bytes},
            )
            return self._space_info(session, actor, space)

    @records_denials
    def list_spaces(self, actor: Principal) -> list[SpaceInfo]:
        """Spaces where the caller holds a role; every space for administrators.

        "Every space" is the policy's `space.list_all`: an administrator's API
        token needs the `admin` scope for it, else it sees its roles' spaces.
        """
        sees_all = decide(actor, Action.SPACE_LIST_ALL) is Decision.ALLOW
        with self.db.read() as session:
            query = select(Space).order_by(Space.slug)
            if not sees_all:
                query = query.where(Space.id.in_(grants.visible_space_ids(session, actor)))
            return [self._space_info(session, actor, s) for s in session.scalars(query)]

    @records_denials
    def list_all(self, actor: Principal) -> list[SpaceInfo]:
        """Every space, for the admin area: refused (403) to anyone else, where
        `list_spaces` would quietly narrow the list to the caller's spaces."""
        authorize(actor, Action.SPACE_LIST_ALL)
        return self.list_spaces(actor)

    @records_denials
    def get(self, actor: Principal, slug: str) -> SpaceInfo:
        with self.db.read() as session:
            space = self._space(session, slug)
            sees_all = decide(actor, Action.SPACE_LIST_ALL) is Decision.ALLOW
            if not sees_all and space.id not in grants.visible_space_ids(session, actor):
                raise not_found()
            return self._space_info(session, actor, space)

    @records_denials
    def set_quota(
        self,
        actor: Principal,
        slug: str,
        *,
        quota_bytes: int | None,
        history_quota_bytes: int | None = None,
    ) -> SpaceInfo:
        authorize(actor, Action.SPACE_ADMIN)
        _check_quotas(quota_bytes, history_quota_bytes)
        with self.db.write() as session:
            space = self._space(session, slug)
            space.quota_bytes = quota_bytes
            space.history_quota_bytes = history_quota_bytes
            session.flush()
            self._record(
                session,
                actor,
                AuditAction.SPACE_QUOTA,
                {"space": space.id},
                details={"quota_bytes": quota_bytes, "history_quota_bytes": history_quota_bytes},
            )
            return self._space_info(session, actor, space)

    def _space_info(self, session: Session, actor: Principal, space: Space) -> SpaceInfo:
        role = self._role(session, actor, space.root_node_id)
        return SpaceInfo(
            id=space.id,
            slug=space.slug,
            title=self.tree.space_title(session, space),
            quota_bytes=space.quota_bytes,
            history_quota_bytes=space.history_quota_bytes,
            used_bytes=space.used_bytes,
            created_at=space.created_at,
            role=role.value if role else None,
        )

    # Members and grants ------------------------------------------------------

    @records_denials
    def grant(self, actor: Principal, slug: str, path: str, principal: str, role: str) -> GrantView:
        """Give `principal` ("user:NAME" or "group:NAME") a role on the space, a folder
        (inherited below it) or a single file (issue 7)."""
        parsed = parse_role(role)
        with self.db.write() as session:
            refuse_contained(session, actor, Action.GRANT_MANAGE.value)
            space, node, segments = self._grant_target(session, actor, slug, path)
            kind, principal_id = resolve_principal_ref(session, principal)
            grants.set_grant(
                session,
                space_id=space.id,
                node_id=node.id,
                principal_kind=kind,
                principal_id=principal_id,
                role=parsed,
                created_by=actor.user_id,
                now=self.clock.now(),
            )
            self._record(
                session,
                actor,
                AuditAction.GRANT_ADD,
                {"space": space.id, "node": node.id, kind: principal_id},
                details={"role": str(parsed), "node_kind": node.kind},
                path=join_path(segments),
            )
            return GrantView(
                principal=principal.strip(),
                role=parsed.value,
                path=join_path(segments),
                created_at=self.clock.now(),
            )

    @records_denials
    def revoke(self, actor: Principal, slug: str, path: str, principal: str) -> bool:
        with self.db.write() as session:
            refuse_contained(session, actor, Action.GRANT_MANAGE.value)
            space, node, segments = self._grant_target(session, actor, slug, path)
            kind, principal_id = resolve_principal_ref(session, principal)
            removed = grants.remove_grant(
                session, node_id=node.id, principal_kind=kind, principal_id=principal_id
            )
            if removed:
                self._record(
                    session,
                    actor,
                    AuditAction.GRANT_REMOVE,
                    {"space": space.id, "node": node.id, kind: principal_id},
                    details={"node_kind": node.kind},
                    path=join_path(segments),
                )
            return removed

    @records_denials
    def grants(self, actor: Principal, slug: str, path: str = "") -> list[GrantView]:
        """Roles given directly on the space root (members), a folder or a file."""
        with self.db.read() as session:
            space = self._space(session, slug)
            segments = split_path(path)
            node = self._locate(session, actor, space, segments, Action.GRANT_LIST)
            views = [
                GrantView(
                    principal=self._principal_name(session, info.principal_kind, info.principal_id),
                    role=str(info.role),
                    path=join_path(segments),
                    created_at=info.created_at,
                )
                for info in grants.list_grants(session, node.id)
            ]
            return sorted(views, key=lambda v: v.principal)

    def _grant_target(
        self, session: Session, actor: Principal, slug: str, path: str
    ) -> tuple[Space, Node, list[str]]:
        space = self._space(session, slug)
        segments = split_path(path)
        # A folder or, since issue 7, a single file: effective_role walks up from the node.
        node = self._locate(session, actor, space, segments, Action.GRANT_MANAGE)
        return space, node, segments

    @staticmethod
    def _principal_name(session: Session, kind: str, principal_id: str) -> str:
        if kind == "user":
            user = session.get(User, principal_id)
            return f"user:{user.username}" if user else f"user:#{principal_id}"
        group = session.get(Group, principal_id)
        return f"group:{group.name}" if group else f"group:#{principal_id}"
