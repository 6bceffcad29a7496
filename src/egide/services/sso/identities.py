"""Which Égide account an external identity is (ADR 0016), and its mapped groups.

An identity is (issuer, subject). Its first log-in links it, through the
configured claim when the provider vouches for it, to an existing account or
to one created for it; every later log-in follows the link only. See
service.py for the whole flow.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from egide.core.clock import Clock
from egide.core.db import Database
from egide.core.db.models.sso import ExternalIdentity
from egide.core.errors import InvalidInput
from egide.services.access.policy import Principal, PrincipalKind
from egide.services.accounts.errors import GroupNotFound
from egide.services.accounts.records import canonical_name, find_user
from egide.services.accounts.service import AccountService
from egide.services.audit.actions import AuditAction
from egide.services.audit.recorder import AuditRecorder
from egide.services.sso.errors import SsoAccountLinked, SsoClaimUnusable, SsoUnknownUser

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SYSTEM = Principal.system()


def _user(user_id: str) -> Principal:
    return Principal(kind=PrincipalKind.USER, user_id=user_id, username="")


class IdentityLinks:
    """The `sso_identities` table and the accounts it leads to."""

    def __init__(
        self, db: Database, accounts: AccountService, *, clock: Clock, audit: AuditRecorder
    ) -> None:
        self.db = db
        self.accounts = accounts
        self.clock = clock
        self.audit = audit

    def linked_user(self, issuer: str, subject: str) -> str | None:
        """The account the identity is linked to, if it is."""
        with self.db.read() as session:
            return session.scalars(
                select(ExternalIdentity.user_id).where(
                    ExternalIdentity.issuer == issuer, ExternalIdentity.subject == subject
                )
            ).one_or_none()

    def user_for(
        self, issuer: str, claims: Mapping[str, Any], *, user_claim: str, create_users: bool
    ) -> str:
        """The id of the Égide user this identity is: linked, matched or created."""
        subject = str(claims["sub"])
        now = self.clock.now()
        with self.db.write() as session:
            linked = session.scalars(
                select(ExternalIdentity).where(
                    ExternalIdentity.issuer == issuer, ExternalIdentity.subject == subject
                )
            ).one_or_none()
            if linked is not None:
                linked.last_login_at = now
                return linked.user_id
        name = _claimed_name(user_claim, claims)
        with self.db.read() as session:
            user = find_user(session, name)
        if user is None:
            if not create_users:
                raise SsoUnknownUser()
            created = self.accounts.create_user(
                _SYSTEM,
                name,
                password=None,
                display_name=_display_name(claims),
                email=_verified_email(claims),
            )
            user_id = created.id
        else:
            user_id = user.id
        return self._link(user_id, issuer, subject, now)

    def _link(self, user_id: str, issuer: str, subject: str, now: dt.datetime) -> str:
        try:
            with self.db.write() as session:
                other = session.scalars(
                    select(ExternalIdentity.id).where(
                        ExternalIdentity.user_id == user_id, ExternalIdentity.issuer == issuer
                    )
                ).first()
                if other is not None:
                    # Someone else at the provider now bears this name: never hand them
                    # the account another identity of the same provider signs in to.
                    raise SsoAccountLinked()
                identity = ExternalIdentity(
                    user_id=user_id,
                    issuer=issuer,
                    subject=subject,
                    created_at=now,
                    last_login_at=now,
                )
                session.add(identity)
                session.flush()
                self.audit.record(
                    session,
                    actor=_user(user_id),
                    action=AuditAction.SSO_LINK,
                    target={"user": user_id, "identity": identity.id},
                )
        except SQLIntegrityError:
            # The same identity's first two log-ins raced: the other one linked it.
            with self.db.read() as session:
                linked = session.scalars(
                    select(ExternalIdentity.user_id).where(
                        ExternalIdentity.issuer == issuer, ExternalIdentity.subject == subject
                    )
                ).one_or_none()
            if linked is None:  # pragma: no cover - the constraint that failed says it exists
                raise
            return linked
        return user_id

    def sync_groups(
        self,
        username: str,
        claims: Mapping[str, Any],
        *,
        group_claim: str | None,
        group_map: Mapping[str, str],
    ) -> None:
        """Make the user's membership of each mapped Égide group follow the provider's.

        A missing group claim counts as no group: losing a mapped group is the
        safe side of a misconfiguration. Groups outside the map are left alone.
        """
        if not group_claim or not group_map:
            return
        raw = claims.get(group_claim)
        held: set[str] = set()
        if isinstance(raw, str):
            held = {raw}
        elif isinstance(raw, list):
            held = {g for g in raw if isinstance(g, str)}
        wanted = _targets(group_map, held)
        for group in sorted(set(group_map.values())):
            try:
                if group in wanted:
                    self.accounts.add_member(_SYSTEM, group, username)
                else:
                    self.accounts.remove_member(_SYSTEM, group, username)
            except GroupNotFound:
                log.warning("oidc_group_map names an Égide group that does not exist")


def _claimed_name(claim: str, claims: Mapping[str, Any]) -> str:
    """The Égide username the configured claim names, if the provider vouches for it."""
    value = claims.get(claim)
    # OpenID Connect Core 5.7: only `sub` (with `iss`) is stable and unique; an
    # e-mail address is the user's only once the provider has verified it.
    if claim == "email" and claims.get("email_verified") is not True:
        raise SsoClaimUnusable(claim)
    if not isinstance(value, str):
        raise SsoClaimUnusable(claim)
    try:
        return canonical_name(value)
    except InvalidInput:
        raise SsoClaimUnusable(claim) from None


def _targets(group_map: Mapping[str, str], held: Iterable[str]) -> set[str]:
    return {group_map[g] for g in held if g in group_map}


def _display_name(claims: Mapping[str, Any]) -> str:
    name = claims.get("name")
    if not isinstance(name, str):
        parts = [claims.get("given_name"), claims.get("family_name")]
        name = " ".join(p for p in parts if isinstance(p, str))
    return name.strip()[:200]


def _verified_email(claims: Mapping[str, Any]) -> str | None:
    email = claims.get("email")
    if claims.get("email_verified") is not True or not isinstance(email, str):
        return None
    return email if len(email) <= 320 and _EMAIL.fullmatch(email) else None
