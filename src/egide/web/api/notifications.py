"""Notifications (issue 7 item 5, docs/notifications.md): my list, my preferences,
what I follow, and following a folder or a whole space."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from egide.services.notifications.service import (
    MAX_MARK,
    MAX_PAGE,
    FollowInfo,
    NotificationInfo,
    Preferences,
)
from egide.web.deps import Caller, Svc
from egide.web.schemas import Body, Flag

router = APIRouter(prefix="/api/v1", tags=["notifications"])

Delivery = Literal["immediate", "hourly", "daily", "off"]


class NotificationOut(BaseModel):
    id: str
    kind: str = Field(
        description="file_added, file_updated, deleted, shared, link_opened or request_received"
    )
    created_at: dt.datetime
    read: bool
    space: str | None = Field(description="The space's slug, if I may still see the item")
    path: str | None = Field(description="The item's path in the space, if I may still see it")
    actor: str | None = Field(description="Who acted (display name), when known and visible")

    @classmethod
    def of(cls, info: NotificationInfo) -> NotificationOut:
        return cls(**info.__dict__)


class NotificationPageOut(BaseModel):
    items: list[NotificationOut]
    unread: int = Field(description="How many of my notifications are unread, in all")
    next_offset: int | None = Field(description="The offset of the next page; null: the last")


class MarkReadIn(Body):
    ids: list[Annotated[str, Field(max_length=36)]] | None = Field(
        None, max_length=MAX_MARK, description="These notifications; leave out with all=true"
    )
    all: Flag = Field(False, description="Every notification of mine")


class MarkedOut(BaseModel):
    marked: int


class PreferencesOut(BaseModel):
    email: Delivery = Field(description="When mail is sent: at once, as a digest, or never")
    privacy: bool = Field(description="On: mail holds no file or folder name, only a link")
    has_address: bool = Field(description="Whether my account has an e-mail address")

    @classmethod
    def of(cls, prefs: Preferences) -> PreferencesOut:
        return cls(email=prefs.email, privacy=prefs.privacy, has_address=prefs.has_address)


class PreferencesIn(Body):
    email: Delivery | None = None
    privacy: Flag | None = None


class FollowOut(BaseModel):
    space: str
    path: str = Field(description='The folder followed; "" for the whole space')
    created_at: dt.datetime

    @classmethod
    def of(cls, info: FollowInfo) -> FollowOut:
        return cls(**info.__dict__)


@router.get(
    "/notifications",
    response_model=NotificationPageOut,
    summary="My notifications, newest first",
    description="A page that polls this (the bell) sends `Egide-Activity: background`: the "
    "answer is the same, but the poll does not count as the user's activity, so an idle "
    "session still locks.",
    openapi_extra={
        "parameters": [
            {
                "name": "Egide-Activity",
                "in": "header",
                "required": False,
                "description": "`background` for a request the page makes by itself; "
                "any other value counts as the user's activity",
                "schema": {"type": "string"},
            }
        ]
    },
)
def list_notifications(
    caller: Caller,
    svc: Svc,
    unread: bool = Query(False, description="Only the unread ones"),
    offset: int = Query(0, ge=0, le=1_000_000),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
) -> NotificationPageOut:
    page = svc.notifications.notifications(caller, unread_only=unread, offset=offset, limit=limit)
    return NotificationPageOut(
        items=[NotificationOut.of(i) for i in page.items],
        unread=page.unread,
        next_offset=page.next_offset,
    )


@router.post("/notifications/read", response_model=MarkedOut, summary="Mark notifications read")
def mark_read(body: MarkReadIn, caller: Caller, svc: Svc) -> MarkedOut:
    ids = None if body.all else (body.ids or [])
    return MarkedOut(marked=svc.notifications.mark_read(caller, ids))


@router.get(
    "/me/notifications", response_model=PreferencesOut, summary="My notification preferences"
)
def get_preferences(caller: Caller, svc: Svc) -> PreferencesOut:
    return PreferencesOut.of(svc.notifications.preferences(caller))


@router.put(
    "/me/notifications", response_model=PreferencesOut, summary="Set my notification preferences"
)
def put_preferences(body: PreferencesIn, caller: Caller, svc: Svc) -> PreferencesOut:
    prefs = svc.notifications.set_preferences(caller, email=body.email, privacy=body.privacy)
    return PreferencesOut.of(prefs)


@router.get("/follows", response_model=list[FollowOut], summary="The folders and spaces I follow")
def follows(caller: Caller, svc: Svc) -> list[FollowOut]:
    return [FollowOut.of(f) for f in svc.notifications.follows(caller)]


@router.put(
    "/spaces/{space}/follow/{path:path}",
    response_model=FollowOut,
    summary="Follow a folder (an empty path: the whole space)",
)
def follow(space: str, path: str, caller: Caller, svc: Svc) -> FollowOut:
    return FollowOut.of(svc.notifications.follow(caller, space, path))


@router.delete(
    "/spaces/{space}/follow/{path:path}",
    status_code=204,
    summary="Stop following a folder or a space",
)
def unfollow(space: str, path: str, caller: Caller, svc: Svc) -> None:
    svc.notifications.unfollow(caller, space, path)
