"""Folders and the tree: metadata and listings, new folders, delete, move, versions, trash."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, TypeAdapter

from egide.services.vault.types import NodeInfo, TrashInfo
from egide.web.api.content import VersionOut
from egide.web.deps import Caller, Svc
from egide.web.http import etag
from egide.web.schemas import Body

router = APIRouter(prefix="/api/v1/spaces/{space}", tags=["files"])


class NodeOut(BaseModel):
    id: str
    name: str
    kind: str = Field(description='"file" or "folder"')
    path: str
    size: int
    created_at: dt.datetime
    modified_at: dt.datetime
    version_id: str | None = Field(description="Current version (the ETag) of a file")
    sha256: str | None

    @classmethod
    def of(cls, info: NodeInfo) -> NodeOut:
        return cls(**info.__dict__)


class Listing(BaseModel):
    folder: NodeOut
    items: list[NodeOut]
    total: int
    next_offset: int | None = Field(description="Offset of the next page, null on the last")


@dataclass(frozen=True)
class _ListingBody:
    """`Listing`, serialised straight from the service's values (same fields, same order).

    Validating 10,000 `NodeOut` models, then the response model again, took
    about a third of a large listing's time; the service's frozen values need
    neither.
    """

    folder: NodeInfo
    items: list[NodeInfo]
    total: int
    next_offset: int | None


_LISTING_JSON = TypeAdapter(_ListingBody)


class TrashOut(BaseModel):
    id: str
    name: str
    kind: str
    original_path: str | None
    size: int
    deleted_at: dt.datetime
    deleted_by: str | None
    protected_until: dt.datetime

    @classmethod
    def of(cls, info: TrashInfo) -> TrashOut:
        return cls(**info.__dict__)


class MoveIn(Body):
    from_: str = Field(alias="from", min_length=1, max_length=8192)
    to: str = Field(min_length=1, max_length=8192)


class RestoreIn(Body):
    name: str | None = Field(default=None, description="Restore under another name")


@router.get(
    "/nodes/{path:path}",
    response_model=NodeOut | Listing,
    summary="Metadata of a file, or a folder's listing (paged); empty path is the root",
)
def get_node(
    space: str,
    path: str,
    caller: Caller,
    svc: Svc,
    response: Response,
    offset: int = Query(0, ge=0),
    limit: int = Query(1000, ge=1, le=10000),
) -> NodeOut | Response:
    node = svc.nodes.stat(caller, space, path)
    if node.kind == "file":
        if node.version_id:
            response.headers["ETag"] = etag(node.version_id)
        return NodeOut.of(node)
    items = svc.nodes.list_folder(caller, space, path)
    following = offset + limit
    body = _ListingBody(
        folder=node,
        items=items[offset:following],
        total=len(items),
        next_offset=following if following < len(items) else None,
    )
    # The documented model is `Listing` (response_model); this is its JSON.
    return Response(_LISTING_JSON.dump_json(body), media_type="application/json")


@router.post(
    "/folders/{path:path}", response_model=NodeOut, status_code=201, summary="Create a folder"
)
def create_folder(space: str, path: str, caller: Caller, svc: Svc) -> NodeOut:
    return NodeOut.of(svc.nodes.mkdir(caller, space, path))


@router.delete(
    "/nodes/{path:path}",
    response_model=TrashOut,
    summary="Move a file or a folder (with everything in it) to the trash",
)
def delete_node(space: str, path: str, caller: Caller, svc: Svc) -> TrashOut:
    return TrashOut.of(svc.nodes.delete(caller, space, path))


@router.post("/move", response_model=NodeOut, summary="Rename or move inside the space")
def move(space: str, body: MoveIn, caller: Caller, svc: Svc) -> NodeOut:
    return NodeOut.of(svc.nodes.move(caller, space, body.from_, body.to))


@router.get("/versions/{path:path}", response_model=list[VersionOut], summary="A file's versions")
def versions(space: str, path: str, caller: Caller, svc: Svc) -> list[VersionOut]:
    return [VersionOut.of(v) for v in svc.files.versions(caller, space, path)]


@router.post(
    "/versions/{path:path}/{version}/restore",
    response_model=VersionOut,
    status_code=201,
    summary="Make an old version current (a new version sharing its content)",
)
def restore_version(space: str, path: str, version: str, caller: Caller, svc: Svc) -> VersionOut:
    return VersionOut.of(svc.files.restore_version(caller, space, path, version))


@router.get("/trash", response_model=list[TrashOut], summary="The space's trash")
def trash(space: str, caller: Caller, svc: Svc) -> list[TrashOut]:
    return [TrashOut.of(t) for t in svc.nodes.trash(caller, space)]


@router.post("/trash/{item}/restore", response_model=NodeOut, summary="Restore a trash item")
def restore_trash(
    space: str, item: str, caller: Caller, svc: Svc, body: RestoreIn | None = None
) -> NodeOut:
    return NodeOut.of(svc.nodes.restore(caller, space, item, new_name=body.name if body else None))
