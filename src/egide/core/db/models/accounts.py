"""Users, global roles, groups, API tokens."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from egide.core.db.base import Base, UTCDateTime, new_id, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    #: Canonical form (NFC, lower case): unique, used to log in.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    #: argon2id PHC string; None for accounts that only sign in through SSO.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Sessions begun before this instant are over (set when the account is
    #: disabled): re-enabling it does not bring them back.
    sessions_valid_from: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Set when someone else chose the password (a one-time password, a reset):
    #: its sessions can do nothing but change it.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    #: "fr" or "en": the language of the mail sent to this user; None: the
    #: `language` setting.
    language: Mapped[str | None] = mapped_column(String(8))


class UserRole(Base):
    """A global role: `admin`, `dpo` or `security` (services.access.GlobalRole)."""

    __tablename__ = "user_roles"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GroupMember(Base):
    __tablename__ = "group_members"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ApiToken(Base):
    """An API token. Only a hash of its secret is stored; the secret is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: SHA-256 (hex) of the secret part: tokens carry 256 bits of randomness, so a
    #: fast hash is enough and lookups stay cheap (no password-style stretching).
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: Space-separated scopes (services.access.Scope values).
    scopes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
