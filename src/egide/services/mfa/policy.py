"""Who must sign in with a second factor: the `mfa_required` setting (issue 5, item 3).

One rule, judged here only: `everyone` (the default, as the PGSSI-S asks for
access to health data), `admins` (users holding any global role: admin,
dpo, security), `groups` (members of the groups `mfa_groups` names), or
`none` (tests and development). The roles and groups are read as stored
now, so a role granted during a session applies at the next sign-in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from egide.core.config import Settings
from egide.core.db.models import Group, GroupMember, UserRole


class MfaMode(enum.StrEnum):
    EVERYONE = "everyone"
    ADMINS = "admins"
    GROUPS = "groups"
    NONE = "none"


@dataclass(frozen=True)
class MfaPolicy:
    mode: MfaMode = MfaMode.EVERYONE
    #: Canonical group names (lower case), for `groups`.
    groups: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> MfaPolicy:
        names = (n.strip().lower() for n in (settings.mfa_groups or "").split(","))
        return cls(MfaMode(settings.mfa_required), frozenset(n for n in names if n))

    def requires(self, session: Session, user_id: str) -> bool:
        """Whether the user must give a second factor to use a session."""
        if self.mode is MfaMode.EVERYONE:
            return True
        if self.mode is MfaMode.ADMINS:
            return bool(session.scalar(select(exists().where(UserRole.user_id == user_id))))
        if self.mode is MfaMode.GROUPS:
            member = (
                exists()
                .where(GroupMember.user_id == user_id, GroupMember.group_id == Group.id)
                .where(Group.name.in_(sorted(self.groups)))
            )
            return bool(session.scalar(select(member)))
        return False
