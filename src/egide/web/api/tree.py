"""Folders and the tree: metadata and listings, new folders, delete, move, versions, trash."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import accumulate

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, TypeAdapter

from egide.services.vault.listing import FolderListing
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


_NODE_JSON = TypeAdapter(NodeInfo)


def _node_json(info: NodeInfo) -> bytes:
    """A `NodeOut`'s JSON, straight from the service's frozen value (no model to validate)."""
    return _NODE_JSON.dump_json(info)


@dataclass(frozen=True)
class _ItemsJson:
    """A listing's items as `NodeOut` JSON, joined by commas; item i ends before `ends[i]`.

    Validating 10,000 `NodeOut` models, then the response model again, took
    about a third of a large listing's time, and encoding them another third:
    this is made once per listing (services/vault/listing.py keeps a listing,
    and what is derived from it, while the folder's rows stay the same), and
    a page is a slice of it.
    """

    joined: bytes
    ends: tuple[int, ...]

    def page(self, start: int, stop: int) -> memoryview:
        """Items `start` to `stop` (excluded), without a comma at either end."""
        stop = min(stop, len(self.ends))
        if start >= stop:
            return memoryview(b"")
        first = self.ends[start - 1] if start else 0
        return memoryview(self.joined)[first : self.ends[stop - 1] - 1]


def _items_json(listing: FolderListing) -> _ItemsJson:
    # Each item's JSON is kept with the listing: after a change in the folder,
    # only what changed is encoded again (FolderListing.per_item).
    encoded = listing.per_item(_node_json)
    return _ItemsJson(b",".join(encoded), tuple(accumulate(len(e) + 1 for e in encoded)))


def _listing_json(folder: NodeInfo, listing: FolderListing, offset: int, limit: int) -> bytes:
    """A `Listing`'s JSON, in the model's field order (the same bytes as the model gives)."""
    total, following = len(listing.items), offset + limit
    return b"".join(
        (
            b'{"folder":',
            _node_json(folder),
            b',"items":[',
            listing.derived(_items_json).page(offset, following),
            b'],"total":',
            str(total).encode(),
            b',"next_offset":',
            str(following).encode() if following < total else b"null",
            b"}",
        )
    )


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
    node, listing = svc.nodes.browse(caller, space, path)
    if listing is None:
        if node.version_id:
            response.headers["ETag"] = etag(node.version_id)
        return NodeOut.of(node)
    # The documented model is `Listing` (response_model); this is its JSON.
    return Response(_listing_json(node, listing, offset, limit), media_type="application/json")


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
