"""Opening a link without an account: password, one-time code, downloads (issue 7, item 2).

A recipient proves things step by step, and a short link session remembers
them (a server-side row, `share_link_sessions`, whose random cookie value is
stored as SHA-256 only; ADR 21): the link's password if it has one, then
their address if the link asks for it, with a 6-digit code mailed to it.
Nothing of the content (not even a name) is shown before both.

Every answer for a link that cannot be opened, whether unknown, expired,
revoked, exhausted or in the trash, is the same `LinkNotFound`; guesses and
wrong passwords or codes are throttled by `guard.py`.

Downloads are counted with one conditional UPDATE (the limit holds however
many downloads run at once). Each event is an audit entry written in the
transaction of what it records; the recipient's verified address goes in the
sealed context, never in the leaf. The actor of these entries is the system
(the server acting on the link), and the target names the link.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import argon2
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from egide.core.db.models import Node, Space
from egide.core.db.models.sharing import ShareLink, ShareLinkRecipient, ShareLinkSession
from egide.services.access.policy import Principal
from egide.services.accounts.passwords import default_hasher, verify_password
from egide.services.audit.actions import AuditAction
from egide.services.mail.message import check_address
from egide.services.mail.outbox import Outbox
from egide.services.sharing import link_sessions
from egide.services.sharing.common import (
    REQUEST,
    display_name,
    link_state,
    recipients_of,
    token_hash,
)
from egide.services.sharing.content import LinkContent
from egide.services.sharing.errors import (
    InvalidLinkInput,
    LinkCodeWrong,
    LinkLocked,
    LinkNotFound,
    LinkPasswordWrong,
)
from egide.services.sharing.guard import Guessed, LinkGuard
from egide.services.sharing.mail import code_mail
from egide.services.sharing.requests import FileRequests
from egide.services.sharing.types import LinkFile, LinkPass, LinkView, ReceivedFile
from egide.services.sharing.zipstream import ZipEntry
from egide.services.vault.base import VaultContext, VaultServiceBase
from egide.services.vault.files import FileDownload, FileService
from egide.services.vault.tree import FOLDER

SYSTEM: Final = Principal.system()
#: A one-time code lasts this long, and allows this many tries (issue 7, item 2).
CODE_LIFETIME: Final = dt.timedelta(minutes=10)
CODE_TRIES: Final = 5
#: A new code is not mailed to the same address sooner than this (no mail bombing).
RESEND_AFTER: Final = dt.timedelta(seconds=60)
_CODE: Final = re.compile(r"[0-9]{6}")
#: Longer than any token we issue: refused before hashing.
_MAX_TOKEN: Final = 200


@dataclass(frozen=True)
class LinkDownload:
    file: FileDownload
    path: str


@dataclass(frozen=True)
class LinkZip:
    #: The folder's name, for the archive's file name.
    name: str
    entries: tuple[ZipEntry, ...]


@dataclass(frozen=True)
class _Opened:
    link: ShareLink
    space: Space
    root: Node
    session: ShareLinkSession | None
    needs: tuple[str, ...]
    email: str | None


class LinkAccessService(VaultServiceBase):
    """The recipient's side of links; every method takes the token as given."""

    def __init__(
        self,
        ctx: VaultContext,
        outbox: Outbox,
        *,
        hasher: argon2.PasswordHasher | None = None,
        files: FileService | None = None,
    ) -> None:
        super().__init__(ctx)
        self.outbox = outbox
        self.content = LinkContent(ctx)
        #: File requests write through the full write path (`FileService.write`).
        self.requests = FileRequests(ctx, files or FileService(ctx))
        self._hasher = hasher or default_hasher()
        self.guard = LinkGuard(ctx.db, ctx.clock, ctx.settings)

    @functools.cached_property
    def _dummy(self) -> str:
        return self._hasher.hash(secrets.token_urlsafe(16))

    # Steps -------------------------------------------------------------------

    def open(self, token: str, cookie: str | None) -> LinkView:
        """What the recipient may see now: only what is still needed, else the content."""
        with self.guard.guarded(), self.db.write() as session:
            opened = self._open(session, token, cookie)
            if opened.needs:
                return LinkView(needs=opened.needs)
            link = opened.link
            now = self.clock.now()
            session.execute(
                update(ShareLink)
                .where(ShareLink.id == link.id)
                .values(opens=ShareLink.opens + 1, last_used_at=now)
                .execution_options(synchronize_session=False)
            )
            if link.kind == REQUEST:
                self._audit(
                    session, AuditAction.LINK_OPEN, link, opened.email, details={"kind": REQUEST}
                )
                return self.requests.view(session, opened.link, opened.email)
            files = self.content.files(session, opened.root)
            self._audit(
                session,
                AuditAction.LINK_OPEN,
                link,
                opened.email,
                details={"kind": link.kind, "files": len(files)},
            )
            left = None
            if link.max_downloads is not None:
                left = max(0, link.max_downloads - link.downloads)
            return LinkView(
                needs=(),
                kind=link.kind,
                name=self.tree.name_of(session, opened.root),
                sender=display_name(session, link.created_by),
                expires_at=link.expires_at,
                downloads_left=left,
                files=tuple(
                    LinkFile(path=p, name=p.rsplit("/", 1)[-1], size=s) for p, _, s in files
                ),
                verified_email=opened.email,
            )

    def give_password(self, token: str, cookie: str | None, password: str) -> LinkPass:
        """Check the link's password; a new link session remembers it."""
        with self.guard.guarded() as address:
            with self.db.read() as session:
                opened = self._open(session, token, cookie)
                self.guard.check_link(opened.link.id)
                stored = opened.link.password_hash
            if stored is not None and not (
                isinstance(password, str) and verify_password(self._hasher, stored, password)
            ):
                self._wrong(opened.link, address, step="password", email=None)
                raise LinkPasswordWrong()
            with self.db.write() as session:
                opened = self._open(session, token, cookie)
                return self._new_session(
                    session, opened, password_ok=True, recipient_id=None, step="password"
                )

    def send_code(
        self, token: str, cookie: str | None, email: str, *, language: str | None = None
    ) -> None:
        """Mail a one-time code to `email` if it is one of the link's recipients.

        Returns the same (nothing) whether it is or not, so recipients cannot be
        probed; a code is not mailed twice to one address within a minute.
        """
        address_text = check_address(email, field="email")
        lang = language if language in ("fr", "en") else self.ctx.settings.language
        unknown = False
        with self.guard.guarded(), self.db.write() as session:
            opened = self._open(session, token, cookie, for_code=True)
            link = opened.link
            if not link.require_verification:
                return
            recipient = _match(recipients_of(session, link.id), address_text)
            now = self.clock.now()
            code = f"{secrets.randbelow(1_000_000):06d}"
            if recipient is None:
                self._hasher.hash(code)  # the same work either way: no timing oracle
                unknown = True
            elif recipient.code_sent_at is not None and now - recipient.code_sent_at < RESEND_AFTER:
                return
            else:
                recipient.code_hash = self._hasher.hash(code)
                recipient.code_expires_at = now + CODE_LIFETIME
                recipient.code_attempts = 0
                recipient.code_sent_at = now
                text = code_mail(
                    lang,
                    sender=display_name(session, link.created_by),
                    kind=link.kind,
                    code=code,
                    minutes=int(CODE_LIFETIME.total_seconds() // 60),
                    url=self.ctx.settings.resolved_public_url,
                )
                self.outbox.enqueue(
                    session,
                    idempotency_key=f"link-code.{recipient.id}.{int(now.timestamp() * 1e6)}",
                    recipient=recipient.email,
                    kind="link-code",
                    subject=text.subject,
                    body_text=text.body_text,
                    language=lang,
                )
                self._audit(
                    session,
                    AuditAction.LINK_CODE_SENT,
                    link,
                    recipient.email,
                    recipient_id=recipient.id,
                )
        if unknown:
            self.audit.record_denied(
                self.db,
                actor=SYSTEM,
                action=AuditAction.LINK_CODE_SENT,
                target=self._target(link),
                details={"reason": "not-a-recipient"},
                context={"recipient": address_text},
            )

    def confirm_code(self, token: str, cookie: str | None, email: str, code: str) -> LinkPass:
        """Check a mailed code; a new link session remembers the verified address."""
        address_text = check_address(email, field="email")
        with self.guard.guarded() as address:
            stored: str | None = None
            with self.db.write() as session:
                opened = self._open(session, token, cookie, for_code=True)
                link = opened.link
                self.guard.check_link(link.id)
                recipient = _match(recipients_of(session, link.id), address_text)
                now = self.clock.now()
                if (
                    recipient is not None
                    and recipient.code_hash is not None
                    and recipient.code_expires_at is not None
                    and recipient.code_expires_at > now
                ):
                    # Counted before the check, in a committed transaction: a sixth try
                    # finds the code used up, whatever runs at the same time.
                    counted = session.execute(
                        update(ShareLinkRecipient)
                        .where(
                            ShareLinkRecipient.id == recipient.id,
                            ShareLinkRecipient.code_attempts < CODE_TRIES,
                        )
                        .values(code_attempts=ShareLinkRecipient.code_attempts + 1)
                        .execution_options(synchronize_session=False)
                    )
                    if counted.rowcount == 1:  # type: ignore[attr-defined]
                        stored = recipient.code_hash
            well_formed = isinstance(code, str) and _CODE.fullmatch(code) is not None
            right = verify_password(
                self._hasher, stored or self._dummy, code if well_formed else ""
            )
            if stored is None or not well_formed or not right:
                self._wrong(link, address, step="code", email=address_text)
                raise LinkCodeWrong()
            with self.db.write() as session:
                opened = self._open(session, token, cookie, for_code=True)
                recipient = session.get(ShareLinkRecipient, recipient.id if recipient else "")
                if recipient is None or recipient.code_hash != stored:
                    raise LinkCodeWrong()  # used by a concurrent confirmation
                recipient.code_hash = None
                recipient.verified_at = self.clock.now()
                return self._new_session(
                    session,
                    opened,
                    password_ok=opened.session is not None and opened.session.password_ok,
                    recipient_id=recipient.id,
                    step="code",
                    email=recipient.email,
                )

    def receive(
        self, token: str, cookie: str | None, name: str, source: Iterable[bytes], size: int
    ) -> ReceivedFile:
        """Store a file sent through a file request (ADR 25): `size` bytes announced,
        checked against what the request still accepts before a byte is read; a body
        longer than announced is refused and nothing of it is kept."""
        with self.guard.guarded():
            with self.db.read() as session:
                opened = self._open(session, token, cookie)
                if opened.link.kind != REQUEST:
                    raise LinkNotFound()
                if opened.needs:
                    raise LinkLocked()
                plan = self.requests.plan(
                    session,
                    opened.link,
                    opened.space,
                    opened.root,
                    email=opened.email,
                    name=name,
                    size=size,
                )
            # No transaction held while the body streams.
            return self.requests.receive(plan, source)

    def download(self, token: str, cookie: str | None, path: str) -> LinkDownload:
        """A file of the link, counted as one download; refused past the limit."""
        with self.guard.guarded(), self.db.write() as session:
            opened = self._open(session, token, cookie)
            if opened.link.kind == REQUEST:
                raise LinkNotFound()  # a file request shows nothing of its folder
            if opened.needs:
                raise LinkLocked()
            node, relative = self.content.file_at(session, opened.space, opened.root, path)
            self.content.count(session, opened.link, self.clock.now())
            download = self.content.open_file(session, node)
            self._audit(
                session,
                AuditAction.LINK_DOWNLOAD,
                opened.link,
                opened.email,
                node_id=node.id,
                details={"size": download.size, "zip": False},
                extra={"path": relative},
            )
            return LinkDownload(file=download, path=relative)

    def zip(self, token: str, cookie: str | None) -> LinkZip:
        """Every file of a folder link, to stream as one zip; counted as one download."""
        with self.guard.guarded(), self.db.write() as session:
            opened = self._open(session, token, cookie)
            if opened.link.kind == REQUEST:
                raise LinkNotFound()
            if opened.needs:
                raise LinkLocked()
            if opened.root.kind != FOLDER:
                raise InvalidLinkInput(
                    "This link is to a single file: download it instead of a zip.", field="path"
                )
            files = self.content.files(session, opened.root)
            self.content.count(session, opened.link, self.clock.now())
            entries = []
            for relative, node, size in files:
                download = self.content.open_file(session, node)
                entries.append(
                    ZipEntry(
                        name=relative,
                        size=size,
                        modified_at=download.modified_at,
                        chunks=download.iter_bytes,
                    )
                )
            self._audit(
                session,
                AuditAction.LINK_DOWNLOAD,
                opened.link,
                opened.email,
                details={"size": sum(s for _, _, s in files), "zip": True, "files": len(files)},
            )
            return LinkZip(name=self.tree.name_of(session, opened.root), entries=tuple(entries))

    def _wrong(
        self,
        link: ShareLink,
        address: str | None,
        *,
        step: str,
        email: str | None,
    ) -> None:
        self.guard.wrong(link.id, address)
        self.audit.record_denied(
            self.db,
            actor=SYSTEM,
            action=AuditAction.LINK_VERIFY,
            target=self._target(link),
            details={"step": step, "reason": f"wrong-{step}"},
            context=None if email is None else {"recipient": email},
        )

    def _open(
        self,
        session: Session,
        token: str,
        cookie: str | None,
        *,
        for_code: bool = False,
    ) -> _Opened:
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN:
            raise Guessed()
        link = session.scalars(
            select(ShareLink).where(ShareLink.token_hash == token_hash(token))
        ).one_or_none()
        now = self.clock.now()
        if link is None or link_state(link, now) != "active":
            raise Guessed()
        space = session.get(Space, link.space_id)
        root = session.get(Node, link.node_id)
        if space is None or root is None or not self.tree.is_live(session, space, root.id):
            raise Guessed()
        row = link_sessions.find(session, link, cookie, now)
        email = None
        if row is not None and row.recipient_id is not None:
            recipient = session.get(ShareLinkRecipient, row.recipient_id)
            email = None if recipient is None else recipient.email
        needs = link_sessions.needs(
            link, password_ok=row is not None and row.password_ok, verified=email is not None
        )
        if for_code and "password" in needs:
            raise LinkLocked()  # the password comes first: no code mailed without it
        return _Opened(link, space, root, row, needs, email)

    def _new_session(
        self,
        session: Session,
        opened: _Opened,
        *,
        password_ok: bool,
        recipient_id: str | None,
        step: str,
        email: str | None = None,
    ) -> LinkPass:
        """Replace the recipient's session with one holding what was just proved."""
        issued = link_sessions.replace(
            session,
            opened.link,
            opened.session,
            password_ok=password_ok,
            recipient_id=recipient_id,
            now=self.clock.now(),
        )
        self._audit(session, AuditAction.LINK_VERIFY, opened.link, email, details={"step": step})
        left = link_sessions.needs(
            opened.link, password_ok=issued.password_ok, verified=issued.recipient_id is not None
        )
        return LinkPass(cookie=issued.cookie, expires_at=issued.expires_at, view=LinkView(left))

    # Audit -------------------------------------------------------------------

    @staticmethod
    def _target(link: ShareLink) -> dict[str, str | None]:
        return {"space": link.space_id, "node": link.node_id, "link": link.id}

    def _audit(
        self,
        session: Session,
        action: AuditAction,
        link: ShareLink,
        email: str | None,
        *,
        node_id: str | None = None,
        recipient_id: str | None = None,
        details: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        target = self._target(link)
        if node_id is not None:
            target["node"] = node_id
        if recipient_id is not None:
            target["recipient"] = recipient_id
        context: dict[str, Any] = {"recipient": email}
        context.update(extra or {})
        self.audit.record(
            session, actor=SYSTEM, action=action, target=target, details=details, context=context
        )


def _match(recipients: list[ShareLinkRecipient], address: str) -> ShareLinkRecipient | None:
    wanted = address.casefold()
    for recipient in recipients:
        if secrets.compare_digest(recipient.email.casefold().encode(), wanted.encode()):
            return recipient
    return None
