"""What a link gives: the files below its item, one of them by path, and their reads.

No policy here: the link itself, checked by `recipient.py`, is the authority
for the item it was made for; nothing outside the item is ever reached
(paths are resolved downwards from it, and names cannot climb).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from egide.core.db.models import Content, Node, Space, Version
from egide.core.db.models.sharing import ShareLink
from egide.services.sharing.errors import InvalidLinkInput, LinkNotFound
from egide.services.vault.base import VaultContext
from egide.services.vault.files import FileDownload
from egide.services.vault.names import split_path
from egide.services.vault.tree import FILE, FOLDER, Tree

#: Files a folder link lists or zips, at most.
MAX_FILES: Final = 10_000


class LinkContent:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx
        self.tree = Tree(ctx.keyring)

    def files(self, session: Session, root: Node) -> list[tuple[str, Node, int]]:
        """(path inside the link, node, size) of every file the link gives, by path."""
        if root.kind == FILE:
            return [(self.tree.name_of(session, root), root, self.size(session, root))]
        found: list[tuple[str, Node, int]] = []
        pending: list[tuple[str, str]] = [(root.id, "")]
        while pending:
            parent_id, prefix = pending.pop()
            for child in self.tree.children(session, parent_id):
                name = prefix + self.tree.name_of(session, child)
                if child.kind == FOLDER:
                    pending.append((child.id, name + "/"))
                elif child.current_version_id is not None:
                    found.append((name, child, self.size(session, child)))
                if len(found) > MAX_FILES:
                    raise InvalidLinkInput(
                        "This folder holds more than {maximum} files: share its sub-folders "
                        "instead.",
                        field="path",
                        maximum=MAX_FILES,
                    )
        return sorted(found, key=lambda item: item[0].casefold())

    @staticmethod
    def size(session: Session, node: Node) -> int:
        version = session.get(Version, node.current_version_id or "")
        return 0 if version is None else version.size

    def file_at(self, session: Session, space: Space, root: Node, path: str) -> tuple[Node, str]:
        """The file at `path` inside the link (its own name for a file link), and that path."""
        segments = split_path(path)
        if root.kind == FILE:
            name = self.tree.name_of(session, root)
            if segments and segments != [name]:
                raise LinkNotFound()
            return root, name
        node: Node | None = root
        for name in segments:
            if node is None or node.kind != FOLDER:
                raise LinkNotFound()
            node = self.tree.child(session, space, node.id, name)
        if node is None or node.kind != FILE or node.current_version_id is None:
            raise LinkNotFound()
        return node, "/".join(segments)

    def count(self, session: Session, link: ShareLink, now: dt.datetime) -> None:
        """One more download, unless the link is spent, expired or revoked meanwhile."""
        result = session.execute(
            update(ShareLink)
            .where(
                ShareLink.id == link.id,
                ShareLink.revoked_at.is_(None),
                ShareLink.expires_at > now,
                or_(
                    ShareLink.max_downloads.is_(None),
                    ShareLink.downloads < ShareLink.max_downloads,
                ),
            )
            .values(downloads=ShareLink.downloads + 1, last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LinkNotFound()

    def open_file(self, session: Session, node: Node) -> FileDownload:
        """An authorised read of the file's current version (the link authorised it)."""
        version = session.get(Version, node.current_version_id or "")
        content = None if version is None else session.get(Content, version.content_id)
        if version is None or content is None:
            raise LinkNotFound()
        return FileDownload.of(
            self.ctx, session, version, content, self.tree.name_of(session, node)
        )
