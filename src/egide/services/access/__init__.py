"""Access control: the one policy module (`policy`) and the role queries (`grants`)."""

from egide.services.access.errors import (
    ActionForbidden,
    GlobalRoleRequired,
    NoSuchItem,
    RoleTooLow,
    ScopeMissing,
)
from egide.services.access.grants import (
    GrantInfo,
    effective_role,
    list_grants,
    remove_grant,
    set_grant,
    visible_space_ids,
)
from egide.services.access.policy import (
    Action,
    Decision,
    GlobalRole,
    Principal,
    PrincipalKind,
    Scope,
    SpaceRole,
    authorize,
    decide,
)

__all__ = [
    "Action",
    "ActionForbidden",
    "Decision",
    "GlobalRole",
    "GlobalRoleRequired",
    "GrantInfo",
    "NoSuchItem",
    "Principal",
    "PrincipalKind",
    "RoleTooLow",
    "Scope",
    "ScopeMissing",
    "SpaceRole",
    "authorize",
    "decide",
    "effective_role",
    "list_grants",
    "remove_grant",
    "set_grant",
    "visible_space_ids",
]
