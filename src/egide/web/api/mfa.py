"""My second factors: set up an authenticator app (TOTP), recovery codes, removal.

Setting one up is two calls: `POST /me/mfa/totp` returns the otpauth:// URI
and its QR code; `POST /me/mfa/totp/confirm` with the first code the app
shows confirms it, returns the ten recovery codes (shown once) and renews
the session as verified. Both are open to a session that has not yet given
its second factor, so a user the policy requires to enrol can. Everything
else here needs a verified session; API tokens are refused.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from egide.web.api.session import MfaCode, SessionOut, session_cookie, started_session
from egide.web.deps import CSRF_HEADER, Caller, CallerCompletingMfa, Sessions, Svc

router = APIRouter(prefix="/api/v1/me/mfa", tags=["session"])


class MfaStatusOut(BaseModel):
    required: bool = Field(description="The MFA policy requires a second factor of me.")
    totp: bool = Field(description="An authenticator app is set up and confirmed.")
    totp_pending: bool = Field(description="One was begun and awaits its first code.")
    recovery_codes_left: int
    passkeys: int = Field(default=0, description="How many passkeys are registered.")


class TotpEnrolmentOut(BaseModel):
    uri: str = Field(
        description="otpauth:// URI holding the secret, for an app that cannot scan: shown "
        "this once, keep it private."
    )
    svg: str = Field(description="The same URI as an SVG QR code, to scan with the app.")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(
        description="Ten single-use codes for when the app is not at hand; shown this once."
    )


class TotpConfirmedOut(RecoveryCodesOut):
    session: SessionOut = Field(description="The renewed session (new cookie and CSRF token).")


@router.get("", response_model=MfaStatusOut, summary="My second factors")
def status(caller: Caller, svc: Svc) -> MfaStatusOut:
    state = svc.mfa.status(caller)
    return MfaStatusOut(
        required=state.required,
        totp=state.totp,
        totp_pending=state.totp_pending,
        recovery_codes_left=state.recovery_codes_left,
        passkeys=state.passkeys,
    )


@router.post(
    "/totp",
    response_model=TotpEnrolmentOut,
    status_code=201,
    summary="Set up an authenticator app",
    description="A new TOTP secret, unconfirmed until POST /me/mfa/totp/confirm (it "
    "replaces one begun and not confirmed). Refused (409) while a confirmed one exists: "
    "remove it first.",
)
def begin_totp(caller: CallerCompletingMfa, svc: Svc, response: Response) -> TotpEnrolmentOut:
    enrolment = svc.mfa.begin_totp(caller)
    response.headers["Cache-Control"] = "no-store"
    return TotpEnrolmentOut(uri=enrolment.uri, svg=enrolment.svg)


@router.post(
    "/totp/confirm",
    response_model=TotpConfirmedOut,
    summary="Confirm the authenticator app with its first code",
    description="Confirms the factor begun by POST /me/mfa/totp, returns ten recovery codes "
    "(shown once) and renews this session as having given its second factor.",
)
def confirm_totp(
    body: MfaCode, request: Request, response: Response, web: Sessions
) -> TotpConfirmedOut:
    cookie = session_cookie(request)
    web.check_csrf(cookie, request.headers.get(CSRF_HEADER))
    client = request.client.host if request.client else ""
    who, new, recovery = web.confirm_totp(
        cookie, body.code, client_address=client, user_agent=request.headers.get("user-agent", "")
    )
    session = started_session(request, response, web, who, new)
    return TotpConfirmedOut(recovery_codes=recovery, session=session)


@router.delete(
    "/totp",
    status_code=204,
    summary="Remove my authenticator app",
    description="With a current code (or a recovery code): removes the app and the recovery "
    "codes. If the policy requires a second factor, the next sign-in asks to set one up.",
)
def remove_totp(body: MfaCode, caller: Caller, svc: Svc) -> None:
    svc.mfa.remove_totp(caller, code=body.code)


@router.post(
    "/recovery-codes",
    response_model=RecoveryCodesOut,
    summary="New recovery codes",
    description="With a current code: ten new recovery codes, shown once; the old ones no "
    "longer work.",
)
def regenerate_recovery_codes(
    body: MfaCode, caller: Caller, svc: Svc, response: Response
) -> RecoveryCodesOut:
    recovery = svc.mfa.regenerate_recovery_codes(caller, body.code)
    response.headers["Cache-Control"] = "no-store"
    return RecoveryCodesOut(recovery_codes=recovery)
