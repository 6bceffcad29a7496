"""Request dependencies: the services, and the caller as a Principal.

A caller is either an API token (`Authorization: Bearer ...`) or a session
cookie; with a cookie, unsafe methods must carry the session's CSRF token in
`X-CSRF-Token` (API.md, Conventions). Deciding what the caller may do is the
services' job, not this module's.

A session that has not given the second factor its user must give answers
`mfa-required` (or `mfa-enrolment-required`) through `Caller`; the few
routes that serve that step take `CallerCompletingMfa` instead, and who-am-I
`CallerChangingPassword` (SessionService.authenticate).
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import Depends, Request

from egide.core.errors import InvalidInput
from egide.services.access.policy import Principal
from egide.services.audit.context import Purpose
from egide.services.registry import Services
from egide.services.sessions.errors import NoSession
from egide.services.sessions.service import SessionService

SESSION_COOKIE = "egide_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Why the caller accesses the data (care, administration, emergency): sealed
#: into the audit context of every action of the request, for access reports.
PURPOSE_HEADER = "Egide-Purpose"
#: `Egide-Activity: background` marks a request a page makes by itself (the
#: notification bell's poll): no user activity, so the idle lock still comes.
ACTIVITY_HEADER = "Egide-Activity"


class InvalidPurpose(InvalidInput):
    code = "invalid-purpose"


def check_purpose(request: Request) -> None:
    value = request.headers.get(PURPOSE_HEADER)
    if value is not None and value.strip() not in set(Purpose):
        raise InvalidPurpose(
            "The Egide-Purpose header says why you access these data; it must be one of "
            "{choices}. Send one of them, or leave the header out.",
            choices=", ".join(Purpose),
        )


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def sessions(request: Request) -> SessionService:
    svc: Services = request.app.state.services
    return svc.sessions


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _principal(
    request: Request,
    svc: Services,
    web_sessions: SessionService,
    *,
    password_change: bool,
    mfa_pending: bool = False,
) -> Principal:
    check_purpose(request)
    token = bearer_token(request)
    if token is not None:
        return svc.accounts.authenticate_token(token)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise NoSession()
    background = request.headers.get(ACTIVITY_HEADER, "").strip().lower() == "background"
    who, info = web_sessions.authenticate(
        cookie, password_change=password_change, mfa_pending=mfa_pending, touch=not background
    )
    if request.method not in SAFE_METHODS:
        web_sessions.check_csrf(cookie, request.headers.get(CSRF_HEADER))
    # How this session gave its second factor, for the routes that ask (creating a token).
    request.state.mfa_method = info.mfa_method
    # The acting session, for ransomware detection (docs/ransomware.md).
    return dataclasses.replace(who, session_id=info.id)


def principal(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    web_sessions: Annotated[SessionService, Depends(sessions)],
) -> Principal:
    return _principal(request, svc, web_sessions, password_change=False)


def principal_changing_password(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    web_sessions: Annotated[SessionService, Depends(sessions)],
) -> Principal:
    """The caller even while its password awaits its change or its session its second
    factor (for who-am-I only)."""
    return _principal(request, svc, web_sessions, password_change=True, mfa_pending=True)


def principal_completing_mfa(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    web_sessions: Annotated[SessionService, Depends(sessions)],
) -> Principal:
    """The caller even before its session gave its second factor (to enrol one)."""
    return _principal(request, svc, web_sessions, password_change=False, mfa_pending=True)


def session_mfa(request: Request, _caller: Annotated[Principal, Depends(principal)]) -> str | None:
    """How the caller's session gave its second factor; None for a token or not at all."""
    method: str | None = getattr(request.state, "mfa_method", None)
    return method


Caller = Annotated[Principal, Depends(principal)]
CallerChangingPassword = Annotated[Principal, Depends(principal_changing_password)]
CallerCompletingMfa = Annotated[Principal, Depends(principal_completing_mfa)]
SessionMfa = Annotated[str | None, Depends(session_mfa)]
Svc = Annotated[Services, Depends(services)]
Sessions = Annotated[SessionService, Depends(sessions)]
