"""tus 1.0.0 resumable uploads at `/api/v1/uploads` (https://tus.io/protocols/resumable-upload).

Extensions: creation, creation-with-upload, termination, checksum (sha1,
sha256) and expiration. `Upload-Metadata` names the target: `space` and
`path`, or `space`, `filename` and an optional `folder`. Deferred lengths
are not supported (400). An expired upload answers 404 (tus allows 404 or
410; the error table has no 410, and an expired upload is being deleted).

Every answer carries `Tus-Resumable: 1.0.0`, errors included (the route
class below adds it); a request other than OPTIONS without that header is
refused with 412 and `Tus-Version`. A checksum mismatch answers 460, the
status tus defines, with a problem document. The protocol rules live in
this module; the upload rules in services/uploads/service.py.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from email.utils import format_datetime
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect

from egide.core.errors import EgideError, InvalidInput
from egide.core.i18n import gettext_noop
from egide.services.uploads.errors import ChecksumMismatch
from egide.services.uploads.service import Checksum, UploadInfo
from egide.web.deps import Caller, Svc
from egide.web.http import sync_chunks
from egide.web.problems import from_error, handle_validation_error, problem

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
OFFSET_STREAM = "application/offset+octet-stream"
CHECKSUM_MISMATCH = 460
WRONG_VERSION = gettext_noop("This server speaks tus {version}: send Tus-Resumable: {version}.")
WRONG_TYPE = gettext_noop("A tus body is sent as Content-Type: {media_type}.")


class TusRoute(APIRoute):
    """Checks `Tus-Resumable` first, and adds it to every answer, errors included."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def tus_handler(request: Request) -> Response:
            if request.method != "OPTIONS" and request.headers.get("tus-resumable") != TUS_VERSION:
                response: Response = problem(
                    412,
                    "tus-version",
                    WRONG_VERSION,
                    request=request,
                    params={"version": TUS_VERSION},
                    headers={"Tus-Version": TUS_VERSION},
                )
            else:
                try:
                    response = await handle(request)
                except ChecksumMismatch as exc:
                    response = from_error(exc, request, status=CHECKSUM_MISMATCH)
                except EgideError as exc:
                    response = from_error(exc, request)
                except RequestValidationError as exc:
                    response = await handle_validation_error(request, exc)
            response.headers["Tus-Resumable"] = TUS_VERSION
            return response

        return tus_handler


router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"], route_class=TusRoute)

# Headers as the OpenAPI document shows them. Tus-Resumable is required there
# and checked first by TusRoute (412, as tus says, rather than a 400);
# Content-Length and Content-Type are read from the request, not declared
# as parameters (they describe the body, documented below as such). Patterns
# are documented only (json_schema_extra): the handlers check the values and
# say what is wrong in our own words.
TusResumable = Annotated[
    str,
    Header(
        description=f"{TUS_VERSION} on every request but OPTIONS",
        json_schema_extra={"enum": [TUS_VERSION]},
    ),
]
WholeNumber = Annotated[str | None, Header(json_schema_extra={"pattern": r"^[0-9]{1,18}$"})]
UploadChecksum = Annotated[
    str | None,
    Header(
        description="sha1 or sha256, a space, the base64 digest of this request's body",
        json_schema_extra={"pattern": r"^(sha1|sha256) [A-Za-z0-9+/]+={0,2}$"},
    ),
]
UploadMetadata = Annotated[
    str | None,
    Header(
        description="Comma-separated `key base64(value)`: space and path, or space, filename "
        "and an optional folder",
        json_schema_extra={
            "pattern": r"^[!-+\--~]+( [A-Za-z0-9+/=]*)?(,[!-+\--~]+( [A-Za-z0-9+/=]*)?)*$"
        },
    ),
]
_BODY = {"schema": {"type": "string", "format": "binary"}}
_OPTIONAL_BODY: dict[str, Any] = {
    "requestBody": {"required": False, "content": {OFFSET_STREAM: _BODY}}
}
_REQUIRED_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {OFFSET_STREAM: _BODY}}
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed tus header or metadata, or an unsupported checksum"},
    404: {"description": "No such upload, not the caller's, or expired"},
    412: {"description": "Tus-Resumable missing or not 1.0.0 (answer carries Tus-Version)"},
}


def _expires(info: UploadInfo) -> str:
    return format_datetime(info.expires_at, usegmt=True)


def _checksum(header: str | None) -> Checksum | None:
    return Checksum.parse(header) if header else None


def _whole_number(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    # Below 2**63: it must fit the 64-bit columns it is stored in.
    if not value.isdigit() or not value.isascii() or int(value) >= 1 << 63:
        raise InvalidInput("{name} must be a whole number of bytes.", name=name, field=name)
    return int(value)


def _metadata(header: str | None) -> dict[str, str]:
    """`key base64,key base64` (tus creation extension) as a dict of decoded values."""
    pairs: dict[str, str] = {}
    for item in (header or "").split(","):
        if not item.strip():
            continue
        key, _, value = item.strip().partition(" ")
        try:
            pairs[key] = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidInput(
                "Upload-Metadata: the value of {key} is not base64 of UTF-8 text.",
                key=key[:32],
                field="Upload-Metadata",
            ) from exc
    return pairs


def _target(meta: dict[str, str]) -> tuple[str, str]:
    """(space, path) named by the metadata: `space` and `path`, or `filename` (+ `folder`)."""

    def missing(key: str) -> InvalidInput:
        return InvalidInput(
            "Upload-Metadata must carry {key}: space and path, or space and filename "
            "(with an optional folder).",
            key=key,
            field="Upload-Metadata",
        )

    space = meta.get("space", "").strip()
    if not space:
        raise missing("space")
    if meta.get("path"):
        return space, meta["path"]
    filename = meta.get("filename", "")
    if not filename:
        raise missing("path")
    if "/" in filename:
        raise InvalidInput(
            "Upload-Metadata: filename is a name, not a path; put the folder in folder.",
            field="Upload-Metadata",
        )
    folder = meta.get("folder", "").strip("/")
    return space, f"{folder}/{filename}" if folder else filename


def _body(request: Request) -> Iterator[bytes]:
    """The request body; a client that disconnects simply ends it (tus keeps what came)."""
    stream: AsyncIterator[bytes] = request.stream().__aiter__()
    try:
        yield from sync_chunks(stream)
    except ClientDisconnect:
        return


def _check_stream_type(request: Request, content_type: str | None) -> Response | None:
    if (content_type or "").split(";")[0].strip().lower() != OFFSET_STREAM:
        return problem(
            415,
            "unsupported-media-type",
            WRONG_TYPE,
            request=request,
            params={"media_type": OFFSET_STREAM},
        )
    return None


@router.options(
    "",
    status_code=204,
    summary="tus capabilities",
    responses={204: {"description": "Tus-Version, Tus-Extension, Tus-Checksum-Algorithm"}},
)
def tus_options() -> Response:
    return Response(
        status_code=204,
        headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Checksum-Algorithm": "sha1,sha256",
        },
    )


@router.post(
    "",
    status_code=201,
    summary="Create an upload (tus creation, creation-with-upload)",
    openapi_extra=_OPTIONAL_BODY,
    responses={
        201: {"description": "Created: Location, Upload-Expires, Upload-Offset if a body came"},
        **_ERRORS,
        403: {"description": "The caller may not write the target"},
        409: {"description": "The target's folder is missing, or a folder has its name"},
        413: {"description": "Upload-Length exceeds the space's quota, or the body the length"},
        415: {"description": "A body not sent as application/offset+octet-stream"},
        460: {"description": "The body does not match Upload-Checksum (nothing was created)"},
    },
)
async def create_upload(
    request: Request,
    caller: Caller,
    svc: Svc,
    tus_resumable: TusResumable,  # noqa: ARG001 - documented here, checked by TusRoute
    upload_length: WholeNumber = None,
    upload_defer_length: Annotated[str | None, Header(include_in_schema=False)] = None,
    upload_metadata: UploadMetadata = None,
    upload_checksum: UploadChecksum = None,
) -> Response:
    content_length = request.headers.get("content-length")
    content_type = request.headers.get("content-type")
    if upload_defer_length is not None:
        raise InvalidInput(
            "Upload-Defer-Length is not supported: send Upload-Length.", field="Upload-Length"
        )
    length = _whole_number("Upload-Length", upload_length)
    if length is None:
        raise InvalidInput("Upload-Length is required.", field="Upload-Length")
    space, path = _target(_metadata(upload_metadata))
    declared = _whole_number("Content-Length", content_length) or 0
    with_body = declared > 0 or "transfer-encoding" in request.headers
    if with_body and (refused := _check_stream_type(request, content_type)) is not None:
        return refused
    checksum = _checksum(upload_checksum)
    body = _body(request) if with_body else None
    info = await anyio.to_thread.run_sync(
        lambda: svc.uploads.create(
            caller,
            space,
            path,
            length,
            body=body,
            size_hint=declared if with_body else None,
            checksum=checksum,
        )
    )
    headers = {"Location": f"{router.prefix}/{info.id}", "Upload-Expires": _expires(info)}
    if with_body or length == 0:
        headers["Upload-Offset"] = str(info.offset)
    return Response(status_code=201, headers=headers)


@router.head(
    "/{upload_id}",
    summary="An upload's offset (tus)",
    responses={200: {"description": "Upload-Offset, Upload-Length, Upload-Expires"}, **_ERRORS},
)
def head_upload(
    upload_id: str,
    caller: Caller,
    svc: Svc,
    tus_resumable: TusResumable,  # noqa: ARG001 - documented here, checked by TusRoute
) -> Response:
    info = svc.uploads.status(caller, upload_id)
    return Response(
        status_code=200,
        headers={
            "Upload-Offset": str(info.offset),
            "Upload-Length": str(info.length),
            "Upload-Expires": _expires(info),
            "Cache-Control": "no-store",
        },
    )


@router.patch(
    "/{upload_id}",
    status_code=204,
    summary="Append bytes at Upload-Offset (tus); completes the file at the last byte",
    openapi_extra=_REQUIRED_BODY,
    responses={
        204: {"description": "Kept: the new Upload-Offset"},
        **_ERRORS,
        409: {
            "description": "Upload-Offset is not the server's offset, or the completed "
            "file's write conflicts (the bytes are kept)"
        },
        413: {"description": "The body would pass Upload-Length, or the quota at completion"},
        415: {"description": "Content-Type is not application/offset+octet-stream"},
        460: {"description": "The body does not match Upload-Checksum; the offset is unchanged"},
    },
)
async def patch_upload(
    upload_id: str,
    request: Request,
    caller: Caller,
    svc: Svc,
    tus_resumable: TusResumable,  # noqa: ARG001 - documented here, checked by TusRoute
    upload_offset: WholeNumber = None,
    upload_checksum: UploadChecksum = None,
) -> Response:
    content_length = request.headers.get("content-length")
    content_type = request.headers.get("content-type")
    if (refused := _check_stream_type(request, content_type)) is not None:
        return refused
    offset = _whole_number("Upload-Offset", upload_offset)
    if offset is None:
        raise InvalidInput("Upload-Offset is required.", field="Upload-Offset")
    declared = _whole_number("Content-Length", content_length)
    checksum = _checksum(upload_checksum)
    body = _body(request)
    info = await anyio.to_thread.run_sync(
        lambda: svc.uploads.append(
            caller, upload_id, offset, body, size_hint=declared, checksum=checksum
        )
    )
    return Response(
        status_code=204,
        headers={"Upload-Offset": str(info.offset), "Upload-Expires": _expires(info)},
    )


@router.delete(
    "/{upload_id}",
    status_code=204,
    summary="Terminate an upload and delete what it received (tus termination)",
    responses={204: {"description": "Terminated"}, **_ERRORS},
)
def delete_upload(
    upload_id: str,
    caller: Caller,
    svc: Svc,
    tus_resumable: TusResumable,  # noqa: ARG001 - documented here, checked by TusRoute
) -> Response:
    svc.uploads.terminate(caller, upload_id)
    return Response(status_code=204)
