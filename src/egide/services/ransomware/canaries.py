"""Canary (decoy) files per space (issue 8, item 1; docs/ransomware.md).

`CanaryService.enable` puts one decoy document in the root folder of a
space and in each of its first-level folders. They are real files, visible
to everyone who sees the folder: their name and their content say not to
touch them. Any write, rename or delete of one (or delete of a folder
holding one) by a user is certain detection (`Detector`).

The decoys are written by an administrator's command through the ordinary
write path (encrypted, versioned, audited as `file.write` by the acting
administrator), with the target resolved without a space role: placing a
decoy is administration (`space.admin`), not content work.
"""

from __future__ import annotations

import io
import zipfile

from sqlalchemy import select
from sqlalchemy.orm import Session

from egide.core.db.models import Node, Space
from egide.core.db.models.ransomware import RansomwareCanary
from egide.services.access.policy import Action, Principal, SpaceRole, authorize
from egide.services.audit.denials import records_denials
from egide.services.ransomware.detector import Detector
from egide.services.vault.base import VaultContext, not_found
from egide.services.vault.errors import AlreadyExists, NotAFile, ParentMissing
from egide.services.vault.files import FileService, OnCommit, StoredContent
from egide.services.vault.names import join_path
from egide.services.vault.tree import FILE, FOLDER
from egide.services.vault.types import VersionInfo

#: Sorted first in a folder, where an encryptor usually starts; says what it is.
CANARY_NAME = "!Fichier témoin Égide - ne pas modifier.docx"
#: At most this many folders get a decoy (the root and first-level folders).
MAX_FOLDERS = 50
_WARNING = (
    "Fichier témoin d'Égide. Ne l'ouvrez pas pour le modifier, ne le déplacez pas, ne le "
    "supprimez pas : toute modification suspend votre compte, car seul un rançongiciel le "
    "toucherait. / Égide decoy file: do not modify, move or delete it."
)


def decoy_document() -> bytes:
    """A small, valid DOCX whose text tells people not to touch it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.'
            'org/package/2006/content-types"><Default Extension="xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr(
            "word/document.xml",
            '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.'
            'openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>'
            f"{_WARNING}</w:t></w:r></w:p></w:body></w:document>",
        )
    return buffer.getvalue()


class _DecoyWriter(FileService):
    """The write path, with the target resolved without a space role and the
    canary row added in the version's transaction. Used by CanaryService only,
    after it authorised `space.admin`."""

    def _target(
        self,
        session: Session,
        actor: Principal,  # noqa: ARG002 - the caller authorised space.admin already
        space: Space,
        segments: list[str],
    ) -> tuple[Node, Node | None, SpaceRole]:
        node, rest = self.tree.resolve_deepest(session, space, segments)
        if not rest:
            if node.kind != FILE:
                raise NotAFile("A folder already has this name. Choose another file name.")
            parent = session.get(Node, node.parent_id)
            if parent is None:  # pragma: no cover - a live file always has a parent
                raise not_found()
            return parent, node, SpaceRole.MANAGER
        if len(rest) > 1 or node.kind != FOLDER:
            raise ParentMissing("The folder {path} does not exist. Create it first.", path="")
        return node, None, SpaceRole.MANAGER

    def _commit_in(
        self,
        session: Session,
        actor: Principal,
        space_id: str,
        segments: list[str],
        stored: StoredContent,
        *,
        if_match: str | None,
        if_none_match: bool,
        unique_name: bool = False,
        on_commit: OnCommit | None = None,
    ) -> VersionInfo:
        info = super()._commit_in(
            session,
            actor,
            space_id,
            segments,
            stored,
            if_match=if_match,
            if_none_match=if_none_match,
            unique_name=unique_name,
            on_commit=on_commit,
        )
        session.add(RansomwareCanary(node_id=info.node_id, space_id=space_id))
        return info


class CanaryService:
    def __init__(self, ctx: VaultContext, detector: Detector | None) -> None:
        self.db = ctx.db
        self.audit = ctx.audit
        self._writer = _DecoyWriter(ctx, detector)

    @records_denials
    def enable(self, actor: Principal, slug: str) -> list[str]:
        """Put a decoy in the space's root and first-level folders that lack one;
        returns the paths of the decoys written now."""
        authorize(actor, Action.SPACE_ADMIN)
        with self.db.read() as session:
            space = self._writer.tree.space_by_slug(session, slug.strip().lower())
            if space is None:
                raise not_found()
            tree = self._writer.tree
            folders: list[list[str]] = [[]]
            for child in tree.children(session, space.root_node_id):
                if child.kind == FOLDER and len(folders) < MAX_FOLDERS:
                    folders.append([tree.name_of(session, child)])
        written = []
        for folder in folders:
            path = join_path([*folder, CANARY_NAME])
            try:
                self._writer.write(actor, slug, path, [decoy_document()], if_none_match=True)
            except AlreadyExists:
                continue
            written.append(path)
        return written

    @records_denials
    def list(self, actor: Principal, slug: str) -> list[str]:
        """The paths of the space's decoys."""
        authorize(actor, Action.SPACE_ADMIN)
        with self.db.read() as session:
            tree = self._writer.tree
            space = tree.space_by_slug(session, slug.strip().lower())
            if space is None:
                raise not_found()
            nodes = session.scalars(
                select(Node)
                .join(RansomwareCanary, RansomwareCanary.node_id == Node.id)
                .where(RansomwareCanary.space_id == space.id)
            ).all()
            paths = [tree.path_of(session, space, node) for node in nodes]
            return sorted(join_path(p) for p in paths if p is not None)
