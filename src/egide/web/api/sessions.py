"""Web sessions as a list: mine (to spot one that is not mine) and, for
administrators, a user's; revoking one ends it at once (issue 5, item 6)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from egide.services.sessions.service import SessionInfo
from egide.web.deps import Caller, Svc

router = APIRouter(prefix="/api/v1/sessions", tags=["session"])


class SessionListed(BaseModel):
    id: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    locked: bool = Field(description="Idle-locked: it needs the password again.")
    client_address: str = Field(description="The address it signed in from.")
    user_agent: str = Field(description="The browser it signed in with, as it said.")
    mfa_method: str | None = Field(
        description="The second factor it gave (totp, recovery-code, passkey, oidc), or null."
    )
    current: bool = Field(description="The session making this request.")

    @classmethod
    def of(cls, info: SessionInfo, current_id: str | None) -> SessionListed:
        return cls(
            id=info.id,
            created_at=info.created_at,
            last_seen_at=info.last_seen_at,
            expires_at=info.expires_at,
            locked=info.locked,
            client_address=info.client_address,
            user_agent=info.user_agent,
            mfa_method=info.mfa_method,
            current=info.id == current_id,
        )


@router.get(
    "",
    response_model=list[SessionListed],
    summary="My live web sessions (a user's, for administrators)",
)
def list_sessions(
    caller: Caller,
    svc: Svc,
    user: str | None = Query(
        None,
        max_length=64,
        description="A username: that user's sessions (administrators only; default: mine)",
    ),
) -> list[SessionListed]:
    user_id = None if user is None else svc.accounts.get_user(caller, user).id
    infos = svc.sessions.list_sessions(caller, user_id)
    return [SessionListed.of(info, caller.session_id) for info in infos]


@router.delete(
    "/{session_id}",
    status_code=204,
    summary="End a web session now (mine, or anyone's for administrators)",
)
def revoke_session(session_id: str, caller: Caller, svc: Svc) -> None:
    svc.sessions.revoke(caller, session_id)
