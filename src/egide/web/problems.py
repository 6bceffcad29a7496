"""Typed errors become RFC 9457 problem documents here, and only here.

`STATUS` is the one table from error kinds to HTTP status codes (API.md,
"Status codes that clients rely on"). A problem carries the error's own
message, which says what to do; never a stack trace, never a secret.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from egide.core.errors import EgideError, ErrorKind, InvalidInput

PROBLEM_JSON = "application/problem+json"

STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 400,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.PRECONDITION: 412,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.REJECTED: 422,
    ErrorKind.LOCKED: 423,
    ErrorKind.THROTTLED: 429,
    ErrorKind.INTEGRITY: 500,
    ErrorKind.UNAVAILABLE: 503,
}

_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Too large",
    416: "Range not satisfiable",
    422: "Rejected content",
    423: "Locked",
    429: "Too many requests",
    500: "Stored data failed verification",
    503: "Unavailable",
}


def problem(
    status: int, code: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": f"urn:egide:problem:{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def from_error(exc: EgideError) -> JSONResponse:
    extra: dict[str, Any] = {}
    if isinstance(exc, InvalidInput) and exc.field:
        extra["field"] = exc.field
    headers = (
        {"WWW-Authenticate": 'Bearer realm="egide"'}
        if exc.kind is ErrorKind.UNAUTHENTICATED
        else None
    )
    return problem(STATUS[exc.kind], exc.code, exc.render(), headers=headers, **extra)


async def handle_egide_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, EgideError):  # pragma: no cover - registered for EgideError only
        raise exc
    return from_error(exc)


async def handle_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover
        raise exc
    first = exc.errors()[0] if exc.errors() else {}
    field = ".".join(str(p) for p in first.get("loc", ()) if p not in {"body", "query", "path"})
    return problem(
        400,
        "invalid-input",
        f"Invalid value for {field or 'the request'}: {first.get('msg', 'malformed')}.",
        field=field or None,
    )


async def handle_http_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover
        raise exc
    return problem(exc.status_code, "http", str(exc.detail), headers=dict(exc.headers or {}))
