"""`GET /api/v1/shared-with-me`: what colleagues gave me outside my own spaces (issue 7)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, Field

from egide.services.sharing.types import SharedItem
from egide.web.deps import Caller, Svc

router = APIRouter(prefix="/api/v1", tags=["links"])


class SharedItemOut(BaseModel):
    space: str
    path: str
    name: str
    kind: str = Field(description="file or folder")
    role: str
    shared_by: str | None = Field(description="Display name of who gave the role")
    shared_at: dt.datetime
    via_group: str | None = Field(description="The group of mine the role was given to")

    @classmethod
    def of(cls, item: SharedItem) -> SharedItemOut:
        return cls(**item.__dict__)


@router.get(
    "/shared-with-me",
    response_model=list[SharedItemOut],
    summary="Folders and files shared with me or my groups, outside my spaces",
)
def shared_with_me(caller: Caller, svc: Svc) -> list[SharedItemOut]:
    return [SharedItemOut.of(item) for item in svc.sharing.shared_with_me(caller)]
