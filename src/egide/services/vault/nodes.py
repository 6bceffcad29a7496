"""Folders and the tree: list, create, move/rename, copy, delete to the trash, restore."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from egide.core.db.base import new_id
from egide.core.db.models import Content, Node, Space, TrashItem, Version
from egide.core.db.models.history import DELETE, MOVE, UNDELETE
from egide.services.access.grants import visible_space_ids
from egide.services.access.policy import Action, Decision, Principal, decide
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.ransomware.detector import check_contained, refuse_contained
from egide.services.vault.base import VaultContext, VaultServiceBase, not_found
from egide.services.vault.errors import (
    InvalidMove,
    NameTaken,
    NotAFolder,
    ParentMissing,
)
from egide.services.vault.files import FileService
from egide.services.vault.history import record_place
from egide.services.vault.listing import FolderListing, Listings
from egide.services.vault.names import check_name, join_path, split_path
from egide.services.vault.tree import FILE, FOLDER
from egide.services.vault.types import NodeInfo, TrashInfo

_NAME_TAKEN = "An item named {name} already exists in {folder}. Choose another name."


class NodeService(VaultServiceBase):
    def __init__(self, ctx: VaultContext, files: FileService) -> None:
        super().__init__(ctx)
        self.files = files
        self._listings = Listings(self.tree, sqlite=self.db.is_sqlite)

    # Reading the tree --------------------------------------------------------

    @records_denials
    def stat(self, actor: Principal, slug: str, path: str) -> NodeInfo:
        with self.db.read() as session:
            space = self._space(session, slug)
            segments = split_path(path)
            node = self._locate(session, actor, space, segments, Action.FOLDER_LIST)
            return self._info(session, node, segments)

    @records_denials
    def list_folder(self, actor: Principal, slug: str, path: str = "") -> list[NodeInfo]:
        """A folder's children, folders first, then by name (case-insensitive)."""
        _, listing = self.browse(actor, slug, path)
        if listing is None:
            raise NotAFolder("This is a file, not a folder.")
        return list(listing.items)

    @records_denials
    def browse(
        self, actor: Principal, slug: str, path: str = ""
    ) -> tuple[NodeInfo, FolderListing | None]:
        """A node (as `stat`) and, for a folder, its listing (kept per process: listing.py).

        One path resolution and one access decision for both, as the API's
        GET of a node needs them.
        """
        with self.db.read() as session:
            mark = self._listings.mark(session)  # before anything else is read
            space = self._space(session, slug)
            segments = split_path(path)
            node = self._locate(session, actor, space, segments, Action.FOLDER_LIST)
            info = self._info(session, node, segments)
            if node.kind != FOLDER:
                return info, None
            prefix = join_path(segments).rstrip("/") + "/"
            return info, self._listings.of(session, node.id, prefix, mark)

    def _info(self, session: Session, node: Node, segments: list[str]) -> NodeInfo:
        size, sha256 = 0, None
        if node.current_version_id:
            row = session.execute(
                select(Version.size, Content.sha256)
                .join(Content, Content.id == Version.content_id)
                .where(Version.id == node.current_version_id)
            ).one_or_none()
            if row is not None:
                size, sha256 = row
        name = segments[-1] if segments else ""
        return _make_info(node, name, segments, size, sha256)

    # Changing the tree -------------------------------------------------------

    @records_denials
    def mkdir(self, actor: Principal, slug: str, path: str, *, parents: bool = False) -> NodeInfo:
        segments = split_path(path)
        if not segments:
            raise NameTaken("The root folder of a space always exists.")
        with self.db.write() as session:
            refuse_contained(session, actor, Action.FOLDER_CREATE.value)
            now = self.clock.now()
            space = self._space(session, slug)
            node, rest = self.tree.resolve_deepest(session, space, segments)
            self._allow(session, actor, Action.FOLDER_CREATE, node)
            if not rest:
                if parents and node.kind == FOLDER:
                    return self._info(session, node, segments)
                raise NameTaken(_NAME_TAKEN, name=segments[-1], folder=join_path(segments[:-1]))
            if node.kind != FOLDER:
                raise NotAFolder("{path} is a file, not a folder.", path=join_path(segments))
            if len(rest) > 1 and not parents:
                raise ParentMissing(
                    "The folder {path} does not exist. Create it first.",
                    path=join_path(segments[: len(segments) - len(rest) + 1]),
                )
            first = len(segments) - len(rest) + 1
            for depth, name in enumerate(rest, start=first):
                node = self._new_folder(session, actor, space, node, name, now=now)
                self._record(
                    session,
                    actor,
                    AuditAction.FOLDER_CREATE,
                    {"space": space.id, "node": node.id},
                    path=join_path(segments[:depth]),
                )
            return self._info(session, node, segments)

    def _new_folder(
        self,
        session: Session,
        actor: Principal,
        space: Space,
        parent: Node,
        name: str,
        *,
        now: dt.datetime,
    ) -> Node:
        return self.tree.add_node(
            session, space, parent, name, kind=FOLDER, created_by=actor.user_id, now=now
        )

    @records_denials
    def move(self, actor: Principal, slug: str, src: str, dst: str) -> NodeInfo:
        """Rename and/or move a file or folder inside its space."""
        src_segments, dst_segments = split_path(src), split_path(dst)
        if not src_segments or not dst_segments:
            raise InvalidMove("The root folder of a space cannot be moved or replaced.")
        try:
            with self.db.write() as session:
                check_contained(self.files.detector, session, actor, Action.NODE_MOVE.value)
                space = self._space(session, slug)
                node, role = self._locate_with_role(
                    session, actor, space, src_segments, Action.NODE_MOVE
                )
                parent = self._folder_for(session, actor, space, dst_segments, Action.NODE_MOVE)
                if node.kind == FOLDER and node.id in self.tree.ancestor_ids(session, parent.id):
                    raise InvalidMove("A folder cannot be moved into itself or its subfolders.")
                name = dst_segments[-1]
                existing = self.tree.child(session, space, parent.id, name)
                if existing is not None and existing.id != node.id:
                    raise NameTaken(_NAME_TAKEN, name=name, folder=join_path(dst_segments[:-1]))
                self._place(session, space, node, parent, name, by=actor.user_id)
                if self.files.detector is not None:
                    self.files.detector.on_move(
                        session,
                        actor,
                        space_id=space.id,
                        node_id=node.id,
                        parent_id=parent.id,
                        old_name=src_segments[-1],
                        new_name=name,
                        is_file=node.kind == FILE,
                    )
                self._record(
                    session,
                    actor,
                    AuditAction.NODE_MOVE,
                    {"space": space.id, "node": node.id, "parent": parent.id},
                    path=join_path(dst_segments),
                    details={"kind": node.kind},
                    role=role,
                )
                # The former path is personal too: in the context, never in the leaf.
                return self._info(session, node, dst_segments)
        except sa_exc.IntegrityError as exc:
            raise NameTaken(
                _NAME_TAKEN, name=dst_segments[-1], folder=join_path(dst_segments[:-1])
            ) from exc

    def _folder_for(
        self, session: Session, actor: Principal, space: Space, segments: list[str], action: Action
    ) -> Node:
        """The existing folder that will hold `segments[-1]`, once `action` there is allowed."""
        parent, rest = self.tree.resolve_deepest(session, space, segments[:-1])
        self._allow(session, actor, action, parent)
        if rest or parent.kind != FOLDER:
            raise ParentMissing(
                "The folder {path} does not exist. Create it first.",
                path=join_path(segments[:-1]),
            )
        return parent

    def _place(
        self,
        session: Session,
        space: Space,
        node: Node,
        parent: Node,
        name: str,
        *,
        by: str | None = None,
        change: str = MOVE,
    ) -> None:
        """Put `node` under `parent` as `name`, re-sealing the name (its index binds the parent)."""
        sealed = self.tree.seal(session, space, node.id, parent.id, check_name(name))
        record_place(session, node, change, by=by, at=self.clock.now())
        node.parent_id = parent.id
        node.name_enc = sealed.name_enc
        node.name_index = sealed.name_index
        node.name_key_id = sealed.key_id
        node.updated_at = self.clock.now()
        session.flush()

    @records_denials
    def copy(
        self, actor: Principal, slug: str, src: str, dst: str, *, to_slug: str | None = None
    ) -> NodeInfo:
        """Copy a file (or, inside one space, a folder) without duplicating stored bytes.

        Inside a space the copies share contents (reference counted). Across spaces
        a file is re-encrypted under the other space's keys, so erasing one space
        never erases the other's copy.
        """
        if to_slug is not None and to_slug.strip().lower() != slug.strip().lower():
            download = self.files.open(actor, slug, src)
            self.files.write(
                actor,
                to_slug,
                dst,
                download.iter_bytes(),
                if_none_match=True,
                size_hint=download.size,
            )
            return self.stat(actor, to_slug, dst)
        src_segments, dst_segments = split_path(src), split_path(dst)
        if not src_segments or not dst_segments:
            raise InvalidMove("The root folder of a space cannot be copied or replaced.")
        with self.db.write() as session:
            refuse_contained(session, actor, Action.FILE_WRITE.value)
            space = self._space(session, slug)
            node = self._locate(session, actor, space, src_segments, Action.FILE_READ)
            parent = self._folder_for(session, actor, space, dst_segments, Action.FILE_WRITE)
            if node.kind == FOLDER and node.id in self.tree.ancestor_ids(session, parent.id):
                raise InvalidMove("A folder cannot be copied into itself or its subfolders.")
            if self.tree.child(session, space, parent.id, dst_segments[-1]) is not None:
                raise NameTaken(
                    _NAME_TAKEN, name=dst_segments[-1], folder=join_path(dst_segments[:-1])
                )
            total = self._copy_node(
                session, actor, space, node, parent=parent, name=dst_segments[-1]
            )
            self._charge(session, space.id, total)
            copied = self.tree.child(session, space, parent.id, dst_segments[-1])
            if copied is None:  # pragma: no cover - just inserted
                raise not_found()
            self._record(
                session,
                actor,
                AuditAction.NODE_COPY,
                {"space": space.id, "node": copied.id, "source": node.id},
                details={"kind": node.kind, "size": total},
                path=join_path(dst_segments),
            )
            return self._info(session, copied, dst_segments)

    def _copy_node(
        self,
        session: Session,
        actor: Principal,
        space: Space,
        node: Node,
        *,
        parent: Node,
        name: str,
    ) -> int:
        now = self.clock.now()
        if node.kind == FOLDER:
            copy = self._new_folder(session, actor, space, parent, name, now=now)
            return sum(
                self._copy_node(
                    session,
                    actor,
                    space,
                    child,
                    parent=copy,
                    name=self.tree.name_of(session, child),
                )
                for child in self.tree.children(session, node.id)
            )
        current = session.get(Version, node.current_version_id or "")
        if current is None:  # pragma: no cover - a live file has a version
            raise not_found()
        copied = self.tree.add_node(
            session, space, parent, name, kind=FILE, created_by=actor.user_id, now=now
        )
        version = Version(
            id=new_id(),
            node_id=copied.id,
            number=1,
            content_id=current.content_id,
            size=current.size,
            created_at=now,
            created_by=actor.user_id,
            retain_days=self.ctx.settings.protection_days,
        )
        session.add(version)
        session.flush()
        copied.current_version_id = version.id
        return current.size

    # Trash -------------------------------------------------------------------

    @records_denials
    def delete(self, actor: Principal, slug: str, path: str) -> TrashInfo:
        """Move a file or a folder (with everything in it) to the trash, as one item."""
        segments = split_path(path)
        if not segments:
            raise InvalidMove("The root folder of a space cannot be deleted.")
        with self.db.write() as session:
            check_contained(self.files.detector, session, actor, Action.NODE_DELETE.value)
            now = self.clock.now()
            space = self._space(session, slug)
            node, role = self._locate_with_role(session, actor, space, segments, Action.NODE_DELETE)
            size, retain = session.execute(
                select(func.coalesce(func.sum(Version.size), 0), func.max(Version.retain_days))
                .join(Node, Node.current_version_id == Version.id)
                .where(Node.id.in_(self.tree.subtree(node.id)))
            ).one()
            days = max(self.ctx.settings.protection_days, retain or 0)
            item = TrashItem(
                id=new_id(),
                space_id=space.id,
                node_id=node.id,
                original_parent_id=node.parent_id or space.root_node_id,
                deleted_at=now,
                deleted_by=actor.user_id,
                protected_until=now + dt.timedelta(days=days),
                size_bytes=int(size),
            )
            session.add(item)
            session.flush()
            record_place(session, node, DELETE, by=actor.user_id, at=now)
            node.parent_id = None
            node.trash_id = item.id
            node.updated_at = now
            self._charge(session, space.id, -int(size))
            if self.files.detector is not None:
                self.files.detector.on_delete(
                    session,
                    actor,
                    space_id=space.id,
                    node_id=node.id,
                    subtree=self.tree.subtree(node.id),
                )
            self._record(
                session,
                actor,
                AuditAction.NODE_DELETE,
                {"space": space.id, "node": node.id, "trash": item.id},
                details={"kind": node.kind, "size": int(size)},
                path=join_path(segments),
                role=role,
            )
            return self._trash_info(session, space, item, node)

    @records_denials
    def trash(self, actor: Principal, slug: str) -> list[TrashInfo]:
        """Trash items of a space the caller may restore, newest first."""
        with self.db.read() as session:
            space = self._space(session, slug)
            items = session.scalars(
                select(TrashItem)
                .where(TrashItem.space_id == space.id)
                .order_by(TrashItem.deleted_at.desc())
            ).all()
            visible = []
            for item in items:
                where = self._restore_target(session, space, item)
                role = self._role(session, actor, where.id)
                if decide(actor, Action.TRASH_LIST, role) is Decision.ALLOW:
                    node = session.get(Node, item.node_id)
                    if node is not None:
                        visible.append(self._trash_info(session, space, item, node))
            if not visible and space.id not in visible_space_ids(session, actor):
                raise not_found()  # a space the caller cannot see answers like a missing one
            return visible

    @records_denials
    def restore(
        self, actor: Principal, slug: str, trash_id: str, *, new_name: str | None = None
    ) -> NodeInfo:
        """Put a trash item back where it was (or at the root if that folder is gone)."""
        with self.db.write() as session:
            refuse_contained(session, actor, Action.TRASH_RESTORE.value)
            space = self._space(session, slug)
            item = session.get(TrashItem, trash_id)
            node = session.get(Node, item.node_id) if item else None
            if item is None or node is None or item.space_id != space.id:
                raise not_found()
            parent = self._restore_target(session, space, item)
            self._allow(session, actor, Action.TRASH_RESTORE, parent)
            name = check_name(new_name) if new_name else self.tree.name_of(session, node)
            folder = self.tree.path_of(session, space, parent) or []
            if self.tree.child(session, space, parent.id, name) is not None:
                raise NameTaken(
                    "An item named {name} already exists in {folder}. Restore it under "
                    "another name.",
                    name=name,
                    folder=join_path(folder),
                )
            self._place(session, space, node, parent, name, by=actor.user_id, change=UNDELETE)
            node.trash_id = None
            session.delete(item)
            self._charge(session, space.id, item.size_bytes)
            self._record(
                session,
                actor,
                AuditAction.TRASH_RESTORE,
                {"space": space.id, "node": node.id, "trash": item.id},
                details={"kind": node.kind, "size": item.size_bytes},
                path=join_path([*folder, name]),
            )
            return self._info(session, node, [*folder, name])

    def _restore_target(self, session: Session, space: Space, item: TrashItem) -> Node:
        parent = session.get(Node, item.original_parent_id)
        if parent is not None and self.tree.is_live(session, space, parent.id):
            return parent
        return self._root(session, space)

    @staticmethod
    def _root(session: Session, space: Space) -> Node:
        root = session.get(Node, space.root_node_id)
        if root is None:  # pragma: no cover - a space always has its root
            raise not_found()
        return root

    def _trash_info(self, session: Session, space: Space, item: TrashItem, node: Node) -> TrashInfo:
        parent = session.get(Node, item.original_parent_id)
        original = self.tree.path_of(session, space, parent) if parent else None
        return TrashInfo(
            id=item.id,
            name=self.tree.name_of(session, node),
            kind=node.kind,
            original_path=join_path(original) if original is not None else None,
            size=item.size_bytes,
            deleted_at=item.deleted_at,
            deleted_by=item.deleted_by,
            protected_until=item.protected_until,
        )


def _make_info(
    node: Node, name: str, segments: list[str], size: int, sha256: str | None
) -> NodeInfo:
    return NodeInfo(
        id=node.id,
        name=name,
        kind=node.kind,
        path=join_path(segments),
        size=size if node.kind == FILE else 0,
        created_at=node.created_at,
        modified_at=node.updated_at,
        version_id=node.current_version_id,
        sha256=sha256,
    )
