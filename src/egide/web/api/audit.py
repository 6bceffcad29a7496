"""The audit log over HTTP: entries, the latest signed checkpoint, inclusion and consistency proofs.

Thin: `AuditReader` (services/audit/entries.py) authorizes (`audit.read`) and
decides; this module maps query parameters to it and its values to JSON.
Hashes are lower-case hex; the leaf bytes base64 (exactly as stored, for
re-hashing: leaf hash = SHA-256(0x00 | leaf)). The checkpoint is served as
it was signed, `text/plain` (FORMATS.md section 4).
"""

from __future__ import annotations

import base64
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import PlainTextResponse
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field

from egide.services.audit.entries import (
    DEFAULT_PAGE,
    MAX_PAGE,
    MAX_SEQ,
    AuditReader,
    ConsistencyProof,
    EntryQuery,
    InclusionProof,
)
from egide.web.deps import Caller, Svc

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

#: Ids and action names are printable ASCII without spaces (never a control character).
_ID = r"^[!-~]+$"
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)")


def _rfc3339(value: object) -> object:
    """Only the RFC 3339 text the schema promises: pydantic alone also takes Unix times."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("expected an RFC 3339 time with its offset, e.g. 2026-03-02T09:00:00Z")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]


def _reader(svc: Svc) -> AuditReader:
    return AuditReader(svc.db, svc.audit.recorder)


Reader = Annotated[AuditReader, Depends(_reader)]
Size = Annotated[int, Query(ge=0, le=MAX_SEQ)]


class Actor(BaseModel):
    kind: str = Field(description='"user", "token", "link" or "system"')
    id: str | None


class EntryOut(BaseModel):
    """One leaf of the log (FORMATS.md section 3), parsed: ids only."""

    seq: int
    time: str = Field(description="RFC 3339, UTC, as in the leaf")
    event_id: str
    actor: Actor
    action: str = Field(description="Dotted action name, e.g. `file.read`")
    target: dict[str, str | None] = Field(description="Ids: space, node, version ...")
    outcome: Literal["allowed", "denied", "error"]
    details: dict[str, Any] = Field(description="No personal data")
    context_hash: str = Field(
        description="SHA-256 (hex) of the sealed personal context; empty when there is none"
    )


class EntryPageOut(BaseModel):
    entries: list[EntryOut]
    next_cursor: int | None = Field(description="`cursor` of the next page; null on the last")


class InclusionOut(BaseModel):
    seq: int
    tree_size: int
    leaf: str | None = Field(
        description="The exact leaf bytes, base64; null once archived by retention"
    )
    leaf_hash: str = Field(description="SHA-256(0x00 | leaf), hex")
    proof: list[str] = Field(description="RFC 9162 2.1.3 inclusion path, leaf side first, hex")
    root: str = Field(description="The tree head at tree_size, hex (the checkpoint's root)")

    @classmethod
    def of(cls, value: InclusionProof) -> InclusionOut:
        return cls(
            seq=value.seq,
            tree_size=value.tree_size,
            leaf=None if value.leaf is None else base64.b64encode(value.leaf).decode(),
            leaf_hash=value.leaf_hash.hex(),
            proof=[node.hex() for node in value.proof],
            root=value.root.hex(),
        )


class ConsistencyOut(BaseModel):
    first: int
    second: int
    first_root: str = Field(description="The tree head at `first`, hex")
    second_root: str = Field(description="The tree head at `second`, hex")
    proof: list[str] = Field(description="RFC 9162 2.1.4 consistency proof, hex")

    @classmethod
    def of(cls, value: ConsistencyProof) -> ConsistencyOut:
        return cls(
            first=value.first,
            second=value.second,
            first_root=value.first_root.hex(),
            second_root=value.second_root.hex(),
            proof=[node.hex() for node in value.proof],
        )


_NO_CHECKPOINT = {"description": "No checkpoint signed yet (`audit-no-checkpoint`)"}
_BAD_TREE = {
    "description": "Bad input: not a number, an entry outside the tree, a size beyond the "
    "latest signed checkpoint, or first > second (`field` says which)"
}


@router.get(
    "/entries",
    response_model=EntryPageOut,
    summary="Audit entries, filtered by actor, target, action, outcome and time; paged by seq",
)
def entries(
    caller: Caller,
    reader: Reader,
    response: Response,
    actor: Annotated[
        str | None,
        Query(max_length=64, pattern=_ID, description="A user id (with its tokens) or a token id"),
    ] = None,
    target: Annotated[
        str | None, Query(max_length=64, pattern=_ID, description="A space, node or version id")
    ] = None,
    action: Annotated[
        str | None, Query(max_length=64, pattern=_ID, description="e.g. file.read")
    ] = None,
    outcome: Literal["allowed", "denied", "error"] | None = None,
    since: Annotated[Moment | None, Query(description="From this time on (inclusive)")] = None,
    until: Annotated[Moment | None, Query(description="Before this time (exclusive)")] = None,
    cursor: Annotated[int, Query(ge=0, le=MAX_SEQ, description="The first seq to read")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> EntryPageOut:
    query = EntryQuery(actor, target, action, outcome, since, until)
    page = reader.entries(caller, query, cursor=cursor, limit=limit)
    response.headers["Cache-Control"] = "private, no-store"
    return EntryPageOut.model_validate({"entries": page.entries, "next_cursor": page.next_cursor})


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    summary="The latest signed checkpoint (C2SP signed note, FORMATS.md section 4)",
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        404: _NO_CHECKPOINT,
    },
)
def checkpoint(caller: Caller, reader: Reader) -> PlainTextResponse:
    return PlainTextResponse(reader.checkpoint(caller).note)


@router.get(
    "/proof/{seq}",
    response_model=InclusionOut,
    summary="Inclusion proof of one entry in the tree of tree_size entries (default: the "
    "latest checkpoint's)",
    responses={400: _BAD_TREE, 404: _NO_CHECKPOINT},
)
def proof(
    caller: Caller,
    reader: Reader,
    seq: Annotated[int, Path(ge=0, le=MAX_SEQ)],
    tree_size: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
) -> InclusionOut:
    return InclusionOut.of(reader.inclusion(caller, seq, tree_size))


@router.get(
    "/consistency",
    response_model=ConsistencyOut,
    summary="Consistency proof from the tree of first entries to the tree of second",
    responses={400: _BAD_TREE, 404: _NO_CHECKPOINT},
)
def consistency(caller: Caller, reader: Reader, first: Size, second: Size) -> ConsistencyOut:
    return ConsistencyOut.of(reader.consistency(caller, first, second))
