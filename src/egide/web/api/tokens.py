"""API tokens: created from a session, the secret shown once."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, Field

from egide.services.access.policy import Scope
from egide.services.accounts.records import TokenInfo
from egide.web.deps import Caller, SessionMfa, Svc
from egide.web.schemas import Body, Count

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


class TokenIn(Body):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1)
    expires_in_days: Count = Field(default=90, ge=1, le=365)


class TokenOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @classmethod
    def of(cls, info: TokenInfo) -> TokenOut:
        return cls(
            id=info.id,
            name=info.name,
            scopes=sorted(str(s) for s in info.scopes),
            created_at=info.created_at,
            expires_at=info.expires_at,
            last_used_at=info.last_used_at,
            revoked_at=info.revoked_at,
        )


class NewToken(TokenOut):
    secret: str = Field(description="Shown once: store it now. Send as `Authorization: Bearer`.")


@router.post("", response_model=NewToken, status_code=201, summary="Create an API token")
def create_token(body: TokenIn, caller: Caller, mfa: SessionMfa, svc: Svc) -> NewToken:
    info, secret = svc.accounts.create_token(
        caller,
        body.name,
        body.scopes,
        expires_in=dt.timedelta(days=body.expires_in_days),
        mfa_method=mfa,
    )
    return NewToken(**TokenOut.of(info).model_dump(), secret=secret)


@router.get("", response_model=list[TokenOut], summary="My API tokens")
def list_tokens(caller: Caller, svc: Svc) -> list[TokenOut]:
    return [TokenOut.of(t) for t in svc.accounts.list_tokens(caller)]


@router.delete("/{token_id}", status_code=204, summary="Revoke an API token")
def revoke_token(token_id: str, caller: Caller, svc: Svc) -> None:
    svc.accounts.revoke_token(caller, token_id)
