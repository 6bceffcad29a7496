"""Spaces, members (roles on a whole space) and grants (roles on a folder)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, Field

from egide.services.vault.spaces import MAX_QUOTA
from egide.services.vault.types import GrantView, SpaceInfo
from egide.web.deps import Caller, Svc
from egide.web.schemas import Body, Count, RoleName

router = APIRouter(prefix="/api/v1/spaces", tags=["spaces"])


class SpaceOut(BaseModel):
    id: str
    slug: str
    title: str
    quota_bytes: int | None
    history_quota_bytes: int | None
    used_bytes: int
    created_at: dt.datetime
    role: str | None

    @classmethod
    def of(cls, info: SpaceInfo) -> SpaceOut:
        return cls(**info.__dict__)


class SpaceIn(Body):
    slug: str = Field(
        min_length=2,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9-]{1,62}$",
        description="Lower-case letters, digits and hyphens; part of every URL of the space",
    )
    title: str | None = Field(default=None, max_length=200)
    quota_bytes: Count | None = Field(default=None, ge=0, le=MAX_QUOTA)
    history_quota_bytes: Count | None = Field(default=None, ge=0, le=MAX_QUOTA)


class RoleIn(Body):
    role: RoleName


class GrantIn(Body):
    principal: str = Field(description="user:NAME or group:NAME", pattern=r"^(user|group):.+$")
    role: RoleName


class GrantRef(BaseModel):
    principal: str = Field(description="user:NAME or group:NAME")


class GrantOut(BaseModel):
    principal: str
    role: str
    path: str
    created_at: dt.datetime

    @classmethod
    def of(cls, view: GrantView) -> GrantOut:
        return cls(**view.__dict__)


@router.get("", response_model=list[SpaceOut], summary="The spaces I can see")
def list_spaces(caller: Caller, svc: Svc) -> list[SpaceOut]:
    return [SpaceOut.of(s) for s in svc.spaces.list_spaces(caller)]


@router.post("", response_model=SpaceOut, status_code=201, summary="Create a space")
def create_space(body: SpaceIn, caller: Caller, svc: Svc) -> SpaceOut:
    return SpaceOut.of(
        svc.spaces.create(
            caller,
            body.slug,
            title=body.title,
            quota_bytes=body.quota_bytes,
            history_quota_bytes=body.history_quota_bytes,
        )
    )


@router.get("/{space}/members", response_model=list[GrantOut], summary="Roles on the whole space")
def members(space: str, caller: Caller, svc: Svc) -> list[GrantOut]:
    return [GrantOut.of(g) for g in svc.spaces.grants(caller, space, "")]


@router.put("/{space}/members/{principal}", response_model=GrantOut, summary="Give a space role")
def set_member(space: str, principal: str, body: RoleIn, caller: Caller, svc: Svc) -> GrantOut:
    return GrantOut.of(svc.spaces.grant(caller, space, "", principal, body.role))


@router.delete("/{space}/members/{principal}", status_code=204, summary="Remove a space role")
def remove_member(space: str, principal: str, caller: Caller, svc: Svc) -> None:
    svc.spaces.revoke(caller, space, "", principal)


@router.get(
    "/{space}/grants/{path:path}", response_model=list[GrantOut], summary="Roles on a folder"
)
def grants(space: str, path: str, caller: Caller, svc: Svc) -> list[GrantOut]:
    return [GrantOut.of(g) for g in svc.spaces.grants(caller, space, path)]


@router.put("/{space}/grants/{path:path}", response_model=GrantOut, summary="Give a folder role")
def set_grant(space: str, path: str, body: GrantIn, caller: Caller, svc: Svc) -> GrantOut:
    return GrantOut.of(svc.spaces.grant(caller, space, path, body.principal, body.role))


@router.delete("/{space}/grants/{path:path}", status_code=204, summary="Remove a folder role")
def remove_grant(space: str, path: str, body: GrantRef, caller: Caller, svc: Svc) -> None:
    svc.spaces.revoke(caller, space, path, body.principal)
