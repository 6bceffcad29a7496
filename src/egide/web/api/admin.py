"""The admin area's API (issue 6, item 1): users, groups, every space and its quotas.

Each route is one service call; the services ask the policy (`user.manage`,
`group.manage`, `space.list_all`, `space.admin`: administrators only, and an
API token needs the `admin` scope) and write the audit entry in the same
transaction. The same operations exist on the command line (`egide user`,
`egide group`, `egide space`, docs/cli.md). A space is created with `POST
/api/v1/spaces` and its link policy set with `PUT
/api/v1/spaces/{space}/link-policy`; they are not repeated here.

A one-time password (a new account, a reset) is in the answer's body once,
with `Cache-Control: no-store`; the server keeps only its hash, and the user
must choose their own at the next sign-in.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from egide.services.accounts.overview import UserOverview, one_time_password
from egide.services.accounts.records import GroupInfo, UserInfo
from egide.services.mfa.errors import NoTotpFactor
from egide.services.vault.spaces import MAX_QUOTA
from egide.web.api.spaces import SpaceOut
from egide.web.deps import Caller, Svc
from egide.web.schemas import Body, Count, Flag

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

_NO_STORE = {"Cache-Control": "no-store"}
#: A global role (services.access.GlobalRole values).
GlobalRoleName = Literal["admin", "dpo", "security"]


class UserOut(BaseModel):
    username: str
    display_name: str
    email: str | None
    disabled: bool
    roles: list[str] = Field(description="Global roles: admin, dpo, security")
    created_at: dt.datetime

    @classmethod
    def of(cls, user: UserInfo) -> UserOut:
        return cls(
            username=user.username,
            display_name=user.display_name,
            email=user.email,
            disabled=user.is_disabled,
            roles=sorted(r.value for r in user.global_roles),
            created_at=user.created_at,
        )


class UserListed(UserOut):
    mfa_enrolled: bool = Field(description="An authenticator app or a passkey is set up")
    last_login_at: dt.datetime | None = Field(description="Start of the latest web session")
    must_change_password: bool
    sso_only: bool = Field(description="No password: signs in through single sign-on only")

    @classmethod
    def listed(cls, row: UserOverview) -> UserListed:
        return cls(
            **UserOut.of(row.user).model_dump(),
            mfa_enrolled=row.mfa_enrolled,
            last_login_at=row.last_login_at,
            must_change_password=row.must_change_password,
            sso_only=row.sso_only,
        )


class UserIn(Body):
    username: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=320)
    roles: list[GlobalRoleName] = Field(default_factory=list, max_length=3)
    sso_only: Flag = Field(
        default=False, description="No password (single sign-on only): no one-time password"
    )


class UserCreated(BaseModel):
    user: UserOut
    one_time_password: str | None = Field(
        description="Shown once: give it to the user, who must change it at the first sign-in"
    )


class OneTimePassword(BaseModel):
    one_time_password: str = Field(
        description="Shown once; every session and token of the "
        "user is ended, and they must change it at sign-in"
    )


class RolesIn(Body):
    roles: list[GlobalRoleName] = Field(max_length=3, description="admin, dpo, security")


class MfaResetOut(BaseModel):
    authenticator_app: bool = Field(description="An authenticator app was removed")
    passkeys: int = Field(description="How many passkeys were removed")


class GroupOut(BaseModel):
    name: str
    description: str
    member_count: int

    @classmethod
    def of(cls, group: GroupInfo) -> GroupOut:
        return cls(name=group.name, description=group.description, member_count=group.member_count)


class GroupIn(Body):
    name: str = Field(max_length=64)
    description: str = Field(default="", max_length=500)


class MembershipOut(BaseModel):
    changed: bool = Field(description="False when it already was (or was not) a member")


class QuotaIn(Body):
    quota_bytes: Count | None = Field(ge=0, le=MAX_QUOTA, description="Null: unlimited")
    history_quota_bytes: Count | None = Field(
        default=None, ge=0, le=MAX_QUOTA, description="Old versions and trash; null: unlimited"
    )


# Users -------------------------------------------------------------------------


@router.get("/users", response_model=list[UserListed], summary="Every account (administrators)")
def users(caller: Caller, svc: Svc) -> list[UserListed]:
    return [UserListed.listed(row) for row in svc.accounts.user_overview(caller)]


@router.post(
    "/users",
    response_model=UserCreated,
    status_code=201,
    summary="Create an account with a one-time password (shown once)",
)
def create_user(body: UserIn, response: Response, caller: Caller, svc: Svc) -> UserCreated:
    password = None if body.sso_only else one_time_password()
    user = svc.accounts.create_user(
        caller,
        body.username,
        password=password,
        display_name=body.display_name,
        email=body.email or None,
        roles=body.roles,
        must_change_password=True,
    )
    response.headers.update(_NO_STORE)
    return UserCreated(user=UserOut.of(user), one_time_password=password)


@router.post("/users/{username}/disable", response_model=UserOut, summary="Disable an account")
def disable_user(username: str, caller: Caller, svc: Svc) -> UserOut:
    return UserOut.of(svc.accounts.disable_user(caller, username))


@router.post("/users/{username}/enable", response_model=UserOut, summary="Enable an account")
def enable_user(username: str, caller: Caller, svc: Svc) -> UserOut:
    return UserOut.of(svc.accounts.enable_user(caller, username))


@router.post(
    "/users/{username}/password",
    response_model=OneTimePassword,
    summary="Reset a password: a new one-time password (shown once)",
)
def reset_password(username: str, response: Response, caller: Caller, svc: Svc) -> OneTimePassword:
    password = one_time_password()
    svc.accounts.change_password(caller, username, password, must_change=True)
    response.headers.update(_NO_STORE)
    return OneTimePassword(one_time_password=password)


@router.post(
    "/users/{username}/mfa-reset",
    response_model=MfaResetOut,
    summary="Remove a user's second factors (a lost phone or key), as `egide user mfa-reset`",
)
def mfa_reset(username: str, caller: Caller, svc: Svc) -> MfaResetOut:
    passkeys = svc.passkeys.remove_all(caller, username)
    try:
        svc.mfa.remove_totp(caller, username)
        app = True
    except NoTotpFactor:
        if not passkeys:
            raise
        app = False
    return MfaResetOut(authenticator_app=app, passkeys=passkeys)


@router.put("/users/{username}/roles", response_model=UserOut, summary="Set global roles")
def set_roles(username: str, body: RolesIn, caller: Caller, svc: Svc) -> UserOut:
    return UserOut.of(svc.accounts.set_roles(caller, username, body.roles))


# Groups ------------------------------------------------------------------------


@router.get("/groups", response_model=list[GroupOut], summary="Every group")
def groups(caller: Caller, svc: Svc) -> list[GroupOut]:
    return [GroupOut.of(g) for g in svc.accounts.list_groups(caller)]


@router.post("/groups", response_model=GroupOut, status_code=201, summary="Create a group")
def create_group(body: GroupIn, caller: Caller, svc: Svc) -> GroupOut:
    return GroupOut.of(svc.accounts.create_group(caller, body.name, body.description))


@router.delete(
    "/groups/{name}", status_code=204, summary="Delete a group, its memberships and its roles"
)
def delete_group(name: str, caller: Caller, svc: Svc) -> None:
    svc.accounts.delete_group(caller, name)


@router.get("/groups/{name}/members", response_model=list[UserOut], summary="A group's members")
def group_members(name: str, caller: Caller, svc: Svc) -> list[UserOut]:
    return [UserOut.of(u) for u in svc.accounts.list_members(caller, name)]


@router.put(
    "/groups/{name}/members/{username}", response_model=MembershipOut, summary="Add a member"
)
def add_member(name: str, username: str, caller: Caller, svc: Svc) -> MembershipOut:
    return MembershipOut(changed=svc.accounts.add_member(caller, name, username))


@router.delete(
    "/groups/{name}/members/{username}", response_model=MembershipOut, summary="Remove a member"
)
def remove_member(name: str, username: str, caller: Caller, svc: Svc) -> MembershipOut:
    return MembershipOut(changed=svc.accounts.remove_member(caller, name, username))


# Spaces ------------------------------------------------------------------------


@router.get("/spaces", response_model=list[SpaceOut], summary="Every space, used bytes and quota")
def spaces(caller: Caller, svc: Svc) -> list[SpaceOut]:
    return [SpaceOut.of(s) for s in svc.spaces.list_all(caller)]


@router.put("/spaces/{space}/quota", response_model=SpaceOut, summary="Set a space's quotas")
def set_quota(space: str, body: QuotaIn, caller: Caller, svc: Svc) -> SpaceOut:
    return SpaceOut.of(
        svc.spaces.set_quota(
            caller,
            space,
            quota_bytes=body.quota_bytes,
            history_quota_bytes=body.history_quota_bytes,
        )
    )
