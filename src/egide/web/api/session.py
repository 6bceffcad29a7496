"""Signing in and out, the second factor of a sign-in, unlocking, and `GET /me`.

Signing in is one or two steps: the password (`POST /session`), then, when
the answer says `mfa_required`, a code (`POST /session/mfa`), which renews
the session. A user who must use a second factor and has none enrols first
(`POST /me/mfa/totp`, then `.../confirm`, web/api/mfa.py, or a passkey,
web/api/passkeys.py), which also counts as the second step. Passkeys give
the second step too, or sign in without a password (web/api/passkeys.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from egide.services.access.policy import Principal
from egide.services.accounts.errors import TokenNotAllowed
from egide.services.sessions.errors import NoSession
from egide.services.sessions.service import NewSession, SessionService
from egide.web.deps import (
    CSRF_HEADER,
    SESSION_COOKIE,
    CallerChangingPassword,
    Sessions,
    Svc,
    bearer_token,
)
from egide.web.schemas import Body

router = APIRouter(prefix="/api/v1", tags=["session"])


class Credentials(Body):
    username: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=4096)


class MfaCode(Body):
    code: str = Field(
        min_length=1,
        max_length=64,
        description="The 6-digit code of the authenticator app, or a recovery code "
        "(XXXX-XXXX-XXXX-XXXX; spaces and dashes are ignored).",
    )


class Unlock(Body):
    password: str = Field(min_length=1, max_length=4096)


class PasswordChange(Body):
    current_password: str = Field(min_length=1, max_length=4096)
    new_password: str = Field(min_length=1, max_length=4096)


class SessionOut(BaseModel):
    csrf_token: str = Field(description="Send it back in X-CSRF-Token on unsafe methods.")
    username: str
    expires_at: dt.datetime
    idle_timeout_seconds: int
    password_change_required: bool = Field(
        description="True after a one-time or reset password: every request but GET /me, "
        "POST /me/password and DELETE /session answers 403 password-change-required "
        "until the password is changed."
    )
    mfa_required: bool = Field(
        default=False,
        description="True when this session must still give a second factor: every request "
        "but GET /me, POST /session/mfa, POST /me/mfa/totp, POST /me/mfa/totp/confirm, the "
        "passkey calls (POST /session/mfa/passkey[/options], POST /me/mfa/passkeys[/options]) "
        "and DELETE /session answers 403 mfa-required (or mfa-enrolment-required) until then.",
    )
    mfa_enrolment_required: bool = Field(
        default=False,
        description="True when, moreover, the user has no second factor yet: set one up "
        "(POST /me/mfa/totp, then POST /me/mfa/totp/confirm with its first code), or register "
        "a passkey (POST /me/mfa/passkeys/options, then POST /me/mfa/passkeys).",
    )


class SessionState(BaseModel):
    locked: bool
    expires_at: dt.datetime


class Me(BaseModel):
    id: str | None
    username: str
    display_name: str
    global_roles: list[str]
    scopes: list[str] | None = Field(description="Token scopes; null for a session.")
    via: str = Field(description='"session" or "token"')
    password_change_required: bool


def _set_cookie(request: Request, response: Response, value: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.app.state.services.settings.secure_cookies,
        path="/",
    )


#: Guesses (passwords, second-factor codes) are slowed: 429 with Retry-After (issue 5).
THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "Too many failed attempts: wait the seconds Retry-After says",
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before the next attempt is judged",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    }
}


@router.post("/session", response_model=SessionOut, summary="Sign in", responses=THROTTLED)
def login(body: Credentials, request: Request, response: Response, web: Sessions) -> SessionOut:
    client = request.client.host if request.client else ""
    who, new = web.login(
        body.username,
        body.password,
        client_address=client,
        user_agent=request.headers.get("user-agent", ""),
    )
    return started_session(request, response, web, who, new)


def started_session(
    request: Request, response: Response, web: SessionService, who: Principal, new: NewSession
) -> SessionOut:
    lifetime = int((new.info.expires_at - new.info.created_at).total_seconds())
    _set_cookie(request, response, new.cookie, lifetime)
    response.headers["Cache-Control"] = "no-store"
    return SessionOut(
        csrf_token=new.csrf_token,
        username=who.username,
        expires_at=new.info.expires_at,
        idle_timeout_seconds=int(web.idle_timeout.total_seconds()),
        password_change_required=new.password_change_required,
        mfa_required=new.mfa_required,
        mfa_enrolment_required=new.mfa_enrolment_required,
    )


def session_cookie(request: Request) -> str:
    """The session cookie of a route that only a session may call (not an API token)."""
    if bearer_token(request) is not None:
        raise TokenNotAllowed("An API token cannot do this. Sign in to the web interface.")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise NoSession()
    return cookie


@router.post(
    "/session/mfa",
    response_model=SessionOut,
    responses=THROTTLED,
    summary="Give the second factor of a sign-in",
    description="The second step of signing in, when POST /session answered "
    "`mfa_required`: a current code of the authenticator app, or a recovery code (each "
    "works once). Ends this session and opens a fresh one (new cookie, new CSRF token).",
)
def verify_mfa(body: MfaCode, request: Request, response: Response, web: Sessions) -> SessionOut:
    cookie = session_cookie(request)
    web.check_csrf(cookie, request.headers.get(CSRF_HEADER))
    client = request.client.host if request.client else ""
    who, new = web.verify_mfa(
        cookie, body.code, client_address=client, user_agent=request.headers.get("user-agent", "")
    )
    return started_session(request, response, web, who, new)


@router.post(
    "/me/password",
    response_model=SessionOut,
    summary="Change my password",
    description="From a signed-in session only (API tokens cannot). Ends every session and "
    "revokes every API token of the user; this session is replaced by a fresh one (new "
    "cookie, new CSRF token).",
)
def change_password(
    body: PasswordChange, request: Request, response: Response, web: Sessions
) -> SessionOut:
    if bearer_token(request) is not None:
        raise TokenNotAllowed("An API token cannot change a password. Sign in to change yours.")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise NoSession()
    web.check_csrf(cookie, request.headers.get(CSRF_HEADER))
    client = request.client.host if request.client else ""
    who, new = web.change_password(
        cookie,
        body.current_password,
        body.new_password,
        client_address=client,
        user_agent=request.headers.get("user-agent", ""),
    )
    return started_session(request, response, web, who, new)


@router.delete("/session", status_code=204, summary="Sign out")
def logout(request: Request, response: Response, web: Sessions) -> None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise NoSession()
    web.check_csrf(cookie, request.headers.get(CSRF_HEADER))
    web.logout(cookie)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.post(
    "/session/unlock",
    response_model=SessionState,
    summary="Unlock an idle session",
    responses=THROTTLED,
)
def unlock(body: Unlock, request: Request, web: Sessions) -> SessionState:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise NoSession()
    web.check_csrf(cookie, request.headers.get(CSRF_HEADER))
    info = web.unlock(cookie, body.password)
    return SessionState(locked=info.locked, expires_at=info.expires_at)


@router.get("/me", response_model=Me, summary="Who am I")
def me(caller: CallerChangingPassword, svc: Svc) -> Me:
    display = ""
    if caller.user_id:
        display = svc.accounts.get_user(caller, caller.username).display_name
    return Me(
        id=caller.user_id,
        username=caller.username,
        display_name=display,
        global_roles=sorted(str(r) for r in caller.global_roles),
        scopes=sorted(str(s) for s in caller.scopes) if caller.scopes is not None else None,
        via="token" if caller.token_id else "session",
        password_change_required=bool(
            caller.user_id and svc.accounts.must_change_password(caller.user_id)
        ),
    )
