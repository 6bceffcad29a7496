"""The one policy that decides every action: pure, table-driven, default deny.

Every door and service asks `decide` (or `authorize`, which raises) before it
acts; nothing else in Égide grants or refuses access. The database side
(which role a principal holds on a node) lives in `grants.py`; this module
only judges.

Two kinds of action (ARCHITECTURE.md, "Decisions that shape everything"):

- content actions need a space role on the target (reader < contributor <
  manager), inherited from the folders above it. Global administrators do not
  read or write content: they get no role from being admins, with one
  exception, they may list and change the memberships of any space, because
  managing who works where is administration;
- administrative actions need a global role (`admin`, `dpo`, `security`).

API tokens carry scopes that can only restrict what their user may do, never
add to it. A token that lacks the `admin` scope also loses the administrator's
exception above: it sees the world as a plain user would.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from egide.core.errors import EgideError
from egide.services.access.errors import (
    ActionForbidden,
    GlobalRoleRequired,
    NoSuchItem,
    RoleTooLow,
    ScopeMissing,
)


class SpaceRole(enum.StrEnum):
    """A role on a space or folder, ordered: reader < contributor < manager.

    Comparisons use the rank, not the text: as a `str`, "manager" would sort
    before "reader", which is exactly the mistake this ordering prevents.
    """

    READER = "reader"
    CONTRIBUTOR = "contributor"
    MANAGER = "manager"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SpaceRole):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, SpaceRole):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, SpaceRole):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, SpaceRole):
            return NotImplemented
        return self.rank >= other.rank

    @classmethod
    def parse(cls, value: str) -> SpaceRole | None:
        """The role named `value`, or None when the text names no role."""
        try:
            return cls(value)
        except ValueError:
            return None


_ROLE_RANK: Final[Mapping[SpaceRole, int]] = MappingProxyType(
    {SpaceRole.READER: 1, SpaceRole.CONTRIBUTOR: 2, SpaceRole.MANAGER: 3}
)


class GlobalRole(enum.StrEnum):
    ADMIN = "admin"
    DPO = "dpo"
    SECURITY = "security"


class Scope(enum.StrEnum):
    """What an API token may be used for (the `scopes` column of api_tokens)."""

    FILES_READ = "files:read"
    FILES_WRITE = "files:write"
    SHARES_MANAGE = "shares:manage"
    ADMIN = "admin"
    AUDIT_READ = "audit:read"


class Action(enum.StrEnum):
    """Everything the policy decides; the values double as audit action names."""

    # Content actions: need a role on the target node.
    FOLDER_LIST = "folder.list"
    FILE_READ = "file.read"
    VERSION_LIST = "version.list"
    FILE_WRITE = "file.write"
    FOLDER_CREATE = "folder.create"
    NODE_MOVE = "node.move"
    NODE_DELETE = "node.delete"
    TRASH_LIST = "trash.list"
    TRASH_RESTORE = "trash.restore"
    VERSION_RESTORE = "version.restore"
    #: Put a space or folder back as it was at an instant (ADR 24).
    SPACE_RESTORE = "space.restore"
    GRANT_LIST = "grant.list"
    GRANT_MANAGE = "grant.manage"
    LINK_CREATE = "link.create"
    LINK_LIST = "link.list"
    LINK_MANAGE = "link.manage"
    # Administrative actions: need a global role.
    SPACE_CREATE = "space.create"
    SPACE_ADMIN = "space.admin"
    SPACE_LIST_ALL = "space.list_all"
    USER_MANAGE = "user.manage"
    GROUP_MANAGE = "group.manage"
    KEY_ROTATE = "key.rotate"
    MAINTENANCE = "maintenance.run"
    AUDIT_READ = "audit.read"
    AUDIT_ERASE = "audit.erase"
    INCIDENT_MANAGE = "incident.manage"
    LINK_LIST_ALL = "link.list_all"


class PrincipalKind(enum.StrEnum):
    USER = "user"
    #: The local administrator at the command line, who has file-system access
    #: to the data directory anyway.
    SYSTEM = "system"


@dataclass(frozen=True)
class Principal:
    """Who acts: a user (through a session or a token) or the local system."""

    kind: PrincipalKind
    user_id: str | None
    username: str
    global_roles: frozenset[GlobalRole] = field(default_factory=frozenset)
    group_ids: frozenset[str] = field(default_factory=frozenset)
    #: None for an interactive session or the local CLI: every scope.
    scopes: frozenset[Scope] | None = None
    token_id: str | None = None
    #: The web session acting, when the caller came with a session cookie (set
    #: by the web door): ransomware windows are kept per session (issue 8).
    session_id: str | None = None
    #: The external link acting (an upload through a file request, issue 7):
    #: an outside door, which the antivirus policy treats more strictly.
    link_id: str | None = None

    def __post_init__(self) -> None:
        # A principal is built in a few places only; a malformed one is a bug
        # that must fail loudly rather than be judged.
        if (self.kind is PrincipalKind.USER) != (self.user_id is not None):
            raise ValueError("a user principal has a user id, the system principal none")

    @classmethod
    def system(cls) -> Principal:
        # "(system)" cannot be a username (usernames start with a letter or a
        # digit), so audit entries never confuse the two.
        return cls(
            kind=PrincipalKind.SYSTEM,
            user_id=None,
            username="(system)",
            global_roles=frozenset(GlobalRole),
        )

    @property
    def is_system(self) -> bool:
        return self.kind is PrincipalKind.SYSTEM

    def allows_scope(self, scope: Scope) -> bool:
        return self.scopes is None or scope in self.scopes

    def holds(self, role: GlobalRole) -> bool:
        return self.is_system or role in self.global_roles

    @property
    def is_admin(self) -> bool:
        """Acts as an administrator now: holds `admin` and is not restricted by a token."""
        return self.holds(GlobalRole.ADMIN) and self.allows_scope(Scope.ADMIN)


class Decision(enum.Enum):
    ALLOW = "allow"
    #: The caller cannot see the target: answer as if it did not exist.
    HIDDEN = "hidden"
    #: The caller sees the target but may not perform the action.
    FORBIDDEN = "forbidden"


@dataclass(frozen=True)
class ContentRule:
    least: SpaceRole
    scope: Scope
    #: Administrators may perform it on any space, whatever their role there.
    admin_anywhere: bool = False


@dataclass(frozen=True)
class AdminRule:
    roles: frozenset[GlobalRole]
    scope: Scope


Rule = ContentRule | AdminRule

_ADMIN_ONLY: Final = frozenset({GlobalRole.ADMIN})
# Managers decide who works in their space; administrators may on every space.
_MEMBERSHIP: Final = ContentRule(SpaceRole.MANAGER, Scope.SHARES_MANAGE, admin_anywhere=True)

# The whole policy. An action missing here is refused (tests check that every
# Action has an entry, so a new action cannot ship without a decision).
_RULES: Mapping[Action, Rule] = MappingProxyType(
    {
        Action.FOLDER_LIST: ContentRule(SpaceRole.READER, Scope.FILES_READ),
        Action.FILE_READ: ContentRule(SpaceRole.READER, Scope.FILES_READ),
        Action.VERSION_LIST: ContentRule(SpaceRole.READER, Scope.FILES_READ),
        Action.FILE_WRITE: ContentRule(SpaceRole.CONTRIBUTOR, Scope.FILES_WRITE),
        Action.FOLDER_CREATE: ContentRule(SpaceRole.CONTRIBUTOR, Scope.FILES_WRITE),
        Action.NODE_MOVE: ContentRule(SpaceRole.CONTRIBUTOR, Scope.FILES_WRITE),
        Action.NODE_DELETE: ContentRule(SpaceRole.CONTRIBUTOR, Scope.FILES_WRITE),
        Action.TRASH_LIST: ContentRule(SpaceRole.CONTRIBUTOR, Scope.FILES_WRITE),
        Action.TRASH_RESTORE: ContentRule(SpaceRole.CONTRIBUTOR, Scope.FILES_WRITE),
        Action.VERSION_RESTORE: ContentRule(SpaceRole.CONTRIBUTOR, Scope.FILES_WRITE),
        # Rewinding a whole folder overrides everyone's work in it since: its
        # managers' call, or an administrator's (ADR 24).
        Action.SPACE_RESTORE: ContentRule(
            SpaceRole.MANAGER, Scope.FILES_WRITE, admin_anywhere=True
        ),
        Action.GRANT_LIST: _MEMBERSHIP,
        Action.GRANT_MANAGE: _MEMBERSHIP,
        # External links (issue 7, ADR 21): the people who work on a record send it;
        # revoking someone else's link is a manager's (or an administrator's) call.
        Action.LINK_CREATE: ContentRule(SpaceRole.CONTRIBUTOR, Scope.SHARES_MANAGE),
        Action.LINK_LIST: ContentRule(SpaceRole.CONTRIBUTOR, Scope.SHARES_MANAGE),
        Action.LINK_MANAGE: ContentRule(
            SpaceRole.MANAGER, Scope.SHARES_MANAGE, admin_anywhere=True
        ),
        Action.LINK_LIST_ALL: AdminRule(_ADMIN_ONLY, Scope.ADMIN),
        Action.SPACE_CREATE: AdminRule(_ADMIN_ONLY, Scope.ADMIN),
        Action.SPACE_ADMIN: AdminRule(_ADMIN_ONLY, Scope.ADMIN),
        Action.SPACE_LIST_ALL: AdminRule(_ADMIN_ONLY, Scope.ADMIN),
        Action.USER_MANAGE: AdminRule(_ADMIN_ONLY, Scope.ADMIN),
        Action.GROUP_MANAGE: AdminRule(_ADMIN_ONLY, Scope.ADMIN),
        Action.KEY_ROTATE: AdminRule(_ADMIN_ONLY, Scope.ADMIN),
        Action.MAINTENANCE: AdminRule(_ADMIN_ONLY, Scope.ADMIN),
        # Security officers investigate incidents: they read the log too.
        Action.AUDIT_READ: AdminRule(
            frozenset({GlobalRole.ADMIN, GlobalRole.DPO, GlobalRole.SECURITY}), Scope.AUDIT_READ
        ),
        # Erasing personal contexts (a GDPR request) is the DPO's alone: an
        # administrator covering their tracks must not be able to (the erasure is
        # itself an audit event, and the leaves stay).
        Action.AUDIT_ERASE: AdminRule(frozenset({GlobalRole.DPO}), Scope.ADMIN),
        Action.INCIDENT_MANAGE: AdminRule(
            frozenset({GlobalRole.ADMIN, GlobalRole.SECURITY}), Scope.ADMIN
        ),
    }
)

#: Scopes of content actions: any user may hold them, a role still decides.
CONTENT_SCOPES: Final = frozenset({Scope.FILES_READ, Scope.FILES_WRITE, Scope.SHARES_MANAGE})


def rule_for(action: Action) -> Rule | None:
    return _RULES.get(action)


def is_content_action(action: Action) -> bool:
    return isinstance(_RULES.get(action), ContentRule)


class _Reason(enum.Enum):
    OK = "ok"
    NOT_VISIBLE = "not-visible"
    ROLE = "role"
    SCOPE = "scope"
    GLOBAL_ROLE = "global-role"
    NO_RULE = "no-rule"


@dataclass(frozen=True)
class _Verdict:
    decision: Decision
    reason: _Reason
    rule: Rule | None = None


def _judge_admin(principal: Principal, rule: AdminRule) -> _Verdict:
    if not (principal.is_system or principal.global_roles & rule.roles):
        return _Verdict(Decision.FORBIDDEN, _Reason.GLOBAL_ROLE, rule)
    if not principal.allows_scope(rule.scope):
        return _Verdict(Decision.FORBIDDEN, _Reason.SCOPE, rule)
    return _Verdict(Decision.ALLOW, _Reason.OK, rule)


def _judge_content(principal: Principal, rule: ContentRule, role: SpaceRole | None) -> _Verdict:
    if principal.is_system:
        # The local administrator holds no space role, whatever a caller passes.
        role = None
    by_admin = rule.admin_anywhere and principal.is_admin
    if role is None and not by_admin:
        return _Verdict(Decision.HIDDEN, _Reason.NOT_VISIBLE, rule)
    if (role is None or role < rule.least) and not by_admin:
        return _Verdict(Decision.FORBIDDEN, _Reason.ROLE, rule)
    if not principal.allows_scope(rule.scope):
        return _Verdict(Decision.FORBIDDEN, _Reason.SCOPE, rule)
    return _Verdict(Decision.ALLOW, _Reason.OK, rule)


def _judge(principal: Principal, action: Action, role: SpaceRole | None) -> _Verdict:
    rule = _RULES.get(action)
    if isinstance(rule, AdminRule):
        return _judge_admin(principal, rule)
    if isinstance(rule, ContentRule):
        return _judge_content(principal, rule, role)
    # Default deny. Whether the target is visible is not known here, so hide
    # it unless the caller already holds a role on it.
    hidden = role is None or principal.is_system
    return _Verdict(Decision.HIDDEN if hidden else Decision.FORBIDDEN, _Reason.NO_RULE)


def decide(principal: Principal, action: Action, role: SpaceRole | None = None) -> Decision:
    """Whether `principal` may perform `action`.

    For a content action, `role` is the principal's effective role on the
    target (`grants.effective_role`), None when it holds none; administrative
    actions ignore it.
    """
    return _judge(principal, action, role).decision


def authorize(
    principal: Principal, action: Action, role: SpaceRole | None = None, *, what: str = "item"
) -> None:
    """Return if `decide` allows the action, else raise the error to show the caller.

    HIDDEN raises `NoSuchItem` (a NotFound naming `what`: "file", "folder",
    "space"...), FORBIDDEN an `ActionForbidden` that says what is missing.
    """
    verdict = _judge(principal, action, role)
    if verdict.decision is Decision.ALLOW:
        return
    # Every refusal names what was attempted, so the audit log records it.
    raise _refusal(verdict, action, what).denied(action.value)


def _refusal(verdict: _Verdict, action: Action, what: str) -> EgideError:
    if verdict.decision is Decision.HIDDEN:
        return NoSuchItem(what)
    rule = verdict.rule
    if verdict.reason is _Reason.SCOPE and rule is not None:
        return ScopeMissing(action.value, rule.scope.value)
    if verdict.reason is _Reason.ROLE and isinstance(rule, ContentRule):
        return RoleTooLow(action.value, rule.least.value)
    if verdict.reason is _Reason.GLOBAL_ROLE and isinstance(rule, AdminRule):
        return GlobalRoleRequired(action.value, " or ".join(sorted(rule.roles)))
    return ActionForbidden("This action ({action}) is not allowed.", action=action.value)


def grantable_scopes(principal: Principal) -> frozenset[Scope]:
    """Scopes an API token of `principal` may carry.

    Content scopes are open to everyone (a space role still decides each
    action). A scope used by administrative actions only goes to a holder of a
    global role that some of those actions accept: `admin` to administrators,
    to security officers (incident.manage needs it) and to DPOs (audit.erase
    needs it; it makes neither an administrator), `audit:read` to
    administrators and DPOs. A token never exceeds the principal's own scopes.
    """
    scopes = set(CONTENT_SCOPES)
    for rule in _RULES.values():
        if isinstance(rule, AdminRule) and any(principal.holds(r) for r in rule.roles):
            scopes.add(rule.scope)
    if principal.scopes is not None:
        scopes &= principal.scopes
    return frozenset(scopes)
