"""The access policy, checked against a decision table written out by hand.

Each row of EXPECTED is an action; each column a principal (PRINCIPALS order);
each cell four letters, the decision with no role on the target, then as
reader, contributor, manager (one letter: the same for all four).
A = allow, H = hidden (answer not found), F = forbidden.
"""

from __future__ import annotations

import pytest

from egide.core.errors import Forbidden, NotFound
from egide.services.access import policy
from egide.services.access.errors import (
    GlobalRoleRequired,
    NoSuchItem,
    RoleTooLow,
    ScopeMissing,
)
from egide.services.access.policy import (
    Action,
    AdminRule,
    ContentRule,
    Decision,
    GlobalRole,
    Principal,
    PrincipalKind,
    Scope,
    SpaceRole,
    authorize,
    decide,
    grantable_scopes,
    is_content_action,
    rule_for,
)

S = Scope


def _user(*roles: GlobalRole, scopes: set[Scope] | None = None, name: str = "someone") -> Principal:
    return Principal(
        kind=PrincipalKind.USER,
        user_id=f"id-{name}",
        username=name,
        global_roles=frozenset(roles),
        group_ids=frozenset({"g1"}),
        scopes=None if scopes is None else frozenset(scopes),
        token_id=None if scopes is None else "tok",
    )


A, D, SEC = GlobalRole.ADMIN, GlobalRole.DPO, GlobalRole.SECURITY

PRINCIPALS: dict[str, Principal] = {
    "user": _user(),
    "admin": _user(A),
    "dpo": _user(D),
    "sec": _user(SEC),
    "system": Principal.system(),
    "tok_r": _user(scopes={S.FILES_READ}),
    "tok_rw": _user(scopes={S.FILES_READ, S.FILES_WRITE}),
    "tok_sh": _user(scopes={S.SHARES_MANAGE}),
    "adm_tok_files": _user(A, scopes={S.FILES_READ, S.FILES_WRITE, S.SHARES_MANAGE}),
    "adm_tok_admin": _user(A, scopes={S.ADMIN, S.SHARES_MANAGE}),
    "adm_tok_admin_only": _user(A, scopes={S.ADMIN}),
    "dpo_tok_audit": _user(D, scopes={S.AUDIT_READ}),
}

ROLES: tuple[SpaceRole | None, ...] = (
    None,
    SpaceRole.READER,
    SpaceRole.CONTRIBUTOR,
    SpaceRole.MANAGER,
)

# fmt: off
#            user admin dpo  sec  system tok_r tok_rw tok_sh adm_f adm_a adm_ao dpo_a
_READ =     "HAAA HAAA HAAA HAAA HHHH  HAAA  HAAA   HFFF   HAAA  HFFF  HFFF   HFFF"
_WRITE =    "HFAA HFAA HFAA HFAA HHHH  HFFF  HFAA   HFFF   HFAA  HFFF  HFFF   HFFF"
_GRANT =    "HFFA AAAA HFFA HFFA AAAA  HFFF  HFFF   HFFA   HFFA  AAAA  FFFF   HFFF"
_ADMIN =    "F    A    F    F    A     F     F      F      F     A     A      F"
_AUDIT =    "F    A    A    A    A     F     F      F      F     F     F      A"
_ERASE =    "F    F    A    F    A     F     F      F      F     F     F      F"
_INCIDENT = "F    A    F    A    A     F     F      F      F     A     A      F"
_LINK =     "HFAA HFAA HFAA HFAA HHHH  HFFF  HFFF   HFAA   HFAA  HFAA  HFFF   HFFF"
_RESTORE =  "HFFA AAAA HFFA HFFA AAAA  HFFF  HFFA   HFFF   HFFA  FFFF  FFFF   HFFF"
EXPECTED: dict[Action, str] = {
    Action.FOLDER_LIST: _READ, Action.FILE_READ: _READ, Action.VERSION_LIST: _READ,
    Action.FILE_WRITE: _WRITE, Action.FOLDER_CREATE: _WRITE, Action.NODE_MOVE: _WRITE,
    Action.NODE_DELETE: _WRITE, Action.TRASH_LIST: _WRITE, Action.TRASH_RESTORE: _WRITE,
    Action.VERSION_RESTORE: _WRITE, Action.SPACE_RESTORE: _RESTORE,
    Action.GRANT_LIST: _GRANT, Action.GRANT_MANAGE: _GRANT,
    Action.SPACE_CREATE: _ADMIN, Action.SPACE_ADMIN: _ADMIN, Action.SPACE_LIST_ALL: _ADMIN,
    Action.USER_MANAGE: _ADMIN, Action.GROUP_MANAGE: _ADMIN, Action.KEY_ROTATE: _ADMIN,
    Action.MAINTENANCE: _ADMIN,
    Action.AUDIT_READ: _AUDIT, Action.AUDIT_ERASE: _ERASE,
    Action.INCIDENT_MANAGE: _INCIDENT,
    Action.LINK_CREATE: _LINK, Action.LINK_LIST: _LINK, Action.LINK_MANAGE: _GRANT,
    Action.LINK_LIST_ALL: _ADMIN,
}
# fmt: on

_LETTER = {"A": Decision.ALLOW, "H": Decision.HIDDEN, "F": Decision.FORBIDDEN}


def _expected(action: Action, principal_name: str, role: SpaceRole | None) -> Decision:
    cells = dict(zip(PRINCIPALS, EXPECTED[action].split(), strict=True))
    cell = cells[principal_name]
    cell = cell * 4 if len(cell) == 1 else cell
    return _LETTER[cell[ROLES.index(role)]]


CASES = [(action, name, role) for action in EXPECTED for name in PRINCIPALS for role in ROLES]


@pytest.mark.parametrize(("action", "name", "role"), CASES)
def test_decision_table(action: Action, name: str, role: SpaceRole | None) -> None:
    assert decide(PRINCIPALS[name], action, role) is _expected(action, name, role)


def test_the_table_covers_every_action() -> None:
    assert set(EXPECTED) == set(Action)


def test_every_action_has_a_rule() -> None:
    missing = [action for action in Action if rule_for(action) is None]
    assert missing == []


def test_rules_match_the_documented_kinds_and_scopes() -> None:
    content = {
        Action.FOLDER_LIST: S.FILES_READ,
        Action.FILE_READ: S.FILES_READ,
        Action.VERSION_LIST: S.FILES_READ,
        Action.FILE_WRITE: S.FILES_WRITE,
        Action.FOLDER_CREATE: S.FILES_WRITE,
        Action.NODE_MOVE: S.FILES_WRITE,
        Action.NODE_DELETE: S.FILES_WRITE,
        Action.TRASH_LIST: S.FILES_WRITE,
        Action.TRASH_RESTORE: S.FILES_WRITE,
        Action.VERSION_RESTORE: S.FILES_WRITE,
        Action.SPACE_RESTORE: S.FILES_WRITE,
        Action.GRANT_LIST: S.SHARES_MANAGE,
        Action.GRANT_MANAGE: S.SHARES_MANAGE,
        Action.LINK_CREATE: S.SHARES_MANAGE,
        Action.LINK_LIST: S.SHARES_MANAGE,
        Action.LINK_MANAGE: S.SHARES_MANAGE,
    }
    for action in Action:
        rule = rule_for(action)
        if action in content:
            assert isinstance(rule, ContentRule), action
            assert rule.scope is content[action], action
            assert is_content_action(action)
        else:
            assert isinstance(rule, AdminRule), action
            assert rule.scope is (S.AUDIT_READ if action is Action.AUDIT_READ else S.ADMIN)
            assert not is_content_action(action)


def test_an_action_without_a_rule_is_denied(monkeypatch: pytest.MonkeyPatch) -> None:
    # A manager holds the highest role; without a rule the action is still refused.
    monkeypatch.setattr(policy, "_RULES", {})
    manager = PRINCIPALS["admin"]
    assert decide(manager, Action.FILE_READ, SpaceRole.MANAGER) is Decision.FORBIDDEN
    assert decide(manager, Action.FILE_READ, None) is Decision.HIDDEN
    assert decide(Principal.system(), Action.USER_MANAGE) is Decision.HIDDEN
    with pytest.raises(Forbidden):
        authorize(manager, Action.FILE_READ, SpaceRole.MANAGER)


def test_space_roles_are_ordered_by_rank_not_by_text() -> None:
    reader, contributor, manager = SpaceRole.READER, SpaceRole.CONTRIBUTOR, SpaceRole.MANAGER
    assert reader < contributor < manager
    assert manager > reader
    assert manager >= SpaceRole("manager")
    assert reader <= SpaceRole("reader")
    assert not reader > contributor
    assert max([manager, reader, contributor]) is manager
    assert sorted([manager, reader, contributor]) == [reader, contributor, manager]
    assert SpaceRole.parse("manager") is manager
    assert SpaceRole.parse("owner") is None


def test_system_principal() -> None:
    system = Principal.system()
    assert system.is_system
    assert system.is_admin
    assert system.user_id is None
    assert system.global_roles == frozenset(GlobalRole)


def test_a_user_principal_needs_a_user_id() -> None:
    with pytest.raises(ValueError, match="user id"):
        Principal(kind=PrincipalKind.USER, user_id=None, username="x")
    with pytest.raises(ValueError, match="user id"):
        Principal(kind=PrincipalKind.SYSTEM, user_id="u1", username="x")


def test_admin_token_without_admin_scope_is_not_admin() -> None:
    assert PRINCIPALS["admin"].is_admin
    assert not PRINCIPALS["adm_tok_files"].is_admin
    assert PRINCIPALS["adm_tok_admin"].is_admin
    assert not PRINCIPALS["sec"].is_admin


def test_authorize_hidden_raises_the_plain_not_found() -> None:
    with pytest.raises(NotFound) as caught:
        authorize(PRINCIPALS["user"], Action.FILE_READ, None, what="file")
    error = caught.value
    assert isinstance(error, NoSuchItem)
    # Same problem type as a really missing item, so a hidden one cannot be told apart.
    assert error.code == NotFound.code
    assert str(error) == "No such file, or you do not have access to it."


def test_authorize_role_too_low_names_the_role_needed() -> None:
    with pytest.raises(RoleTooLow) as caught:
        authorize(PRINCIPALS["user"], Action.FILE_WRITE, SpaceRole.READER)
    assert str(caught.value) == (
        "Your role does not allow this action (file.write). Ask a manager of the space "
        "for the contributor role."
    )


def test_authorize_missing_scope_names_the_scope() -> None:
    with pytest.raises(ScopeMissing) as caught:
        authorize(PRINCIPALS["tok_r"], Action.FILE_WRITE, SpaceRole.MANAGER)
    assert "files:write" in str(caught.value)


def test_authorize_global_role_names_the_roles() -> None:
    with pytest.raises(GlobalRoleRequired) as caught:
        authorize(PRINCIPALS["user"], Action.AUDIT_READ)
    assert "admin or dpo" in str(caught.value)


def test_authorize_allows_silently() -> None:
    authorize(PRINCIPALS["admin"], Action.USER_MANAGE)
    authorize(PRINCIPALS["user"], Action.FILE_READ, SpaceRole.READER)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("user", {S.FILES_READ, S.FILES_WRITE, S.SHARES_MANAGE}),
        ("admin", set(Scope)),
        # `admin` for audit.erase: it makes a DPO no administrator.
        ("dpo", {S.FILES_READ, S.FILES_WRITE, S.SHARES_MANAGE, S.AUDIT_READ, S.ADMIN}),
        ("sec", {S.FILES_READ, S.FILES_WRITE, S.SHARES_MANAGE, S.AUDIT_READ, S.ADMIN}),
        ("system", set(Scope)),
        ("tok_r", {S.FILES_READ}),
        ("adm_tok_admin", {S.ADMIN, S.SHARES_MANAGE}),
    ],
)
def test_grantable_scopes(name: str, expected: set[Scope]) -> None:
    assert grantable_scopes(PRINCIPALS[name]) == expected
