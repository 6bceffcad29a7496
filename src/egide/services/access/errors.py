"""Errors raised when the access policy refuses an action.

    NotFound
    └── NoSuchItem             the target is missing or hidden from the caller
    Forbidden
    └── ActionForbidden        the target is visible, the action is refused
        ├── RoleTooLow         the space role on the target is below the one needed
        ├── ScopeMissing       the API token does not carry the action's scope
        └── GlobalRoleRequired the action is reserved to a global role

`NoSuchItem` keeps the plain `not-found` code on purpose: a door must answer a
hidden target exactly as a missing one (same status, same problem type, same
message), or the difference would tell an outsider that the target exists.
Code that finds a target missing should raise `NoSuchItem` too.
"""

from __future__ import annotations

from egide.core.errors import Forbidden, NotFound


class NoSuchItem(NotFound):
    """Missing, or not visible to the caller: the two must look the same."""

    def __init__(self, what: str = "item") -> None:
        super().__init__("No such {what}, or you do not have access to it.", what=what)


class ActionForbidden(Forbidden):
    """The caller sees the target but may not perform the action."""

    code = "action-forbidden"


class RoleTooLow(ActionForbidden):
    code = "role-too-low"

    def __init__(self, action: str, needed: str) -> None:
        super().__init__(
            "Your role does not allow this action ({action}). Ask a manager of the space "
            "for the {needed} role.",
            action=action,
            needed=needed,
        )


class ScopeMissing(ActionForbidden):
    code = "token-scope-missing"

    def __init__(self, action: str, scope: str) -> None:
        super().__init__(
            "This API token does not allow this action ({action}): it lacks the {scope} "
            "scope. Create a token with that scope, or sign in.",
            action=action,
            scope=scope,
        )


class GlobalRoleRequired(ActionForbidden):
    code = "global-role-required"

    def __init__(self, action: str, roles: str) -> None:
        super().__init__(
            "This action ({action}) is reserved to the {roles} role. Ask an administrator.",
            action=action,
            roles=roles,
        )
