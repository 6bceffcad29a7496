"""The device authorization grant (RFC 8628) for `egide login`, over HTTP.

Two endpoints are the device's, open without credentials, and speak OAuth:
form-encoded (or JSON) parameters, and errors as RFC 6749 5.2 JSON
(`{"error": "authorization_pending"}`, status 400), not problem+json, so any
OAuth client library can drive them. Two are the approving user's, from a
web session only (cookie and CSRF header, as every unsafe session request):
the user code travels in their bodies, never in a URL.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from egide.core.errors import EgideError, InvalidInput
from egide.core.i18n import gettext_noop, render, text
from egide.services.accounts.device import (
    DeviceRequest,
    InvalidScope,
    PollError,
)
from egide.services.sessions.service import SessionInfo
from egide.web.deps import SESSION_COOKIE, Caller, SessionMfa, Sessions, Svc, bearer_token
from egide.web.problems import request_language
from egide.web.ratelimit import BUDGET_RESPONSES, spend_unauthenticated
from egide.web.schemas import Body, Flag

router = APIRouter(prefix="/api/v1/device", tags=["device"])

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
#: The most a device's parameters may weigh; anything larger is not a device request.
_MAX_BODY = 8192

#: RFC 6749 5.2 error codes this door answers, with what each tells the device.
_DESCRIPTIONS = {
    "invalid_request": gettext_noop(
        "The request is malformed: send {params} as form fields (or JSON)."
    ),
    "unsupported_grant_type": gettext_noop(
        "Only the grant type urn:ietf:params:oauth:grant-type:device_code is accepted here."
    ),
    PollError.PENDING: gettext_noop(
        "The user has not approved the request yet: poll again after the interval."
    ),
    PollError.SLOW_DOWN: gettext_noop(
        "Polled too fast: wait {interval} seconds between polls from now on."
    ),
    PollError.DENIED: gettext_noop("The request was denied: no token is issued."),
    PollError.EXPIRED: gettext_noop(
        "The code expired before it was approved: start again (egide login)."
    ),
    PollError.INVALID_GRANT: gettext_noop(
        "This device code is unknown or its token was already issued: start again (egide login)."
    ),
}

OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "OAuthError",
    "description": "RFC 6749 section 5.2 error (not problem+json), in the language of "
    "Accept-Language for its description.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "string",
            "enum": [*_DESCRIPTIONS, "invalid_scope"],
        },
        "error_description": {"type": "string"},
        "interval": {"type": "integer", "description": "With slow_down: the new interval"},
    },
}


def _oauth_operation(fields: dict[str, Any], required: list[str], errors: str) -> dict[str, Any]:
    """The OpenAPI of an OAuth endpoint: a form (or JSON) body, OAuth error JSON.
    `x-egide-oauth` tells web/openapi.py to add no problem responses and no security."""
    schema = {"type": "object", "properties": fields, "required": required}
    return {
        "x-egide-oauth": True,
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": schema},
                "application/json": {"schema": schema},
            },
        },
        "responses": {
            "400": {
                "description": f"{errors} As RFC 6749 5.2 JSON, not problem+json.",
                "content": {"application/json": {"schema": OAUTH_ERROR_SCHEMA}},
            }
        },
    }


@dataclass
class OAuthParams:
    """The parameters of an OAuth request, or why they could not be read."""

    values: dict[str, str] = field(default_factory=dict)
    malformed: bool = False

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def parse_params(raw: bytes, content_type: str) -> dict[str, str] | None:
    """Form-encoded parameters (RFC 6749), or a JSON object of strings; None if neither."""
    if len(raw) > _MAX_BODY:
        return None
    try:
        if "json" not in content_type:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
            # RFC 6749 3.1: a parameter sent twice is an invalid request.
            return dict(pairs) if len({name for name, _ in pairs}) == len(pairs) else None
        data = json.loads(raw or b"{}")
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    # Strings only, as in a form (the schema says so: "30", not 30).
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return None
    return {str(k): v for k, v in data.items()}


async def oauth_params(request: Request) -> OAuthParams:
    values = parse_params(await request.body(), request.headers.get("content-type", ""))
    return OAuthParams(malformed=True) if values is None else OAuthParams(values)


Params = Annotated[OAuthParams, Depends(oauth_params)]


def oauth_error(
    request: Request, error: str, *, params: dict[str, Any] | None = None, interval: int = 0
) -> JSONResponse:
    language = request_language(request)
    body: dict[str, Any] = {
        "error": error,
        "error_description": text(language, _DESCRIPTIONS[error], **(params or {})),
    }
    if interval:
        body["interval"] = interval
    return _no_store(JSONResponse(body, status_code=400), language)


def _from_error(request: Request, exc: EgideError) -> JSONResponse:
    language = request_language(request)
    error = "invalid_scope" if isinstance(exc, InvalidScope) else "invalid_request"
    body = {"error": error, "error_description": render(exc, language)}
    return _no_store(JSONResponse(body, status_code=400), language)


def _no_store(response: JSONResponse, language: str) -> JSONResponse:
    # RFC 6749 5.1: answers that carry (or concern) credentials are never cached.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = language
    response.headers["Vary"] = "Accept-Language"
    return response


class DeviceAuthorizationOut(BaseModel):
    """RFC 8628 section 3.2."""

    device_code: str = Field(description="Secret of the device: send it when polling")
    user_code: str = Field(description="Show it to the user, who types it at verification_uri")
    verification_uri: str = Field(description="The approval page (it never holds the code)")
    expires_in: int = Field(description="Seconds the codes live")
    interval: int = Field(description="Seconds to wait between polls")


class DeviceTokenOut(BaseModel):
    """RFC 6749 section 5.1, plus the token's id and expiry."""

    access_token: str = Field(description="The API token (`egd_...`): store it now")
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6749 token type, not a secret
    expires_in: int
    scope: str
    token_id: str
    expires_at: dt.datetime


@router.post(
    "/authorize",
    response_model=DeviceAuthorizationOut,
    summary="Device authorization request (RFC 8628)",
    dependencies=[Depends(spend_unauthenticated)],
    responses=BUDGET_RESPONSES,
    openapi_extra=_oauth_operation(
        {
            "client_name": {"type": "string", "maxLength": 100},
            "scope": {"type": "string", "description": "Space-separated; default files"},
            "expires_in_days": {"type": "string", "description": "Token lifetime, 1-365"},
        },
        ["client_name"],
        "invalid_request or invalid_scope.",
    ),
)
def authorize(request: Request, params: Params, svc: Svc) -> Any:
    if params.malformed:
        return oauth_error(request, "invalid_request", params={"params": "client_name, scope"})
    days = params.get("expires_in_days") or "90"
    if not days.isdigit() or len(days) > 3:
        return _from_error(
            request,
            InvalidInput(
                "A token lives from 1 to {days} days; create a new one when it expires.",
                field="expires_in_days",
                days=365,
            ),
        )
    try:
        grant = svc.device.start(
            params.get("client_name"), params.get("scope"), token_days=int(days)
        )
    except InvalidInput as exc:
        return _from_error(request, exc)
    body = DeviceAuthorizationOut(
        device_code=grant.device_code,
        user_code=grant.user_code,
        verification_uri=grant.verification_uri,
        expires_in=grant.expires_in,
        interval=grant.interval,
    )
    return _no_store(JSONResponse(body.model_dump()), request_language(request))


@router.post(
    "/token",
    response_model=DeviceTokenOut,
    summary="Device access token request (RFC 8628)",
    openapi_extra=_oauth_operation(
        {"grant_type": {"type": "string", "enum": [GRANT_TYPE]}, "device_code": {"type": "string"}},
        ["grant_type", "device_code"],
        "authorization_pending, slow_down (with the new interval), access_denied, "
        "expired_token, invalid_grant (unknown or already used), unsupported_grant_type, "
        "invalid_request.",
    ),
)
def token(request: Request, params: Params, svc: Svc) -> Any:
    if params.malformed or not params.get("device_code"):
        return oauth_error(request, "invalid_request", params={"params": "grant_type, device_code"})
    if params.get("grant_type") != GRANT_TYPE:
        return oauth_error(request, "unsupported_grant_type")
    result = svc.device.poll(params.get("device_code"))
    if result.error is not None:
        interval = result.interval if result.error == PollError.SLOW_DOWN else 0
        return oauth_error(
            request, result.error, params={"interval": result.interval}, interval=interval
        )
    info, secret = result.info, result.token
    if info is None or secret is None:  # pragma: no cover - poll answers an error or both
        return oauth_error(request, PollError.INVALID_GRANT)
    body = DeviceTokenOut(
        access_token=secret,
        expires_in=max(0, int((info.expires_at - svc.device.clock.now()).total_seconds())),
        scope=" ".join(sorted(info.scopes)),
        token_id=info.id,
        expires_at=info.expires_at,
    )
    return _no_store(JSONResponse(body.model_dump(mode="json")), request_language(request))


def approving_session(
    request: Request, _caller: Caller, web_sessions: Sessions
) -> SessionInfo | None:
    """The web session the caller acts through; None for an API token (which the
    service refuses: only a person in a browser approves a device)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if bearer_token(request) is not None or not cookie:
        return None
    return web_sessions.authenticate(cookie)[1]


WebSession = Annotated[SessionInfo | None, Depends(approving_session)]


class UserCodeIn(Body):
    user_code: str = Field(min_length=1, max_length=32, description="As the device shows it")


class ApproveIn(UserCodeIn):
    approve: Flag = Field(description="true: issue the token; false: deny the device")


class DeviceRequestOut(BaseModel):
    client_name: str = Field(description="What the device calls itself: check it is yours")
    scopes: list[str] = Field(description="What the device asked for")
    granted_scopes: list[str] = Field(description="What your roles allow of it")
    created_at: dt.datetime
    expires_at: dt.datetime

    @classmethod
    def of(cls, request: DeviceRequest) -> DeviceRequestOut:
        return cls(
            client_name=request.client_name,
            scopes=sorted(request.scopes),
            granted_scopes=sorted(request.granted),
            created_at=request.created_at,
            expires_at=request.expires_at,
        )


class DecisionOut(DeviceRequestOut):
    approved: bool


@router.post(
    "/lookup",
    response_model=DeviceRequestOut,
    summary="The device request a user code names (for the approval page)",
)
def lookup(body: UserCodeIn, caller: Caller, session: WebSession, svc: Svc) -> DeviceRequestOut:
    found = svc.device.describe(
        caller, body.user_code, session_id=None if session is None else session.id
    )
    return DeviceRequestOut.of(found)


@router.post(
    "/approve",
    response_model=DecisionOut,
    summary="Approve or deny a device (a session with its second factor)",
)
def approve(
    body: ApproveIn, caller: Caller, mfa: SessionMfa, session: WebSession, svc: Svc
) -> DecisionOut:
    session_id = None if session is None else session.id
    if body.approve:
        decided = svc.device.approve(caller, body.user_code, session_id=session_id, mfa_method=mfa)
    else:
        decided = svc.device.deny(caller, body.user_code, session_id=session_id)
    return DecisionOut(**DeviceRequestOut.of(decided).model_dump(), approved=body.approve)
