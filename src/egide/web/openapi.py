"""The published OpenAPI document, made to say what the server really answers.

FastAPI documents a 422 "HTTPValidationError" on every operation with
parameters, but Égide answers bad input with a 400 problem document
(problems.py), and any operation can answer the errors every request may
meet (not signed in, hidden, stored data failing verification, a dependency
down). This module rewrites the generated document once, at first request:

- every 422 FastAPI added is removed; every operation under `/api/v1` gets the
  common problem responses (`COMMON`), and every error response without a
  body schema gets the problem+json schema;
- the two ways to authenticate are declared as security schemes (a bearer
  API token, or the session cookie with its `X-CSRF-Token` on unsafe
  methods), required everywhere but on `PUBLIC` operations.

tests/web/test_openapi.py checks the contract; tests/e2e/test_schemathesis.py
checks the live server against this document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from egide.services.audit.context import Purpose
from egide.web.deps import PURPOSE_HEADER, SESSION_COOKIE

PROBLEM_JSON = "application/problem+json"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details, in the language of Accept-Language.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "urn:egide:problem:<code>; stable"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What happened and what to do"},
        "field": {
            "type": ["string", "null"],
            "description": "The input at fault, for bad input",
        },
    },
}

#: Errors any operation under /api/v1 may answer.
COMMON: dict[str, str] = {
    "400": "Bad input: `field` names the input at fault and `detail` says why",
    "401": "Not signed in, session ended or locked (`session-locked`), or a bad token",
    "403": "Not allowed (a role or scope missing, a CSRF header missing, a password "
    "change required)",
    "404": "Not found, or hidden from the caller",
    "409": "Conflict: a name taken, a parent folder missing, a folder where a file is "
    "expected (or the reverse)",
    "500": "Stored data failed verification (no stack trace, nothing secret)",
    "503": "A dependency (database, blob store, keys) is unavailable",
}

#: (method, path) callable without credentials.
PUBLIC = frozenset(
    {
        ("post", "/api/v1/session"),
        ("options", "/api/v1/uploads"),
        # Single sign-on: the browser is not signed in yet (web/api/sso.py).
        ("get", "/api/v1/sso"),
        ("get", "/api/v1/sso/login"),
        ("get", "/api/v1/sso/callback"),
        # Passwordless log-in with a passkey: no session yet (web/api/passkeys.py).
        ("post", "/api/v1/session/passkey/options"),
        ("post", "/api/v1/session/passkey"),
        # Share links, opened without an account: the token is the credential (links.py).
        ("get", "/api/v1/links/{token}"),
        ("post", "/api/v1/links/{token}/password"),
        ("post", "/api/v1/links/{token}/verify"),
        ("post", "/api/v1/links/{token}/verify/confirm"),
        ("get", "/api/v1/links/{token}/content/{path}"),
        ("get", "/api/v1/links/{token}/zip"),
        ("put", "/api/v1/links/{token}/files/{name}"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
    }
)

#: Every authenticated request may say why it accesses the data (the audit context).
PURPOSE_PARAMETER: dict[str, Any] = {
    "name": PURPOSE_HEADER,
    "in": "header",
    "required": False,
    "description": "Why the caller accesses the data, sealed into the audit context of "
    "the request's actions and shown in access reports; another value is a 400.",
    "schema": {"type": "string", "enum": [str(p) for p in Purpose]},
}

SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (POST /api/v1/tokens), `egd_...`",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The session cookie of POST /api/v1/session; unsafe methods also "
        "need its CSRF token in X-CSRF-Token",
    },
}


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _rewrite_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if responses.get("422", {}).get("description") == "Validation Error":
        responses.pop("422")  # FastAPI's own; an operation's declared 422 stays
    if operation.pop("x-egide-oauth", False):
        # The device flow's OAuth endpoints (web/api/device.py, RFC 8628): open without
        # credentials, and their errors are RFC 6749 5.2 JSON, which they declare.
        return
    if path.startswith("/api/v1/"):
        for status, description in COMMON.items():
            responses.setdefault(status, {"description": description})
        if (method, path) not in PUBLIC:
            operation["security"] = [{"bearer": []}, {"session": []}]
            operation.setdefault("parameters", []).append(PURPOSE_PARAMETER)
    for status, response in responses.items():
        if status[0] in "45" and "content" not in response:
            response["content"] = _problem_content()


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of `app`, rewritten as the module docstring says."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _rewrite_operation(path, method, operation)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    return schema


def install(app: FastAPI) -> None:
    """Serve the rewritten document at the app's `openapi_url` (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
