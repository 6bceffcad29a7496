"""The administrators' view of the accounts (part of AccountService; issue 6, admin area).

One list with what an administrator needs to help a user on the telephone:
state, global roles, whether a second factor is set up, when they last
signed in. Never a secret: no hash, no factor, no session token.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select

from egide.core.db.models import PasskeyCredential, TotpFactor, User, WebSession
from egide.services.access.policy import Action, Principal, authorize
from egide.services.accounts.base import AccountServiceBase
from egide.services.accounts.records import UserInfo, user_info
from egide.services.audit.denials import records_denials

#: Bytes of randomness of a one-time password (24 URL-safe characters, 144 bits),
#: as `egide user add --generate-password` makes them.
_ONE_TIME_PASSWORD_BYTES = 18


def one_time_password() -> str:
    """A password an administrator hands over once; the user must change it at sign-in."""
    return secrets.token_urlsafe(_ONE_TIME_PASSWORD_BYTES)


@dataclass(frozen=True)
class UserOverview:
    user: UserInfo
    #: A confirmed authenticator app or at least one passkey.
    mfa_enrolled: bool
    #: The start of the latest web session, if any is still on record.
    last_login_at: dt.datetime | None
    #: The password was set by someone else and awaits the user's own.
    must_change_password: bool
    #: No password: the account signs in through single sign-on only.
    sso_only: bool


class UserOverviewAdmin(AccountServiceBase):
    @records_denials
    def user_overview(self, actor: Principal) -> list[UserOverview]:
        """Every account with its state, roles, second factor and last sign-in."""
        authorize(actor, Action.USER_MANAGE)
        with self._db.read() as session:
            totp = set(
                session.scalars(
                    select(TotpFactor.user_id).where(TotpFactor.confirmed_at.is_not(None))
                )
            )
            passkeys = set(session.scalars(select(PasskeyCredential.user_id).distinct()))
            latest = select(WebSession.user_id, func.max(WebSession.created_at)).group_by(
                WebSession.user_id
            )
            last = dict(session.execute(latest).all())
            users = session.scalars(select(User).order_by(User.username)).all()
            return [
                UserOverview(
                    user=user_info(session, user),
                    mfa_enrolled=user.id in totp or user.id in passkeys,
                    last_login_at=last.get(user.id),
                    must_change_password=user.must_change_password,
                    sso_only=user.password_hash is None,
                )
                for user in users
            ]
