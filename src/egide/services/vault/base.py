"""What every vault service shares: its context and the authorisation steps.

Authorisation always goes through services.access (the one policy module).
A target the caller cannot see and a target that does not exist raise the
very same NotFound, so existence never leaks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from egide.core.blobstore import BlobStore
from egide.core.clock import Clock
from egide.core.config import Settings
from egide.core.crypto.keys import wrap_dek
from egide.core.db import Database
from egide.core.db.models import Node, Space
from egide.core.errors import EgideError, NotFound
from egide.core.types import Secret
from egide.services.access.grants import effective_role
from egide.services.access.policy import Action, Decision, Principal, SpaceRole, authorize, decide
from egide.services.audit.actions import AuditAction
from egide.services.audit.recorder import AuditRecorder
from egide.services.vault.errors import QuotaExceeded
from egide.services.vault.keyring import SpaceKeyRing
from egide.services.vault.tree import Tree

HIDDEN_MESSAGE = "No such file, folder or space, or you do not have access to it."


@dataclass
class VaultContext:
    db: Database
    blobs: BlobStore
    keyring: SpaceKeyRing
    settings: Settings
    clock: Clock
    audit: AuditRecorder

    @property
    def tree(self) -> Tree:
        return Tree(self.keyring)


def not_found() -> NotFound:
    return NotFound(HIDDEN_MESSAGE)


class VaultServiceBase:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx
        self.db = ctx.db
        self.tree = Tree(ctx.keyring)
        self.clock = ctx.clock
        self.audit = ctx.audit

    def _record(
        self,
        session: Session,
        actor: Principal,
        action: AuditAction,
        target: Mapping[str, str | None],
        *,
        details: Mapping[str, Any] | None = None,
        path: str | None = None,
        role: SpaceRole | None = None,
    ) -> None:
        """Add `action`'s audit event to `session`, the action's own transaction.

        The path at the time and the actor's role go into the sealed context,
        never into the leaf (names are personal data).
        """
        context: dict[str, Any] = {}
        if path is not None:
            context["path"] = path
        if role is not None:
            context["role"] = str(role)
        self.audit.record(
            session, actor=actor, action=action, target=target, details=details, context=context
        )

    def _space(self, session: Session, slug: str) -> Space:
        space = self.tree.space_by_slug(session, slug.strip().lower())
        if space is None:
            raise not_found()
        return space

    @staticmethod
    def _locked_space(session: Session, space_id: str) -> Space:
        """The space row, locked until the commit.

        A space key rotation switches the current key on this row, so it waits
        for this commit, or this commit sees its switch (`_rewrap_if_stale`).
        """
        space = session.scalars(
            select(Space)
            .where(Space.id == space_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
        if space is None:
            raise not_found()
        return space

    def _rewrap_if_stale(
        self, session: Session, space: Space, key_id: str, blob_key: str, dek: Secret
    ) -> tuple[str, bytes] | None:
        """(current key id, `dek` wrapped under it) when `key_id` is no longer current.

        A blob's data key is wrapped before its body streams; a rotation may
        finish meanwhile and retire that key once no committed row names it,
        so a row committed under it could never be read again. Call with the
        space row locked (`_locked_space`). None when `key_id` is current.
        """
        current = space.current_key_id
        if key_id == current:
            return None
        space_key = self.ctx.keyring.key(session, current)
        return current, wrap_dek(space_key, current, blob_key, dek)

    @staticmethod
    def _role(session: Session, actor: Principal, node_id: str) -> SpaceRole | None:
        return effective_role(session, actor, node_id)

    def _allow(self, session: Session, actor: Principal, action: Action, node: Node) -> SpaceRole:
        """Authorise `action` on `node`; returns the role it was allowed with."""
        role = self._role(session, actor, node.id)
        target = {"space": node.space_id, "node": node.id}
        if decide(actor, action, role) is Decision.HIDDEN:
            raise not_found().denied(action.value, target)
        try:
            authorize(actor, action, role)
        except EgideError as exc:
            exc.denied(action.value, target)
            raise
        return role or SpaceRole.READER

    def _locate(
        self, session: Session, actor: Principal, space: Space, segments: list[str], action: Action
    ) -> Node:
        """The node at `segments`, once `action` on it is allowed."""
        return self._locate_with_role(session, actor, space, segments, action)[0]

    def _locate_with_role(
        self, session: Session, actor: Principal, space: Space, segments: list[str], action: Action
    ) -> tuple[Node, SpaceRole]:
        """`_locate`, and the role the action was allowed with (for the audit context)."""
        node, rest = self.tree.resolve_deepest(session, space, segments)
        if rest:
            raise not_found()
        return node, self._allow(session, actor, action, node)

    @staticmethod
    def _charge(session: Session, space_id: str, delta: int) -> None:
        """Add `delta` bytes to the space's usage, refusing to go over its quota.

        A single conditional UPDATE, so concurrent writers can never together
        exceed the quota; a negative delta always succeeds.
        """
        if delta == 0:
            return
        stmt = update(Space).where(Space.id == space_id)
        if delta > 0:
            stmt = stmt.where(
                or_(Space.quota_bytes.is_(None), Space.used_bytes + delta <= Space.quota_bytes)
            )
        result = session.execute(
            stmt.values(used_bytes=Space.used_bytes + delta).execution_options(
                synchronize_session=False
            )
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise QuotaExceeded(
                "This space is full: its quota would be exceeded by {size} bytes. Delete files, "
                "empty the trash or ask an administrator for a larger quota.",
                size=delta,
            )
