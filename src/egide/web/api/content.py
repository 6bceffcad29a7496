"""`PUT` and `GET /api/v1/spaces/{space}/content/{path}`: files as raw streamed bodies."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from egide.core.i18n import gettext_noop
from egide.services.access.policy import Principal
from egide.services.registry import Services
from egide.services.vault.types import VersionInfo
from egide.web.deps import Caller, Svc
from egide.web.http import (
    RangeNotSatisfiable,
    coalesce,
    content_disposition,
    etag,
    etag_matches,
    media_type,
    parse_etag,
    parse_range,
    sync_chunks,
)
from egide.web.problems import problem

router = APIRouter(prefix="/api/v1/spaces/{space}", tags=["files"])

#: Types a browser may show in place (`?inline=true`, the web interface's preview):
#: none can run script. HTML, SVG and anything else stay attachments.
PREVIEW_TYPES = frozenset(
    {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain"}
)


class VersionOut(BaseModel):
    id: str
    number: int
    size: int
    sha256: str
    created_at: dt.datetime
    created_by: str | None
    is_current: bool
    restored_from: str | None
    #: Antivirus state: clean, pending (awaiting a scan), too_large, infected,
    #: unscanned (written while scanning was off). docs/antivirus.md.
    scan: str

    @classmethod
    def of(cls, info: VersionInfo) -> VersionOut:
        return cls(
            id=info.id,
            number=info.number,
            size=info.size,
            sha256=info.sha256,
            created_at=info.created_at,
            created_by=info.created_by,
            is_current=info.is_current,
            restored_from=info.restored_from,
            scan=info.scan,
        )


@router.put(
    "/content/{path:path}",
    response_model=VersionOut,
    status_code=201,
    summary="Upload a file (new file or new version), body streamed",
    responses={
        200: {"description": "A new version of an existing file"},
        412: {"description": "If-Match or If-None-Match: * did not hold; nothing stored"},
        413: {"description": "The space's quota would be exceeded; nothing stored"},
        422: {"description": "The antivirus found a threat (named); nothing stored"},
        423: {"description": "Your account is contained (ransomware incident)"},
    },
)
async def put_content(
    space: str, path: str, request: Request, response: Response, caller: Caller, svc: Svc
) -> VersionOut:
    length = request.headers.get("content-length")
    size_hint = int(length) if length and length.isdigit() else None
    if_match = parse_etag(request.headers.get("if-match"))
    if_none_match = request.headers.get("if-none-match", "").strip() == "*"
    chunks = sync_chunks(request.stream().__aiter__())
    version = await anyio.to_thread.run_sync(
        lambda: svc.files.write(
            caller,
            space,
            path,
            chunks,
            if_match=if_match,
            if_none_match=if_none_match,
            size_hint=size_hint,
        )
    )
    response.headers["ETag"] = etag(version.id)
    if version.number > 1:
        response.status_code = 200
    return VersionOut.of(version)


#: A file's content: its media type follows its name (http.media_type).
_ANY_TYPE: dict[str, Any] = {"*/*": {"schema": {"type": "string", "format": "binary"}}}


@router.get(
    "/content/{path:path}",
    summary="Download a file, streamed, with Range and conditional requests",
    response_class=StreamingResponse,
    responses={
        200: {"description": "The file, with its type by name", "content": _ANY_TYPE},
        206: {"description": "Partial content (one range)", "content": _ANY_TYPE},
        304: {"description": "Not modified (If-None-Match)"},
        416: {"description": "Range not satisfiable"},
    },
)
def get_content(
    space: str,
    path: str,
    request: Request,
    caller: Caller,
    svc: Svc,
    version: str | None = None,
    inline: bool = Query(
        False,
        description="Ask for `Content-Disposition: inline` (a preview in the browser); "
        "granted for PDF, PNG, JPEG, GIF, WebP and plain text only, else still an attachment",
    ),
) -> Response:
    return _content_answer(space, path, request, caller, svc, version, record=True, inline=inline)


def _content_answer(
    space: str,
    path: str,
    request: Request,
    caller: Principal,
    svc: Services,
    version: str | None,
    *,
    record: bool,
    inline: bool = False,
) -> Response:
    """The GET answer; `record` is False for HEAD, which never sends content (no read event)."""
    download = svc.files.open(caller, space, path, version_id=version, record=record)
    inline = inline and media_type(download.name) in PREVIEW_TYPES
    headers = {
        "ETag": etag(download.version_id),
        "Last-Modified": format_datetime(download.modified_at, usegmt=True),
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(download.name, inline=inline),
        # Health documents: no shared or browser cache keeps a copy.
        "Cache-Control": "private, no-store",
    }
    if etag_matches(request.headers.get("if-none-match"), download.version_id):
        return Response(status_code=304, headers=headers)
    try:
        window = parse_range(request.headers.get("range"), download.size)
    except RangeNotSatisfiable:
        return problem(
            416,
            "range-not-satisfiable",
            gettext_noop("The requested range is outside the file ({size} bytes)."),
            request=request,
            params={"size": download.size},
            headers={"Content-Range": f"bytes */{download.size}"},
        )
    start, end = window or (0, download.size)
    status = 200
    if window is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{download.size}"
    headers["Content-Length"] = str(end - start)
    body = download.iter_bytes(start, end) if window is not None else download.iter_bytes()
    return StreamingResponse(
        coalesce(body),
        status_code=status,
        media_type=media_type(download.name),
        headers=headers,
    )


@router.head(
    "/content/{path:path}",
    summary="A file's headers (size, ETag, type) without its body",
    response_class=Response,
    responses={
        200: {"description": "Headers only (Content-Type as for GET)", "content": _ANY_TYPE},
        304: {"description": "Not modified"},
    },
)
def head_content(
    space: str, path: str, request: Request, caller: Caller, svc: Svc, version: str | None = None
) -> Response:
    # The GET answer minus its body: no byte is decrypted (the stream is never iterated).
    answer = _content_answer(space, path, request, caller, svc, version, record=False)
    headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
    if isinstance(answer, StreamingResponse):
        headers["Content-Length"] = answer.headers.get("content-length", "0")
    return Response(status_code=answer.status_code, headers=headers)
