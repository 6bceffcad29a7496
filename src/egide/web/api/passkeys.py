"""Passkeys (WebAuthn): register and manage mine, sign in with one (issue 5, item 2).

Each ceremony is two calls, as the browser's `navigator.credentials` API
needs: `.../options` returns the options JSON to pass (after decoding its
base64url fields) to `navigator.credentials.create()` or `.get()`; the
next call takes the browser's answer (`PublicKeyCredential.toJSON()`) as
`credential`. The service judges everything (services/mfa/passkeys.py);
this module only carries requests and answers.

- Registering: open to a session that has not yet given its second factor
  when the user has none (enrolment), like the authenticator-app calls;
  that first passkey renews the session as verified.
- Second factor: after the password, instead of a code.
- Passwordless log-in: no session yet, hence no CSRF token, like
  `POST /session`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from egide.services.mfa.passkeys import PasskeyInfo
from egide.web.api.session import THROTTLED, SessionOut, session_cookie, started_session
from egide.web.deps import CSRF_HEADER, Caller, Sessions, Svc
from egide.web.ratelimit import BUDGET_RESPONSES, spend_unauthenticated
from egide.web.schemas import Body

router = APIRouter(prefix="/api/v1", tags=["session"])

OPTIONS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "WebAuthn options (JSON, binary fields in base64url) for the browser; "
        "valid 5 minutes, for one answer",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}

PasskeyId = Annotated[str, Path(max_length=36, description="The passkey's id (from the list).")]


class Credential(Body):
    credential: dict[str, Any] = Field(
        description="The browser's answer, as `PublicKeyCredential.toJSON()` gives it "
        "(id, rawId, type, response with base64url fields)."
    )


class PasskeyName(Body):
    name: str = Field(
        min_length=1, max_length=100, description="My name for it: 'YubiKey bureau', 'Téléphone'."
    )


class NewPasskey(Credential, PasskeyName):
    pass


class PasskeyRemoval(Body):
    code: str | None = Field(
        default=None,
        max_length=64,
        description="A current code of the authenticator app, or a recovery code.",
    )
    current_password: str | None = Field(
        default=None, max_length=4096, description="Or the account's password."
    )


class PasskeyOut(BaseModel):
    id: str
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    backed_up: bool = Field(description="A synced passkey (copied to the user's other devices).")
    transports: list[str]


class PasskeyRegisteredOut(BaseModel):
    passkey: PasskeyOut
    recovery_codes: list[str] = Field(
        description="Ten single-use codes when the user had none left (shown this once), "
        "else empty."
    )
    session: SessionOut | None = Field(
        description="The renewed session (new cookie and CSRF token) when this session had not "
        "given a second factor yet; null otherwise."
    )


def _out(info: PasskeyInfo) -> PasskeyOut:
    return PasskeyOut(
        id=info.id,
        name=info.name,
        created_at=info.created_at,
        last_used_at=info.last_used_at,
        backed_up=info.backed_up,
        transports=info.transports,
    )


def _options(text: str) -> Response:
    return Response(text, media_type="application/json", headers={"Cache-Control": "no-store"})


def _client(request: Request) -> dict[str, str]:
    return {
        "client_address": request.client.host if request.client else "",
        "user_agent": request.headers.get("user-agent", ""),
    }


# Mine -------------------------------------------------------------------------------


@router.post(
    "/me/mfa/passkeys/options",
    response_class=Response,
    responses=OPTIONS_RESPONSE,
    summary="Options to register a passkey",
    description="For `navigator.credentials.create()`. Open to a session that has not given "
    "its second factor only when the user has none yet (403 mfa-required otherwise).",
)
def registration_options(request: Request, web: Sessions) -> Response:
    cookie = session_cookie(request)
    web.check_csrf(cookie, request.headers.get(CSRF_HEADER))
    return _options(web.passkey_registration_options(cookie))


@router.post(
    "/me/mfa/passkeys",
    response_model=PasskeyRegisteredOut,
    status_code=201,
    summary="Register a passkey",
    description="The browser's answer to the registration options, with a name. The first "
    "second factor of a session that had none renews the session as verified.",
)
def register(
    body: NewPasskey, request: Request, response: Response, web: Sessions
) -> PasskeyRegisteredOut:
    cookie = session_cookie(request)
    web.check_csrf(cookie, request.headers.get(CSRF_HEADER))
    who, new, registered = web.register_passkey(
        cookie, body.name, body.credential, **_client(request)
    )
    session = None if new is None else started_session(request, response, web, who, new)
    response.headers["Cache-Control"] = "no-store"
    return PasskeyRegisteredOut(
        passkey=_out(registered.passkey),
        recovery_codes=registered.recovery_codes,
        session=session,
    )


@router.get("/me/mfa/passkeys", response_model=list[PasskeyOut], summary="My passkeys")
def list_passkeys(caller: Caller, svc: Svc) -> list[PasskeyOut]:
    return [_out(p) for p in svc.passkeys.list_passkeys(caller)]


@router.patch(
    "/me/mfa/passkeys/{passkey_id}", response_model=PasskeyOut, summary="Rename a passkey"
)
def rename(passkey_id: PasskeyId, body: PasskeyName, caller: Caller, svc: Svc) -> PasskeyOut:
    return _out(svc.passkeys.rename(caller, passkey_id, body.name))


@router.delete(
    "/me/mfa/passkeys/{passkey_id}",
    status_code=204,
    responses=THROTTLED,
    summary="Remove a passkey",
    description="With a current code of the authenticator app, a recovery code, or the "
    "password. With the last second factor go the recovery codes.",
)
def remove(passkey_id: PasskeyId, body: PasskeyRemoval, caller: Caller, svc: Svc) -> None:
    svc.passkeys.remove(caller, passkey_id, code=body.code, current_password=body.current_password)


# Signing in ---------------------------------------------------------------------------


@router.post(
    "/session/mfa/passkey/options",
    response_class=Response,
    responses=OPTIONS_RESPONSE,
    summary="Options to give the second factor with a passkey",
    description="For `navigator.credentials.get()`, after POST /session answered "
    "`mfa_required`; lists the user's passkeys (404 passkey-none without any).",
)
def second_factor_options(request: Request, web: Sessions) -> Response:
    cookie = session_cookie(request)
    web.check_csrf(cookie, request.headers.get(CSRF_HEADER))
    return _options(web.passkey_options(cookie))


@router.post(
    "/session/mfa/passkey",
    response_model=SessionOut,
    responses=THROTTLED,
    summary="Give the second factor with a passkey",
    description="The browser's answer to the options above. Ends this session and opens a "
    "fresh one (new cookie, new CSRF token), as POST /session/mfa does.",
)
def verify_second_factor(
    body: Credential, request: Request, response: Response, web: Sessions
) -> SessionOut:
    cookie = session_cookie(request)
    web.check_csrf(cookie, request.headers.get(CSRF_HEADER))
    who, new = web.verify_passkey(cookie, body.credential, **_client(request))
    return started_session(request, response, web, who, new)


@router.post(
    "/session/passkey/options",
    response_class=Response,
    summary="Options to sign in with a passkey, without a password",
    description="For `navigator.credentials.get()` with a discoverable passkey (no username); "
    "user verification (PIN, biometrics) is required. Budgeted per client address (429).",
    dependencies=[Depends(spend_unauthenticated)],
    responses={**OPTIONS_RESPONSE, **BUDGET_RESPONSES},
)
def login_options(svc: Svc) -> Response:
    return _options(svc.passkeys.assertion_options(user_id=None, session_id=None))


@router.post(
    "/session/passkey",
    response_model=SessionOut,
    responses=THROTTLED,
    summary="Sign in with a passkey, without a password",
    description="The browser's answer to the options above opens a session that has given "
    "its second factor (a user-verified passkey is two factors); sets the session cookie "
    "as POST /session does.",
)
def login(body: Credential, request: Request, response: Response, web: Sessions) -> SessionOut:
    who, new = web.login_passkey(body.credential, **_client(request))
    return started_session(request, response, web, who, new)
