"""Link sessions: what a recipient's browser proved for one link (ADR 21).

A server-side row per session (`share_link_sessions`), found by the SHA-256
of the random value its cookie holds. A proof never upgrades a session in
place: it replaces it with a fresh one carrying everything proved so far, so
a cookie planted before a proof is worth nothing after it. Revoking a link
deletes its rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from egide.core.db.models.sharing import ShareLink, ShareLinkSession
from egide.services.sharing.common import new_token, token_hash

#: A link session lasts this long, never beyond the link's expiry.
SESSION_LIFETIME: Final = dt.timedelta(hours=1)
#: Longer than any value we issue: not even hashed.
MAX_COOKIE: Final = 200


@dataclass(frozen=True)
class Issued:
    cookie: str
    expires_at: dt.datetime
    password_ok: bool
    recipient_id: str | None


def needs(link: ShareLink, *, password_ok: bool, verified: bool) -> tuple[str, ...]:
    """What the recipient must still give: "password", "verification" (in that order)."""
    missing = []
    if link.password_hash is not None and not password_ok:
        missing.append("password")
    if link.require_verification and not verified:
        missing.append("verification")
    return tuple(missing)


def find(
    session: Session, link: ShareLink, cookie: str | None, now: dt.datetime
) -> ShareLinkSession | None:
    """The live session of `link` that `cookie` names, if any."""
    if not cookie or len(cookie) > MAX_COOKIE:
        return None
    row = session.scalars(
        select(ShareLinkSession).where(ShareLinkSession.token_hash == token_hash(cookie))
    ).one_or_none()
    if row is None or row.link_id != link.id or row.expires_at <= now:
        return None
    return row


def replace(
    session: Session,
    link: ShareLink,
    old: ShareLinkSession | None,
    *,
    password_ok: bool,
    recipient_id: str | None,
    now: dt.datetime,
) -> Issued:
    """A fresh session with what `old` held and what was just proved; `old` is deleted."""
    if old is not None:
        password_ok = password_ok or old.password_ok
        recipient_id = recipient_id or old.recipient_id
        session.execute(delete(ShareLinkSession).where(ShareLinkSession.id == old.id))
    # Forget this link's expired sessions while here.
    session.execute(
        delete(ShareLinkSession).where(
            ShareLinkSession.link_id == link.id, ShareLinkSession.expires_at <= now
        )
    )
    cookie = new_token()
    expires = min(now + SESSION_LIFETIME, link.expires_at)
    session.add(
        ShareLinkSession(
            token_hash=token_hash(cookie),
            link_id=link.id,
            password_ok=password_ok,
            recipient_id=recipient_id,
            created_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    return Issued(cookie, expires, password_ok, recipient_id)
