"""Signing in and out, unlocking an idle-locked session, and `GET /me`."""

from __future__ import annotations

import datetime as dt

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


@router.post("/session", response_model=SessionOut, summary="Sign in")
def login(body: Credentials, request: Request, response: Response, web: Sessions) -> SessionOut:
    client = request.client.host if request.client else ""
    who, new = web.login(
        body.username,
        body.password,
        client_address=client,
        user_agent=request.headers.get("user-agent", ""),
    )
    return _started(request, response, web, who, new)


def _started(
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
    )


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
    return _started(request, response, web, who, new)


@router.delete("/session", status_code=204, summary="Sign out")
def logout(request: Request, response: Response, web: Sessions) -> None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise NoSession()
    web.check_csrf(cookie, request.headers.get(CSRF_HEADER))
    web.logout(cookie)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.post("/session/unlock", response_model=SessionState, summary="Unlock an idle session")
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
