"""What the account service hands out, and the queries every part of it shares.

The `*Info` dataclasses are frozen snapshots: callers never get an ORM row
they could change outside a transaction.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from egide.core.db.models import ApiToken, Group, GroupMember, User, UserRole
from egide.core.errors import InvalidInput
from egide.services.access.policy import GlobalRole, Principal, PrincipalKind, Scope
from egide.services.accounts.errors import GroupNotFound, UserNotFound

#: Lower-case ASCII: a name is typed at log-in and in `user:<name>` references,
#: so it must look the same on every keyboard and never hide a homoglyph.
_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{2,63}")


@dataclass(frozen=True)
class UserInfo:
    id: str
    username: str
    display_name: str
    email: str | None
    is_disabled: bool
    global_roles: frozenset[GlobalRole]
    created_at: dt.datetime


@dataclass(frozen=True)
class GroupInfo:
    id: str
    name: str
    description: str
    member_count: int


@dataclass(frozen=True)
class TokenInfo:
    id: str
    user_id: str
    name: str
    scopes: frozenset[Scope]
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


def canonical_name(raw: str, *, field: str = "username", what: str = "username") -> str:
    """The canonical form of a username or group name (NFC, lower case), or InvalidInput."""
    name = unicodedata.normalize("NFC", raw.strip()).lower()
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            "A {what} has 3 to 64 characters: letters a to z, digits, and '.', '_', '@' "
            "or '-' (not first). For example jean.dupont or cardiologie.",
            field=field,
            what=what,
        )
    return name


def parse_global_roles(roles: Iterable[GlobalRole | str]) -> frozenset[GlobalRole]:
    parsed = set()
    for role in roles:
        try:
            parsed.add(GlobalRole(role))
        except ValueError:
            raise InvalidInput(
                "Unknown role {role}. The global roles are admin, dpo and security.",
                field="roles",
                role=str(role),
            ) from None
    return frozenset(parsed)


def stored_global_roles(session: Session, user_id: str) -> frozenset[GlobalRole]:
    rows = session.scalars(select(UserRole.role).where(UserRole.user_id == user_id))
    # A role text that names no role gives nothing (default deny).
    return frozenset(GlobalRole(r) for r in rows if r in GlobalRole.__members__.values())


def user_info(session: Session, user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        is_disabled=user.is_disabled,
        global_roles=stored_global_roles(session, user.id),
        created_at=user.created_at,
    )


def token_info(token: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        user_id=token.user_id,
        name=token.name,
        scopes=parse_stored_scopes(token.scopes),
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


def parse_stored_scopes(text: str) -> frozenset[Scope]:
    # An unknown scope in the row is dropped: scopes only ever restrict.
    return frozenset(Scope(s) for s in text.split() if s in Scope.__members__.values())


def find_user(session: Session, username: str) -> User | None:
    """The user with this name (any spelling that canonicalises to it), or None."""
    try:
        name = canonical_name(username)
    except InvalidInput:
        return None
    return session.scalars(select(User).where(User.username == name)).one_or_none()


def get_user_row(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise UserNotFound(username)
    return user


def get_group_row(session: Session, name: str) -> Group:
    try:
        canonical = canonical_name(name, field="group", what="group name")
    except InvalidInput:
        raise GroupNotFound(name) from None
    group = session.scalars(select(Group).where(Group.name == canonical)).one_or_none()
    if group is None:
        raise GroupNotFound(name)
    return group


def load_principal(
    session: Session,
    user: User,
    *,
    scopes: frozenset[Scope] | None = None,
    token_id: str | None = None,
) -> Principal:
    """The principal for an enabled user: its global roles and groups as stored now."""
    group_ids = session.scalars(select(GroupMember.group_id).where(GroupMember.user_id == user.id))
    return Principal(
        kind=PrincipalKind.USER,
        user_id=user.id,
        username=user.username,
        global_roles=stored_global_roles(session, user.id),
        group_ids=frozenset(group_ids),
        scopes=scopes,
        token_id=token_id,
    )


def resolve_principal_ref(session: Session, ref: str) -> tuple[str, str]:
    """`user:<username>` or `group:<name>` -> ("user" | "group", id).

    Raises InvalidInput(field="principal") when malformed, NotFound when the
    user or group does not exist.
    """
    kind, sep, name = ref.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in ("user", "group") or not name.strip():
        raise InvalidInput(
            "A principal is written user:<username> or group:<group name>, for example "
            "user:jean.dupont or group:cardiologie.",
            field="principal",
        )
    if kind == "user":
        return "user", get_user_row(session, name).id
    return "group", get_group_row(session, name).id
