"""File requests: upload-only links to a folder (issue 7, item 3; ADR 25).

A recipient who opened a request (its password, their address) sends files
into the request's folder and sees nothing of it: no listing, no name, and a
name already taken becomes "name (2).ext" without the recipient being told
(the answer repeats the name they sent).

Each file goes through the full write path, `FileService.write` (encryption,
version, quota, audit, ransomware detection, antivirus), acting as the
request's creator **as of now** (roles and groups re-read), restricted to
the `files:write` scope and marked with the link (`Principal.link_id`): if
the creator lost the right to write into the folder, or their account is
disabled, uploads stop with the neutral 404.

Sizes are checked before a byte is read: the announced size against the
per-file limit, then one conditional UPDATE reserves it in the request's
totals (concurrent uploads cannot overshoot them). A body longer than
announced is cut off mid-stream and nothing of it is kept; a failed upload
gives its reservation back. The `filerequest.upload` audit entry is written
in the transaction that stores the version.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from egide.core.db.models import Node, Space, User, Version
from egide.core.db.models.sharing import ShareLink
from egide.core.errors import Forbidden, NotFound
from egide.services.access import grants
from egide.services.access.policy import Action, Decision, Principal, Scope, decide
from egide.services.accounts.records import load_principal
from egide.services.audit.actions import AuditAction
from egide.services.ransomware.errors import PrincipalContained
from egide.services.sharing.common import display_name
from egide.services.sharing.errors import LinkNotFound, RequestFolderFull, RequestTooLarge
from egide.services.sharing.types import LinkView, ReceivedFile
from egide.services.vault.base import VaultContext
from egide.services.vault.errors import QuotaExceeded
from egide.services.vault.files import FileService
from egide.services.vault.names import check_name, join_path
from egide.services.vault.tree import Tree

SYSTEM: Final = Principal.system()
_WRITE_ONLY: Final = frozenset({Scope.FILES_WRITE})


@dataclass(frozen=True)
class _Plan:
    link_id: str
    space_id: str
    slug: str
    #: Where the file goes: the request's folder as it is named now, and the name sent.
    path: str
    name: str
    size: int
    actor: Principal
    email: str | None


class FileRequests:
    def __init__(self, ctx: VaultContext, files: FileService) -> None:
        self.ctx = ctx
        self.db = ctx.db
        self.clock = ctx.clock
        self.audit = ctx.audit
        self.files = files
        self.tree = Tree(ctx.keyring)

    def view(self, session: Session, link: ShareLink, email: str | None) -> LinkView:
        """What a recipient of a request sees: the sender, the expiry, what may still be
        sent. Nothing of the folder, not even its name."""
        files_left = None
        if link.max_files is not None:
            files_left = max(0, link.max_files - link.received_files)
        return LinkView(
            needs=(),
            kind=link.kind,
            sender=display_name(session, link.created_by),
            expires_at=link.expires_at,
            verified_email=email,
            max_file_bytes=link.max_file_bytes,
            bytes_left=_bytes_left(link),
            files_left=files_left,
        )

    def plan(
        self,
        session: Session,
        link: ShareLink,
        space: Space,
        folder: Node,
        *,
        email: str | None,
        name: str,
        size: int,
    ) -> _Plan:
        """Check what can be checked before the body: the name, the sizes, the creator's
        right to write into the folder now."""
        name = check_name(name)
        if size < 0:
            raise RequestTooLarge("Give the size of the file you send.")
        if link.max_file_bytes is not None and size > link.max_file_bytes:
            raise RequestTooLarge(
                "This file is too large for this request: it accepts files of {maximum} "
                "bytes at most. Send a smaller file, or ask the person who sent the request "
                "for a new one.",
                maximum=link.max_file_bytes,
            )
        actor = self._creator(session, link, folder)
        segments = self.tree.path_of(session, space, folder)
        if segments is None:
            raise LinkNotFound()
        return _Plan(
            link_id=link.id,
            space_id=space.id,
            slug=space.slug,
            path=join_path([*segments, name]),
            name=name,
            size=size,
            actor=actor,
            email=email,
        )

    def receive(self, plan: _Plan, source: Iterable[bytes]) -> ReceivedFile:
        """Reserve the announced size, stream the body through the write path, record it."""
        self._reserve(plan)
        try:
            self.files.write(
                plan.actor,
                plan.slug,
                plan.path,
                _at_most(source, plan.size),
                size_hint=plan.size,
                unique_name=True,
                on_commit=lambda session, node, version: self._received(
                    session, plan, node, version
                ),
            )
        except (NotFound, Forbidden, PrincipalContained):
            self._release(plan)
            # The creator lost the folder or the right to write there, or is contained
            # (ransomware): the request stops, and says no more than any closed link.
            raise LinkNotFound() from None
        except QuotaExceeded:
            self._release(plan)
            # The space's quota is the hospital's business: the sender only learns that
            # the file was not taken, and whom to tell.
            raise RequestFolderFull() from None
        except BaseException:
            self._release(plan)
            raise
        return ReceivedFile(name=plan.name, size=plan.size)

    # Steps -------------------------------------------------------------------

    def _creator(self, session: Session, link: ShareLink, folder: Node) -> Principal:
        """The request's creator as of now, restricted to writing, marked with the link."""
        user = session.get(User, link.created_by or "")
        if user is None or user.is_disabled:
            raise LinkNotFound()
        actor = dataclasses.replace(
            load_principal(session, user, scopes=_WRITE_ONLY), link_id=link.id
        )
        role = grants.effective_role(session, actor, folder.id)
        if decide(actor, Action.FILE_WRITE, role) is not Decision.ALLOW:
            raise LinkNotFound()
        return actor

    def _reserve(self, plan: _Plan) -> None:
        with self.db.write() as session:
            now = self.clock.now()
            reserved = session.execute(
                update(ShareLink)
                .where(
                    ShareLink.id == plan.link_id,
                    ShareLink.revoked_at.is_(None),
                    ShareLink.expires_at > now,
                    ShareLink.received_bytes + plan.size <= ShareLink.max_total_bytes,
                    or_(
                        ShareLink.max_files.is_(None),
                        ShareLink.received_files < ShareLink.max_files,
                    ),
                )
                .values(
                    received_bytes=ShareLink.received_bytes + plan.size,
                    received_files=ShareLink.received_files + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if reserved.rowcount == 1:  # type: ignore[attr-defined]
                return
            link = session.get(ShareLink, plan.link_id)
        if link is None:
            raise LinkNotFound()
        if link.max_files is not None and link.received_files >= link.max_files:
            raise RequestTooLarge(
                "This request has received all the files it accepts. Ask the person who "
                "sent it for a new one."
            )
        raise RequestTooLarge(
            "This request cannot take this file: it accepts {left} more bytes in all. Send "
            "smaller files, or ask the person who sent the request for a new one.",
            left=_bytes_left(link) or 0,
        )

    def _release(self, plan: _Plan) -> None:
        with self.db.write() as session:
            session.execute(
                update(ShareLink)
                .where(ShareLink.id == plan.link_id)
                .values(
                    received_bytes=ShareLink.received_bytes - plan.size,
                    received_files=ShareLink.received_files - 1,
                )
                .execution_options(synchronize_session=False)
            )

    def _received(self, session: Session, plan: _Plan, node: Node, version: Version) -> None:
        """In the transaction of the new version: the request still open, its total set
        to the size actually received, the audit entry."""
        now = self.clock.now()
        still = session.execute(
            update(ShareLink)
            .where(
                ShareLink.id == plan.link_id,
                ShareLink.revoked_at.is_(None),
                ShareLink.expires_at > now,
            )
            .values(
                received_bytes=ShareLink.received_bytes + (version.size - plan.size),
                last_used_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if still.rowcount != 1:  # type: ignore[attr-defined]
            raise LinkNotFound()  # revoked or expired while the body streamed: not stored
        stored = self.tree.name_of(session, node)
        self.audit.record(
            session,
            actor=SYSTEM,
            action=AuditAction.FILEREQUEST_UPLOAD,
            target={
                "space": plan.space_id,
                "node": node.id,
                "version": version.id,
                "link": plan.link_id,
            },
            details={"size": version.size, "renamed": stored != plan.name},
            # Names are patient data: sealed, never in the leaf.
            context={"recipient": plan.email, "name": plan.name, "stored_as": stored},
        )


def _bytes_left(link: ShareLink) -> int | None:
    if link.max_total_bytes is None:
        return None
    return max(0, link.max_total_bytes - link.received_bytes)


def _at_most(source: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The body, refused as soon as it runs past the size it announced (a lying client):
    the write path then keeps nothing."""
    seen = 0
    for chunk in source:
        seen += len(chunk)
        if seen > size:
            raise RequestTooLarge(
                "The file is longer than the size announced for it (Content-Length). "
                "Nothing of it was kept: send it again."
            )
        yield chunk
