"""Sharing from the sender's side: links made, listed and revoked, the spaces' link
policies, and what colleagues shared with me (issue 7, items 1, 2 and 4).

Who may do what is the policy's (`access/policy.py`):

- `link.create`: a contributor of the item (the people who work on a record
  send it; readers only read), with a token scope `shares:manage`;
- `link.list`: the same role, on the item whose links are listed;
- revoking: the link's creator, or `link.manage` (a manager of the item, or
  an administrator anywhere);
- `link.list_all`: administrators, for `GET /api/v1/links?all=true`;
- a space's link policy: `space.admin` (administrators).

Internal shares are grants (`SpaceService.grant`, on a folder or a file);
this module only lists them for the people they were given to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import argon2
from sqlalchemy import and_, delete, or_, select, update

from egide.core.db.models import Grant, Group, Node, Space
from egide.core.db.models.sharing import (
    ShareLink,
    ShareLinkRecipient,
    ShareLinkSession,
    SpaceLinkPolicy,
)
from egide.core.errors import InvalidInput
from egide.services.access import grants
from egide.services.access.policy import Action, Decision, Principal, SpaceRole, authorize, decide
from egide.services.accounts.passwords import (
    MAX_LENGTH,
    check_password_policy,
    default_hasher,
    hash_password,
)
from egide.services.audit.actions import AuditAction
from egide.services.audit.denials import records_denials
from egide.services.mail.message import check_address
from egide.services.ransomware.detector import refuse_contained
from egide.services.sharing.common import (
    DEFAULT_DAYS,
    REQUEST,
    display_name,
    link_info,
    new_token,
    policy_of,
    token_hash,
)
from egide.services.sharing.errors import InvalidLinkInput, LinksForbidden
from egide.services.sharing.types import LinkCreated, LinkInfo, LinkPolicy, SharedItem
from egide.services.vault.base import VaultContext, VaultServiceBase, not_found
from egide.services.vault.names import join_path, split_path
from egide.services.vault.tree import FOLDER

#: Addresses one link may be bound to.
MAX_RECIPIENTS = 50
#: Downloads one link may allow, at most.
MAX_DOWNLOADS = 10_000
#: Rows a listing returns, at most (newest first).
MAX_LISTED = 1000
#: Files one file request may be set to accept, at most.
MAX_REQUEST_FILES = 10_000


class ShareService(VaultServiceBase):
    def __init__(self, ctx: VaultContext, *, hasher: argon2.PasswordHasher | None = None) -> None:
        super().__init__(ctx)
        self._hasher = hasher or default_hasher()

    # Shared with me ----------------------------------------------------------

    @records_denials
    def shared_with_me(self, actor: Principal) -> list[SharedItem]:
        """Folders and files given to me or my groups in spaces where I hold no role on the
        whole space; newest first. Read at each call: a revoked grant is gone at once."""
        if actor.is_system or actor.user_id is None:
            return []
        holders = [and_(Grant.principal_kind == "user", Grant.principal_id == actor.user_id)]
        if actor.group_ids:
            holders.append(
                and_(Grant.principal_kind == "group", Grant.principal_id.in_(actor.group_ids))
            )
        with self.db.read() as session:
            rows = session.execute(
                select(Grant, Node, Space)
                .join(Node, Node.id == Grant.node_id)
                .join(Space, Space.id == Grant.space_id)
                .where(or_(*holders), Grant.node_id != Space.root_node_id)
                .order_by(Grant.created_at.desc(), Grant.id)
                .limit(MAX_LISTED)
            ).all()
            members_of = {
                space_id
                for space_id, root in session.execute(
                    select(Space.id, Space.root_node_id).where(
                        Space.id.in_({grant.space_id for grant, _, _ in rows})
                    )
                )
                if grants.effective_role(session, actor, root) is not None
            }
            items = []
            for grant, node, space in rows:
                if space.id in members_of or SpaceRole.parse(grant.role) is None:
                    continue
                segments = self.tree.path_of(session, space, node)
                if segments is None:
                    continue  # in the trash: nothing to open
                group = session.get(Group, grant.principal_id)
                items.append(
                    SharedItem(
                        space=space.slug,
                        path=join_path(segments),
                        name=segments[-1] if segments else "/",
                        kind=node.kind,
                        role=grant.role,
                        shared_by=display_name(session, grant.created_by),
                        shared_at=grant.created_at,
                        via_group=group.name if grant.principal_kind == "group" and group else None,
                    )
                )
            return items

    # Links -------------------------------------------------------------------

    @records_denials
    def create_link(
        self,
        actor: Principal,
        slug: str,
        path: str,
        *,
        expires_at: dt.datetime | None = None,
        password: str | None = None,
        max_downloads: int | None = None,
        recipients: Sequence[str] = (),
        require_verification: bool = True,
    ) -> LinkCreated:
        """A link to the file or folder at `path`; its token is in the answer, once."""
        if max_downloads is not None and not 1 <= max_downloads <= MAX_DOWNLOADS:
            raise InvalidLinkInput(
                "The download limit must be between 1 and {maximum}, or left out for none.",
                field="max_downloads",
                maximum=MAX_DOWNLOADS,
            )
        return self._make(
            actor,
            slug,
            path,
            expires_at=expires_at,
            password=password,
            recipients=recipients,
            require_verification=require_verification,
            limits={"max_downloads": max_downloads},
        )

    @records_denials
    def create_request(
        self,
        actor: Principal,
        slug: str,
        path: str,
        *,
        expires_at: dt.datetime | None = None,
        password: str | None = None,
        recipients: Sequence[str] = (),
        require_verification: bool = True,
        max_file_bytes: int | None = None,
        max_total_bytes: int | None = None,
        max_files: int | None = None,
    ) -> LinkCreated:
        """A file request: an upload-only link to the folder at `path` (ADR 25). Sizes
        left out take the `file_request_max_bytes` setting; the token is shown once."""
        default = self.ctx.settings.file_request_max_bytes
        total = max_total_bytes
        if total is None:
            total = default if max_file_bytes is None else max(default, max_file_bytes)
        per_file = min(default, total) if max_file_bytes is None else max_file_bytes
        if per_file < 1 or total < 1:
            raise InvalidLinkInput(
                "Size limits are counted in bytes and must be at least 1.", field="max_file_bytes"
            )
        if per_file > total:
            raise InvalidLinkInput(
                "The largest file cannot be above the total the request accepts: raise the "
                "total or lower the limit per file.",
                field="max_file_bytes",
            )
        if max_files is not None and not 1 <= max_files <= MAX_REQUEST_FILES:
            raise InvalidLinkInput(
                "The number of files must be between 1 and {maximum}, or left out for none.",
                field="max_files",
                maximum=MAX_REQUEST_FILES,
            )
        return self._make(
            actor,
            slug,
            path,
            expires_at=expires_at,
            password=password,
            recipients=recipients,
            require_verification=require_verification,
            limits={"max_file_bytes": per_file, "max_total_bytes": total, "max_files": max_files},
            request=True,
        )

    def _make(
        self,
        actor: Principal,
        slug: str,
        path: str,
        *,
        expires_at: dt.datetime | None,
        password: str | None,
        recipients: Sequence[str],
        require_verification: bool,
        limits: dict[str, int | None],
        request: bool = False,
    ) -> LinkCreated:
        addresses = _check_recipients(recipients)
        if require_verification and not addresses:
            raise InvalidLinkInput(
                "A link that asks recipients to verify their address needs at least one "
                "recipient: give their e-mail addresses.",
                field="recipients",
            )
        if password is not None:
            if len(password) > MAX_LENGTH:
                raise InvalidLinkInput(
                    "The password is too long: at most {maximum} characters.",
                    field="password",
                    maximum=MAX_LENGTH,
                )
            check_password_policy("", password)
        password_hash = None if password is None else hash_password(self._hasher, password)
        token = new_token()
        with self.db.write() as session:
            # A contained user (ransomware) makes no link: it would carry data out.
            refuse_contained(session, actor, Action.LINK_CREATE.value)
            space = self._space(session, slug)
            segments = split_path(path)
            node, role = self._locate_with_role(session, actor, space, segments, Action.LINK_CREATE)
            if node.id == space.root_node_id:
                raise InvalidLinkInput(
                    "A link gives a folder or a file, never a whole space: choose a folder.",
                    field="path",
                )
            if request and node.kind != FOLDER:
                raise InvalidLinkInput(
                    "A file request receives files into a folder: choose a folder.", field="path"
                )
            policy = policy_of(session, space, self.ctx.settings.links_max_days)
            if not policy.links_allowed:
                raise LinksForbidden().denied(
                    Action.LINK_CREATE.value, {"space": space.id, "node": node.id}
                )
            if policy.verification_required and not require_verification:
                raise InvalidLinkInput(
                    "Links in this space must ask recipients to verify their e-mail address: "
                    "keep verification on and give their addresses.",
                    field="require_verification",
                )
            now = self.clock.now()
            expiry = _check_expiry(expires_at, now, policy.max_days)
            link = ShareLink(
                token_hash=token_hash(token),
                space_id=space.id,
                node_id=node.id,
                kind=REQUEST if request else node.kind,
                created_by=actor.user_id,
                created_at=now,
                expires_at=expiry,
                password_hash=password_hash,
                require_verification=require_verification,
                downloads=0,
                opens=0,
                received_bytes=0,
                received_files=0,
                **limits,
            )
            session.add(link)
            session.flush()
            for address in addresses:
                session.add(ShareLinkRecipient(link_id=link.id, email=address, code_attempts=0))
            session.flush()
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.LINK_CREATE,
                target={"space": space.id, "node": node.id, "link": link.id},
                details={
                    "kind": link.kind,
                    "expires_at": expiry.isoformat(),
                    "password": password is not None,
                    "verification": require_verification,
                    **limits,
                    "recipients": len(addresses),
                },
                # Addresses are personal data: sealed, never in the leaf.
                context={"path": join_path(segments), "role": str(role), "recipients": addresses},
            )
            return LinkCreated(link=link_info(session, self.tree, link, now), token=token)

    @records_denials
    def links_of(self, actor: Principal, slug: str, path: str) -> list[LinkInfo]:
        """Every link (active or not) made to the file or folder at `path`, newest first."""
        with self.db.read() as session:
            space = self._space(session, slug)
            node = self._locate(session, actor, space, split_path(path), Action.LINK_LIST)
            links = session.scalars(
                select(ShareLink)
                .where(ShareLink.node_id == node.id)
                .order_by(ShareLink.created_at.desc(), ShareLink.id)
                .limit(MAX_LISTED)
            )
            now = self.clock.now()
            return [link_info(session, self.tree, link, now) for link in links]

    @records_denials
    def list_links(self, actor: Principal, *, all_links: bool = False) -> list[LinkInfo]:
        """The links I made, newest first; every link for an administrator asking `all_links`."""
        if all_links:
            authorize(actor, Action.LINK_LIST_ALL)
        with self.db.read() as session:
            query = select(ShareLink).order_by(ShareLink.created_at.desc(), ShareLink.id)
            if not all_links:
                query = query.where(ShareLink.created_by == (actor.user_id or ""))
            now = self.clock.now()
            return [
                link_info(session, self.tree, link, now)
                for link in session.scalars(query.limit(MAX_LISTED))
            ]

    @records_denials
    def revoke_link(self, actor: Principal, link_id: str) -> LinkInfo:
        """Withdraw a link at once: its token, its codes and its recipients' sessions stop
        working. Its creator may; so may a manager of its item, or an administrator."""
        with self.db.write() as session:
            link = session.get(ShareLink, link_id)
            if link is None:
                raise not_found()
            target = {"space": link.space_id, "node": link.node_id, "link": link.id}
            if actor.user_id is None or link.created_by != actor.user_id:
                role = self._role(session, actor, link.node_id)
                if decide(actor, Action.LINK_MANAGE, role) is Decision.HIDDEN:
                    raise not_found().denied(Action.LINK_MANAGE.value, target)
                authorize(actor, Action.LINK_MANAGE, role)
            now = self.clock.now()
            if link.revoked_at is None:
                link.revoked_at = now
                link.revoked_by = actor.user_id
                # Open link sessions and pending codes die with the link.
                session.execute(delete(ShareLinkSession).where(ShareLinkSession.link_id == link.id))
                session.execute(
                    update(ShareLinkRecipient)
                    .where(ShareLinkRecipient.link_id == link.id)
                    .values(code_hash=None)
                    .execution_options(synchronize_session=False)
                )
                session.flush()
                self.audit.record(
                    session, actor=actor, action=AuditAction.LINK_REVOKE, target=target
                )
            return link_info(session, self.tree, link, now)

    # Policy ------------------------------------------------------------------

    @records_denials
    def link_policy(self, actor: Principal, slug: str) -> LinkPolicy:
        """A space's link policy, for anyone who can see the space."""
        with self.db.read() as session:
            space = self._space(session, slug)
            sees_all = decide(actor, Action.SPACE_LIST_ALL) is Decision.ALLOW
            if not sees_all and space.id not in grants.visible_space_ids(session, actor):
                raise not_found()
            return policy_of(session, space, self.ctx.settings.links_max_days)

    @records_denials
    def set_link_policy(
        self,
        actor: Principal,
        slug: str,
        *,
        links_allowed: bool | None = None,
        max_days: int | None = None,
        verification_required: bool | None = None,
    ) -> LinkPolicy:
        """Change what a space allows (administrators); unset arguments stay as they are.

        `max_days` 0 goes back to the setting `links_max_days`; above it is refused.
        """
        authorize(actor, Action.SPACE_ADMIN)
        ceiling = self.ctx.settings.links_max_days
        if max_days is not None and not 0 <= max_days <= ceiling:
            raise InvalidInput(
                "The longest expiry must be between 1 and {ceiling} days (the setting "
                "links_max_days), or 0 for that setting.",
                field="max_days",
                ceiling=ceiling,
            )
        with self.db.write() as session:
            space = self._space(session, slug)
            row = session.get(SpaceLinkPolicy, space.id)
            if row is None:
                row = SpaceLinkPolicy(
                    space_id=space.id, links_allowed=True, verification_required=True
                )
                session.add(row)
            if links_allowed is not None:
                row.links_allowed = links_allowed
            if verification_required is not None:
                row.verification_required = verification_required
            if max_days is not None:
                row.max_days = max_days or None
            row.updated_at = self.clock.now()
            row.updated_by = actor.user_id
            session.flush()
            policy = policy_of(session, space, ceiling)
            self.audit.record(
                session,
                actor=actor,
                action=AuditAction.LINK_POLICY,
                target={"space": space.id},
                details={
                    "links_allowed": policy.links_allowed,
                    "max_days": policy.max_days,
                    "verification_required": policy.verification_required,
                },
            )
            return policy


def _check_recipients(recipients: Sequence[str]) -> list[str]:
    """Bare, deduplicated addresses (`mail.message.check_address`: no header can be
    injected through them), in the order given."""
    if len(recipients) > MAX_RECIPIENTS:
        raise InvalidLinkInput(
            "A link may be bound to at most {maximum} addresses.",
            field="recipients",
            maximum=MAX_RECIPIENTS,
        )
    seen: dict[str, str] = {}
    for raw in recipients:
        address = check_address(raw.strip() if isinstance(raw, str) else raw, field="recipients")
        seen.setdefault(address.casefold(), address)
    return list(seen.values())


def _check_expiry(expires_at: dt.datetime | None, now: dt.datetime, max_days: int) -> dt.datetime:
    latest = now + dt.timedelta(days=max_days)
    if expires_at is None:
        return min(now + dt.timedelta(days=DEFAULT_DAYS), latest)
    if expires_at.tzinfo is None:
        raise InvalidLinkInput(
            "Give the expiry with its time zone, for example 2026-12-07T18:00:00+01:00.",
            field="expires_at",
        )
    if expires_at <= now:
        raise InvalidLinkInput("The expiry must be in the future.", field="expires_at")
    # A minute of slack: the page computed "in N days" a moment ago.
    if expires_at > latest + dt.timedelta(minutes=1):
        raise InvalidLinkInput(
            "Links here expire after {days} days at most. Choose an earlier date.",
            field="expires_at",
            days=max_days,
        )
    return min(expires_at.astimezone(dt.UTC), latest)
