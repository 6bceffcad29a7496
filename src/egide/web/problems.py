"""Typed errors become RFC 9457 problem documents here, and only here.

`STATUS` is the one table from error kinds to HTTP status codes (API.md,
"Status codes that clients rely on"). A problem carries the error's own
message, which says what to do; never a stack trace, never a secret.

Problems speak the caller's language (API.md, Conventions): the one
`Accept-Language` prefers among French and English, else the `language`
setting (`core/i18n.py`). `title` and `detail` are translated, `type` never;
every problem says `Content-Language` and `Vary: Accept-Language`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from egide.core.errors import EgideError, ErrorKind, InvalidInput
from egide.core.i18n import SOURCE_LANGUAGE, SUPPORTED, gettext_noop, negotiate, render, text

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
    400: gettext_noop("Bad request"),
    401: gettext_noop("Not authenticated"),
    403: gettext_noop("Forbidden"),
    404: gettext_noop("Not found"),
    405: gettext_noop("Method not allowed"),
    409: gettext_noop("Conflict"),
    412: gettext_noop("Precondition failed"),
    413: gettext_noop("Too large"),
    415: gettext_noop("Unsupported media type"),
    416: gettext_noop("Range not satisfiable"),
    422: gettext_noop("Rejected content"),
    423: gettext_noop("Locked"),
    429: gettext_noop("Too many requests"),
    460: gettext_noop("Checksum mismatch"),
    500: gettext_noop("Stored data failed verification"),
    503: gettext_noop("Unavailable"),
}
_DEFAULT_TITLE = gettext_noop("Error")

INVALID_FIELD = gettext_noop("Invalid value for {field}: {reason}.")
INVALID_REQUEST = gettext_noop("Invalid value for the request: {reason}.")
MALFORMED = gettext_noop("malformed")
#: Starlette's own details for the errors its router raises (the HTTP reason phrases).
_HTTP_DETAILS = (gettext_noop("Not Found"), gettext_noop("Method Not Allowed"))

#: French texts for pydantic's commonest validation errors, by error type, formatted
#: with the error's `ctx`; in English, and for any other type, pydantic's own text.
_VALIDATION_REASONS = {
    "missing": gettext_noop("Field required"),
    "json_invalid": gettext_noop("Invalid JSON"),
    "string_type": gettext_noop("Input should be a valid string"),
    "int_type": gettext_noop("Input should be a valid integer"),
    "int_parsing": gettext_noop(
        "Input should be a valid integer, unable to parse string as an integer"
    ),
    "bool_type": gettext_noop("Input should be a valid boolean"),
    "bool_parsing": gettext_noop("Input should be a valid boolean, unable to interpret input"),
    "list_type": gettext_noop("Input should be a valid list"),
    "dict_type": gettext_noop("Input should be a valid dictionary"),
    "model_attributes_type": gettext_noop(
        "Input should be a valid dictionary or object to extract fields from"
    ),
    "string_too_short": gettext_noop("String should have at least {min_length} characters"),
    "string_too_long": gettext_noop("String should have at most {max_length} characters"),
    "greater_than_equal": gettext_noop("Input should be greater than or equal to {ge}"),
    "less_than_equal": gettext_noop("Input should be less than or equal to {le}"),
    "extra_forbidden": gettext_noop("Extra inputs are not permitted"),
}


def request_language(request: Request | None) -> str:
    """The language of the answer: the client's `Accept-Language`, else the `language`
    setting (English for an answer built without its request)."""
    if request is None:
        return SOURCE_LANGUAGE
    services = getattr(request.app.state, "services", None)
    default = services.settings.language if services is not None else SUPPORTED[0]
    return negotiate(request.headers.get("accept-language"), default)


def _response(
    status: int,
    code: str,
    *,
    detail: str,
    language: str,
    headers: dict[str, str] | None,
    extra: dict[str, Any],
) -> JSONResponse:
    body = {
        "type": f"urn:egide:problem:{code}",
        "title": text(language, _TITLES.get(status, _DEFAULT_TITLE)),
        "status": status,
        "detail": detail,
        **extra,
    }
    response = JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
    response.headers["Content-Language"] = language
    # The text depends on Accept-Language, so caches must key on it (RFC 9110 12.5.5).
    vary = response.headers.get("Vary")
    response.headers["Vary"] = f"{vary}, Accept-Language" if vary else "Accept-Language"
    return response


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    request: Request | None = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem whose `detail` is a msgid (marked with `gettext_noop`) filled with
    `params`, in the language of `request` (English without one)."""
    language = request_language(request)
    detail_text = text(language, detail, **(params or {}))
    return _response(
        status, code, detail=detail_text, language=language, headers=headers, extra=extra
    )


def from_error(
    exc: EgideError, request: Request | None, *, status: int | None = None
) -> JSONResponse:
    """The problem for a typed error, in the language of `request`; `status` overrides
    the one of its kind (tus answers 460 to a checksum mismatch)."""
    language = request_language(request)
    extra: dict[str, Any] = {}
    if isinstance(exc, InvalidInput) and exc.field:
        extra["field"] = exc.field
    return _response(
        status or STATUS[exc.kind],
        exc.code,
        detail=render(exc, language),
        language=language,
        headers=_headers(exc),
        extra=extra,
    )


def _headers(exc: EgideError) -> dict[str, str] | None:
    """The headers an error's kind calls for: the scheme to authenticate with
    (RFC 9110 11.6.1), and when to try again for an error that says so (10.2.3)."""
    headers: dict[str, str] = {}
    if exc.kind is ErrorKind.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = 'Bearer realm="egide"'
    # Any error may carry `retry_after` (whole seconds): LoginThrottled does.
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int) and retry_after > 0:
        headers["Retry-After"] = str(retry_after)
    return headers or None


async def handle_egide_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, EgideError):  # pragma: no cover - registered for EgideError only
        raise exc
    return from_error(exc, request)


def _reason(error: Mapping[str, Any], language: str) -> str:
    """Why a value was refused: pydantic's text, or ours for the commonest errors."""
    message = str(error.get("msg") or "")
    template = _VALIDATION_REASONS.get(str(error.get("type")))
    if language != SOURCE_LANGUAGE and template is not None:
        try:
            return text(language, template, **dict(error.get("ctx") or {}))
        except (KeyError, IndexError, ValueError):
            pass
    return message or text(language, MALFORMED)


async def handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover
        raise exc
    first = exc.errors()[0] if exc.errors() else {}
    field = ".".join(str(p) for p in first.get("loc", ()) if p not in {"body", "query", "path"})
    language = request_language(request)
    reason = _reason(first, language)
    return problem(
        400,
        "invalid-input",
        INVALID_FIELD if field else INVALID_REQUEST,
        request=request,
        params={"field": field, "reason": reason} if field else {"reason": reason},
        field=field or None,
    )


async def handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover
        raise exc
    # A detail Égide does not know (a reason phrase) is shown as Starlette gives it.
    return problem(
        exc.status_code,
        "http",
        str(exc.detail),
        request=request,
        headers=dict(exc.headers or {}),
    )
