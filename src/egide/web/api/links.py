"""External share links (issue 7): made and managed by users, opened without an account.

Two kinds of routes. Those of users (a session or a token, like every other
route): make a link to a file or a folder, list the links of an item or
mine, revoke one, and a space's link policy. Those of recipients, under
`/api/v1/links/{token}`, need no credentials: the token is the only secret
that ever travels in a URL (API.md), and every answer carries
`Referrer-Policy: no-referrer` so it does not leak to another site. What a
recipient proved (password, address) lives in a link session whose cookie is
HttpOnly, SameSite=Strict and scoped to `/api/v1/links/` (ADR 21).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from egide.core.i18n import gettext_noop, negotiate, text
from egide.services.sharing.common import RECIPIENT_PAGE
from egide.services.sharing.errors import InvalidLinkInput
from egide.services.sharing.types import LinkCreated, LinkInfo, LinkPass, LinkPolicy, LinkView
from egide.services.sharing.zipstream import zip_stream
from egide.web.deps import Caller, Svc
from egide.web.http import (
    RangeNotSatisfiable,
    coalesce,
    content_disposition,
    media_type,
    parse_range,
    sync_chunks,
)
from egide.web.problems import problem
from egide.web.schemas import Body, Count, Flag, Instant

router = APIRouter(tags=["links"])

LINK_COOKIE = "egide_link"
LINK_COOKIE_PATH = "/api/v1/links/"
#: Every answer to a recipient: the token in the address bar must not travel further.
_PRIVATE = {"Referrer-Policy": "no-referrer", "Cache-Control": "private, no-store"}

THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "Too many failed attempts: wait the seconds Retry-After says",
        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    }
}


class LinkOut(BaseModel):
    id: str
    space: str
    path: str | None = Field(description="Null while the item is in the trash")
    kind: str
    created_by: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    has_password: bool
    require_verification: bool
    max_downloads: int | None
    downloads: int
    opens: int
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    recipients: list[str]
    state: str = Field(description="active, expired, exhausted or revoked")
    max_file_bytes: int | None = Field(default=None, description="File requests only")
    max_total_bytes: int | None = Field(default=None, description="File requests only")
    max_files: int | None = Field(default=None, description="File requests only")
    received_files: int = Field(default=0, description="File requests: files received")
    received_bytes: int = Field(default=0, description="File requests: bytes received")

    @classmethod
    def of(cls, info: LinkInfo) -> LinkOut:
        return cls(**{**info.__dict__, "recipients": list(info.recipients)})


class LinkCreatedOut(LinkOut):
    token: str = Field(description="Shown once, stored nowhere: give it to the recipients")
    url: str = Field(description="The recipient's page (public_url + /links/{token})")

    @classmethod
    def made(cls, created: LinkCreated, public_url: str) -> LinkCreatedOut:
        base = LinkOut.of(created.link).model_dump()
        page = public_url + RECIPIENT_PAGE.format(token=created.token)
        return cls(**base, token=created.token, url=page)


class LinkIn(Body):
    kind: Literal["link", "request"] = Field(
        default="link",
        description='"request": a file request, an upload-only link to a folder (ADR 25)',
    )
    expires_at: Instant | None = Field(
        default=None, description="With its time zone; default in 7 days, at most links_max_days"
    )
    password: str | None = Field(default=None, max_length=1024)
    max_downloads: Count | None = Field(default=None, ge=1, le=10_000)
    recipients: list[str] = Field(default_factory=list, max_length=50)
    require_verification: Flag = True
    max_file_bytes: Count | None = Field(
        default=None, ge=1, description="File requests: largest file (default: the setting)"
    )
    max_total_bytes: Count | None = Field(
        default=None, ge=1, description="File requests: all files together (default: the setting)"
    )
    max_files: Count | None = Field(default=None, ge=1, le=10_000, description="File requests")


class LinkPolicyOut(BaseModel):
    space: str
    links_allowed: bool
    max_days: int
    verification_required: bool

    @classmethod
    def of(cls, policy: LinkPolicy) -> LinkPolicyOut:
        return cls(**policy.__dict__)


class LinkPolicyIn(Body):
    links_allowed: Flag | None = None
    max_days: Count | None = Field(default=None, ge=0, le=3650)
    verification_required: Flag | None = None


class LinkFileOut(BaseModel):
    path: str
    name: str
    size: int


class LinkViewOut(BaseModel):
    needs: list[str] = Field(description='Still to give: "password", "verification"')
    kind: str | None = None
    name: str | None = None
    sender: str | None = None
    expires_at: dt.datetime | None = None
    downloads_left: int | None = None
    files: list[LinkFileOut] = Field(default_factory=list)
    verified_email: str | None = None
    max_file_bytes: int | None = Field(default=None, description="File requests only")
    bytes_left: int | None = Field(default=None, description="File requests only")
    files_left: int | None = Field(default=None, description="File requests only")

    @classmethod
    def of(cls, view: LinkView) -> LinkViewOut:
        return cls(
            needs=list(view.needs),
            kind=view.kind,
            name=view.name,
            sender=view.sender,
            expires_at=view.expires_at,
            downloads_left=view.downloads_left,
            files=[LinkFileOut(**f.__dict__) for f in view.files],
            verified_email=view.verified_email,
            max_file_bytes=view.max_file_bytes,
            bytes_left=view.bytes_left,
            files_left=view.files_left,
        )


class PasswordIn(Body):
    password: str = Field(max_length=1024)


class EmailIn(Body):
    email: str = Field(max_length=320)


class CodeIn(Body):
    email: str = Field(max_length=320)
    code: str = Field(max_length=16)


class Accepted(BaseModel):
    detail: str


_CODE_SENT = gettext_noop(
    "If this address may open the link, a code was sent to it. It is valid for 10 minutes."
)


# Users' routes ---------------------------------------------------------------


@router.post(
    "/api/v1/spaces/{space}/links/{path:path}",
    response_model=LinkCreatedOut,
    status_code=201,
    summary="Make an external link to a file or a folder, or a file request to a folder "
    "(its token is shown once)",
)
def create_link(space: str, path: str, body: LinkIn, caller: Caller, svc: Svc) -> LinkCreatedOut:
    if body.kind == "request":
        if body.max_downloads is not None:
            raise InvalidLinkInput(
                "A file request has no download limit: leave max_downloads out.",
                field="max_downloads",
            )
        created = svc.sharing.create_request(
            caller,
            space,
            path,
            expires_at=body.expires_at,
            password=body.password,
            recipients=body.recipients,
            require_verification=body.require_verification,
            max_file_bytes=body.max_file_bytes,
            max_total_bytes=body.max_total_bytes,
            max_files=body.max_files,
        )
        return LinkCreatedOut.made(created, svc.settings.resolved_public_url)
    created = svc.sharing.create_link(
        caller,
        space,
        path,
        expires_at=body.expires_at,
        password=body.password,
        max_downloads=body.max_downloads,
        recipients=body.recipients,
        require_verification=body.require_verification,
    )
    return LinkCreatedOut.made(created, svc.settings.resolved_public_url)


@router.get(
    "/api/v1/spaces/{space}/links/{path:path}",
    response_model=list[LinkOut],
    summary="The links made to a file or a folder",
)
def links_of(space: str, path: str, caller: Caller, svc: Svc) -> list[LinkOut]:
    return [LinkOut.of(link) for link in svc.sharing.links_of(caller, space, path)]


@router.get("/api/v1/links", response_model=list[LinkOut], summary="My links (all: admins)")
def my_links(caller: Caller, svc: Svc, all: bool = False) -> list[LinkOut]:  # noqa: A002
    return [LinkOut.of(link) for link in svc.sharing.list_links(caller, all_links=all)]


@router.delete("/api/v1/links/id/{link_id}", status_code=204, summary="Revoke a link")
def revoke_link(link_id: str, caller: Caller, svc: Svc) -> None:
    svc.sharing.revoke_link(caller, link_id)


@router.get(
    "/api/v1/spaces/{space}/link-policy",
    response_model=LinkPolicyOut,
    summary="What a space allows for external links",
)
def link_policy(space: str, caller: Caller, svc: Svc) -> LinkPolicyOut:
    return LinkPolicyOut.of(svc.sharing.link_policy(caller, space))


@router.put(
    "/api/v1/spaces/{space}/link-policy",
    response_model=LinkPolicyOut,
    summary="Set what a space allows for external links (administrators)",
)
def set_link_policy(space: str, body: LinkPolicyIn, caller: Caller, svc: Svc) -> LinkPolicyOut:
    return LinkPolicyOut.of(
        svc.sharing.set_link_policy(
            caller,
            space,
            links_allowed=body.links_allowed,
            max_days=body.max_days,
            verification_required=body.verification_required,
        )
    )


# Recipients' routes ----------------------------------------------------------


def _cookie(request: Request) -> str | None:
    return request.cookies.get(LINK_COOKIE)


def _passed(
    request: Request, response: Response, passed: LinkPass, now: dt.datetime
) -> LinkViewOut:
    response.set_cookie(
        LINK_COOKIE,
        passed.cookie,
        max_age=max(1, int((passed.expires_at - now).total_seconds())),
        httponly=True,
        samesite="strict",
        secure=request.app.state.services.settings.secure_cookies,
        path=LINK_COOKIE_PATH,
    )
    response.headers.update(_PRIVATE)
    return LinkViewOut.of(passed.view)


@router.get(
    "/api/v1/links/{token}",
    response_model=LinkViewOut,
    summary="Open a link: what is still needed, else the sender, files and expiry",
    responses=THROTTLED,
)
def open_link(token: str, request: Request, response: Response, svc: Svc) -> LinkViewOut:
    view = svc.link_access.open(token, _cookie(request))
    response.headers.update(_PRIVATE)
    return LinkViewOut.of(view)


@router.post(
    "/api/v1/links/{token}/password",
    response_model=LinkViewOut,
    summary="Give a link's password (sets the link session cookie)",
    responses=THROTTLED,
)
def link_password(
    token: str, body: PasswordIn, request: Request, response: Response, svc: Svc
) -> LinkViewOut:
    passed = svc.link_access.give_password(token, _cookie(request), body.password)
    return _passed(request, response, passed, svc.link_access.clock.now())


@router.post(
    "/api/v1/links/{token}/verify",
    response_model=Accepted,
    status_code=202,
    summary="Ask for a one-time code by mail (same answer for any address)",
    responses=THROTTLED,
)
def link_verify(
    token: str, body: EmailIn, request: Request, response: Response, svc: Svc
) -> Accepted:
    language = negotiate(request.headers.get("accept-language"), svc.settings.language)
    svc.link_access.send_code(token, _cookie(request), body.email, language=language)
    response.headers.update(_PRIVATE)
    return Accepted(detail=text(language, _CODE_SENT))


@router.post(
    "/api/v1/links/{token}/verify/confirm",
    response_model=LinkViewOut,
    summary="Give the mailed code (sets the link session cookie)",
    responses=THROTTLED,
)
def link_confirm(
    token: str, body: CodeIn, request: Request, response: Response, svc: Svc
) -> LinkViewOut:
    passed = svc.link_access.confirm_code(token, _cookie(request), body.email, body.code)
    return _passed(request, response, passed, svc.link_access.clock.now())


_ANY_TYPE: dict[str, Any] = {"*/*": {"schema": {"type": "string", "format": "binary"}}}


@router.get(
    "/api/v1/links/{token}/content/{path:path}",
    summary="Download a file of a link (streamed, Range; counts one download)",
    response_class=StreamingResponse,
    responses={
        200: {"description": "The file, as an attachment", "content": _ANY_TYPE},
        206: {"description": "Partial content (one range)", "content": _ANY_TYPE},
        416: {"description": "Range not satisfiable"},
        **THROTTLED,
    },
)
async def link_content(token: str, path: str, request: Request, svc: Svc) -> Response:
    cookie = _cookie(request)
    got = await anyio.to_thread.run_sync(lambda: svc.link_access.download(token, cookie, path))
    download = got.file
    headers = {
        **_PRIVATE,
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(download.name),
        "X-Content-Type-Options": "nosniff",
    }
    try:
        window = parse_range(request.headers.get("range"), download.size)
    except RangeNotSatisfiable:
        return problem(
            416,
            "range-not-satisfiable",
            gettext_noop("The requested range is outside the file ({size} bytes)."),
            request=request,
            params={"size": download.size},
            headers={"Content-Range": f"bytes */{download.size}", **_PRIVATE},
        )
    start, end = window or (0, download.size)
    status = 200
    if window is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{download.size}"
    headers["Content-Length"] = str(end - start)
    return StreamingResponse(
        coalesce(download.iter_bytes(start, end)),
        status_code=status,
        media_type=media_type(download.name),
        headers=headers,
    )


@router.get(
    "/api/v1/links/{token}/zip",
    summary="Download a folder link as one zip, streamed (counts one download)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}, **THROTTLED},
)
async def link_zip(token: str, request: Request, svc: Svc) -> Response:
    cookie = _cookie(request)
    got = await anyio.to_thread.run_sync(lambda: svc.link_access.zip(token, cookie))
    return StreamingResponse(
        coalesce(zip_stream(got.entries)),
        media_type="application/zip",
        headers={
            **_PRIVATE,
            "Content-Disposition": content_disposition(got.name + ".zip"),
            "X-Content-Type-Options": "nosniff",
        },
    )


class ReceivedOut(BaseModel):
    name: str = Field(description="The name sent (a file request never tells the stored name)")
    size: int


@router.put(
    "/api/v1/links/{token}/files/{name}",
    response_model=ReceivedOut,
    status_code=201,
    summary="Send a file through a file request (raw body, streamed; Content-Length required)",
    responses={
        411: {"description": "No Content-Length: the size must be known before storing"},
        413: {"description": "Over the request's limits: refused before anything is stored"},
        **THROTTLED,
    },
)
async def link_upload(token: str, name: str, request: Request, svc: Svc) -> Response:
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        return problem(
            411,
            "length-required",
            gettext_noop(
                "Send the file's size in the Content-Length header: a file request checks it "
                "before storing anything."
            ),
            request=request,
            headers=_PRIVATE,
        )
    cookie = _cookie(request)
    chunks = sync_chunks(request.stream().__aiter__())
    got = await anyio.to_thread.run_sync(
        lambda: svc.link_access.receive(token, cookie, name, chunks, int(length))
    )
    return JSONResponse(
        ReceivedOut(name=got.name, size=got.size).model_dump(), status_code=201, headers=_PRIVATE
    )
