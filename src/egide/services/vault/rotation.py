"""Key rotation without touching a blob (FORMATS.md section 2).

- Master rotation: the key provider makes a new current master key; every
  space key wrapped under an older one is re-wrapped, a batch per transaction.
- Space rotation: a new space key becomes current at once (new data uses it);
  every data key and every name sealed under the old key is re-wrapped or
  re-sealed, a batch per transaction; then the old key is retired and its
  wrapped copy destroyed.

Both are resumable: progress is the data itself (which rows still name an
old key), so running the command again after an interruption finishes the
work instead of starting another rotation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from egide.core.crypto.keys import unwrap_dek, wrap_dek
from egide.core.db.models import (
    Content,
    Node,
    NodeHistory,
    Space,
    SpaceKey,
    Upload,
    UploadPart,
)
from egide.core.types import Secret
from egide.services.access.policy import Action, Principal, authorize
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.vault.base import VaultContext, VaultServiceBase

BATCH = 200
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RotationReport:
    new_key_id: str
    resumed: bool
    rewrapped: int


class KeyRotationService(VaultServiceBase):
    def __init__(self, ctx: VaultContext, new_master_key: Callable[[], str]) -> None:
        super().__init__(ctx)
        self._new_master_key = new_master_key

    # Master keys ---------------------------------------------------------------

    @records_denials
    def rotate_master(
        self, actor: Principal, *, progress: Progress | None = None
    ) -> RotationReport:
        authorize(actor, Action.KEY_ROTATE)
        provider = self.ctx.keyring.provider
        with self.db.read() as session:
            pending = self._stale_space_keys(session, provider.current_master_id())
        resumed = bool(pending)
        if not resumed:
            self._new_master_key()
        current = provider.current_master_id()
        with self.db.read() as session:
            total = (
                session.scalar(
                    select(func.count())
                    .select_from(SpaceKey)
                    .where(SpaceKey.master_key_id != current, SpaceKey.wrapped != b"")
                )
                or 0
            )
        done = 0
        while True:
            with self.db.write() as session:
                batch = self._stale_space_keys(session, current)[:BATCH]
                for row in batch:
                    key = provider.unwrap_space_key(row.master_key_id, row.id, row.wrapped)
                    row.master_key_id, row.wrapped = provider.wrap_space_key(row.id, key)
                    row.provider = provider.name
            if not batch:
                break
            done += len(batch)
            if progress:
                progress(done, total)
        with self.db.write() as session:
            self._record(
                session,
                actor,
                AuditAction.KEY_ROTATE_MASTER,
                {"key": current},
                details={"resumed": resumed, "rewrapped": done},
            )
        return RotationReport(new_key_id=current, resumed=resumed, rewrapped=done)

    @staticmethod
    def _stale_space_keys(session: Session, current_master: str) -> list[SpaceKey]:
        return list(
            session.scalars(
                select(SpaceKey)
                .where(SpaceKey.master_key_id != current_master, SpaceKey.wrapped != b"")
                .order_by(SpaceKey.id)
                .limit(BATCH)
            )
        )

    # Space keys ----------------------------------------------------------------

    @records_denials
    def rotate_space(
        self, actor: Principal, slug: str, *, progress: Progress | None = None
    ) -> RotationReport:
        authorize(actor, Action.KEY_ROTATE)
        keyring = self.ctx.keyring
        with self.db.write() as session:
            space = self._space(session, slug)
            space_id = space.id
            resumed = len(keyring.active_key_ids(session, space.id)) > 1
            if not resumed:
                generation = (
                    session.scalar(
                        select(func.max(SpaceKey.generation)).where(SpaceKey.space_id == space.id)
                    )
                    or 0
                ) + 1
                space.current_key_id = keyring.create(
                    session, space.id, generation, self.clock.now()
                )
            current = space.current_key_id
        with self.db.read() as session:
            total = (
                session.scalar(
                    select(func.count())
                    .select_from(Content)
                    .where(Content.space_id == space_id, Content.dek_key_id != current)
                )
                or 0
            ) + (
                session.scalar(
                    select(func.count())
                    .select_from(Node)
                    .where(Node.space_id == space_id, Node.name_key_id != current)
                )
                or 0
            )
        done = 0
        while batch_done := self._rotate_batch(space_id, current):
            done += batch_done
            if progress:
                progress(done, total)
        self._retire_old_keys(space_id, current)
        with self.db.write() as session:
            self._record(
                session,
                actor,
                AuditAction.KEY_ROTATE_SPACE,
                {"space": space_id, "key": current},
                details={"resumed": resumed, "rewrapped": done},
            )
        return RotationReport(new_key_id=current, resumed=resumed, rewrapped=done)

    def _rotate_batch(self, space_id: str, current: str) -> int:
        keyring = self.ctx.keyring
        with self.db.write() as session:
            new_key = keyring.key(session, current)
            contents = session.scalars(
                select(Content)
                .where(Content.space_id == space_id, Content.dek_key_id != current)
                .limit(BATCH)
            ).all()
            self._rewrap_deks(session, contents, current, new_key)
            nodes = session.scalars(
                select(Node)
                .where(Node.space_id == space_id, Node.name_key_id != current)
                .limit(BATCH)
            ).all()
            new_names = keyring.names(session, current)
            for node in nodes:
                name = keyring.names(session, node.name_key_id).open(node.id, node.name_enc)
                node.name_enc = new_names.seal(node.id, name)
                # A space root or a trashed top has no parent; its index is never looked up.
                node.name_index = new_names.index(node.parent_id or space_id, name)
                node.name_key_id = current
            # Former names kept for roll-backs (ADR 24) are sealed the same way.
            history = session.scalars(
                select(NodeHistory)
                .where(NodeHistory.space_id == space_id, NodeHistory.name_key_id != current)
                .limit(BATCH)
            ).all()
            for row in history:
                name = keyring.names(session, row.name_key_id).open(row.node_id, row.name_enc)
                row.name_enc = new_names.seal(row.node_id, name)
                row.name_key_id = current
            space = session.get(Space, space_id)
            if space is not None and space.title_key_id != current:
                title = keyring.names(session, space.title_key_id).open(space.id, space.title_enc)
                space.title_enc = new_names.seal(space.id, title)
                space.title_key_id = current
            return (
                len(contents)
                + len(nodes)
                + len(history)
                + self._rotate_uploads(session, space_id, current)
            )

    def _rewrap_deks(
        self,
        session: Session,
        rows: Sequence[Content | UploadPart],
        current: str,
        new_key: Secret,
    ) -> None:
        """Re-wrap the data key of each row under the space's current key."""
        for row in rows:
            old_key = self.ctx.keyring.key(session, row.dek_key_id)
            dek = unwrap_dek(old_key, row.dek_key_id, row.blob_key, row.wrapped_dek)
            row.wrapped_dek = wrap_dek(new_key, current, row.blob_key, dek)
            row.dek_key_id = current

    def _rotate_uploads(self, session: Session, space_id: str, current: str) -> int:
        """Re-wrap the parts and re-seal the targets of resumable uploads in progress."""
        keyring = self.ctx.keyring
        new_key = keyring.key(session, current)
        in_space = select(Upload.id).where(Upload.space_id == space_id)
        parts = session.scalars(
            select(UploadPart)
            .where(UploadPart.upload_id.in_(in_space), UploadPart.dek_key_id != current)
            .limit(BATCH)
        ).all()
        self._rewrap_deks(session, parts, current, new_key)
        uploads = session.scalars(
            select(Upload)
            .where(Upload.space_id == space_id, Upload.target_key_id != current)
            .limit(BATCH)
        ).all()
        new_names = keyring.names(session, current)
        for upload in uploads:
            path = keyring.names(session, upload.target_key_id).open(upload.id, upload.target_enc)
            upload.target_enc = new_names.seal(upload.id, path)
            upload.target_key_id = current
        return len(parts) + len(uploads)

    def _retire_old_keys(self, space_id: str, current: str) -> None:
        with self.db.write() as session:
            old = session.scalars(
                select(SpaceKey).where(
                    SpaceKey.space_id == space_id,
                    SpaceKey.id != current,
                    SpaceKey.retired_at.is_(None),
                )
            ).all()
            for row in old:
                # Destroy the wrapped copy: nothing in the live database needs it any
                # more. Database backups taken before keep it until they expire.
                row.wrapped = b""
                row.retired_at = self.clock.now()
                self.ctx.keyring.forget(row.id)
