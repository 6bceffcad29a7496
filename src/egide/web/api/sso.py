"""Single sign-on through an OpenID provider (docs/sso.md): three GETs a browser follows.

1. `GET /api/v1/sso/login?return_to=/path` answers 302 to the provider, and
   binds the request to this browser with a cookie holding its `state`
   (`egide_sso_state`, HttpOnly, SameSite=Lax so that it comes back on the
   provider's top-level redirect, path /api/v1/sso, ten minutes).
2. The provider sends the browser to `GET /api/v1/sso/callback?code&state`.
3. The callback answers 302 to `return_to` with the session cookie set as
   `POST /session` sets it, plus the session's CSRF token in a short-lived
   cookie the page's script reads once (`egide_csrf`: not HttpOnly,
   SameSite=Strict, two minutes): the token must reach the browser app, and
   never travels in a URL. A refusal answers a problem document.

The checks themselves are the service's (services/sso); this module only
translates.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from egide.services.sso.service import STATE_LIFETIME
from egide.web.api.session import started_session
from egide.web.deps import Svc
from egide.web.ratelimit import BUDGET_RESPONSES, spend_unauthenticated

router = APIRouter(prefix="/api/v1/sso", tags=["session"])

STATE_COOKIE = "egide_sso_state"
CSRF_COOKIE = "egide_csrf"
#: Long enough for the page to load and read it; it is deleted once read.
_CSRF_COOKIE_SECONDS = 120


class SsoOut(BaseModel):
    enabled: bool = Field(description="Whether single sign-on is configured on this server.")
    display_name: str | None = Field(description="The label of the sign-in button.")
    login_url: str | None = Field(
        description="Where the sign-in button leads (add `?return_to=/path`)."
    )


_REDIRECT: dict[int | str, dict[str, Any]] = {302: {"description": "To the next step (no body)"}}


@router.get("", response_model=SsoOut, summary="Is single sign-on offered")
def sso_info(svc: Svc) -> SsoOut:
    info = svc.sso.info()
    return SsoOut(
        enabled=info.enabled,
        display_name=info.display_name,
        login_url="/api/v1/sso/login" if info.enabled else None,
    )


@router.get(
    "/login",
    status_code=302,
    response_class=RedirectResponse,
    responses={**_REDIRECT, **BUDGET_RESPONSES},
    summary="Sign in through the OpenID provider",
    description="Answers 302 to the provider's sign-in page. `return_to` is a path of this "
    "server to come back to once signed in (default `/`); anything else (another site, "
    "`//host`) is refused. Budgeted per client address (429).",
    dependencies=[Depends(spend_unauthenticated)],
)
def sso_login(
    svc: Svc,
    return_to: Annotated[str | None, Query(max_length=500)] = None,
) -> RedirectResponse:
    start = svc.sso.begin(return_to)
    response = RedirectResponse(start.url, status_code=302)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        STATE_COOKIE,
        start.state,
        max_age=int(STATE_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=svc.settings.secure_cookies,
        path="/api/v1/sso",
    )
    return response


@router.get(
    "/callback",
    status_code=302,
    response_class=RedirectResponse,
    responses=_REDIRECT,
    summary="Where the OpenID provider sends the browser back",
    description="Completes the sign-in: answers 302 to the `return_to` of /sso/login with "
    "the session cookie set, and the session's CSRF token in the cookie `egide_csrf` "
    "(readable by the page's script, two minutes: read it, then delete it). A refused "
    "sign-in (tampered, replayed or expired state, an ID token that fails a check, an "
    "unknown or disabled user, the provider's own error) answers a problem document.",
)
def sso_callback(
    request: Request,
    svc: Svc,
    state: Annotated[str | None, Query(max_length=200)] = None,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> RedirectResponse:
    done = svc.sso.complete(
        state=state,
        code=code,
        error=error,
        browser_state=request.cookies.get(STATE_COOKIE),
        client_address=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
    )
    response = RedirectResponse(done.return_to, status_code=302)
    started_session(request, response, svc.sessions, done.principal, done.session)
    response.delete_cookie(STATE_COOKIE, path="/api/v1/sso")
    response.set_cookie(
        CSRF_COOKIE,
        done.session.csrf_token,
        max_age=_CSRF_COOKIE_SECONDS,
        httponly=False,
        samesite="strict",
        secure=svc.settings.secure_cookies,
        path="/",
    )
    return response
