"""The parts of a WebAuthn ceremony that hold no account rule (issue 5, item 2).

- `RelyingParty`: Égide as WebAuthn sees it (RP ID, origin, name) and the
  checks of an answer against it (W3C WebAuthn Level 2, sections 7.1 and
  7.2): client data type, origin, RP ID hash. Each failure has its own
  typed error (`errors.py`), so the person learns what to fix.
- `ChallengeStore`: the challenges of `mfa_passkey_challenges`, 32 random
  bytes, five minutes, single-use. An answer *claims* its challenge (a
  conditional DELETE in a transaction of its own) before it is judged, so
  right or wrong it never serves twice, and two racing answers cannot both
  win. See docs/adr/0017-passkey-ceremonies.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from webauthn.helpers import parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import CollectedClientData

from egide.core.clock import Clock
from egide.core.config import Settings
from egide.core.db import Database
from egide.core.db.models import PasskeyChallenge
from egide.services.mfa.errors import (
    PasskeyChallengeInvalid,
    PasskeyMalformed,
    PasskeyWrongCeremony,
    PasskeyWrongOrigin,
    PasskeyWrongSite,
)

#: How long the browser has to answer (the options' timeout says the same).
CHALLENGE_LIFETIME = dt.timedelta(minutes=5)
CHALLENGE_BYTES = 32
#: What `webauthn` and base64url decoding raise on an unreadable answer.
UNREADABLE = (WebAuthnException, ValueError, TypeError, KeyError)


_DEFAULT_PORTS = {"http": 80, "https": 443}


class Purpose:
    REGISTER = "register"
    SECOND_FACTOR = "second-factor"
    LOGIN = "login"


def timeout_ms() -> int:
    return int(CHALLENGE_LIFETIME.total_seconds() * 1000)


def read_client_data(raw: bytes) -> CollectedClientData:
    try:
        return parse_client_data_json(raw)
    except UNREADABLE as exc:
        raise PasskeyMalformed() from exc


@dataclass(frozen=True)
class RelyingParty:
    """Passkeys are bound to `id` (the host of `public_url`), answers to `origin`."""

    id: str
    origin: str
    name: str

    @classmethod
    def from_settings(cls, settings: Settings) -> RelyingParty:
        url = urlsplit(settings.resolved_public_url)
        scheme = url.scheme.lower()
        host = (url.hostname or "localhost").lower()
        netloc = f"[{host}]" if ":" in host else host
        # The browser's origin names a port only when it is not the scheme's own (RFC 6454).
        if url.port is not None and url.port != _DEFAULT_PORTS.get(scheme):
            netloc = f"{netloc}:{url.port}"
        return cls(id=host, origin=f"{scheme}://{netloc}", name=settings.mfa_issuer)

    def check_client(self, client: CollectedClientData, expected: str, fresh: bool) -> None:
        """The client data of an answer: its ceremony, its challenge (`fresh`: claimed
        pending and unexpired), the page it was made on."""
        if client.type != expected:
            raise PasskeyWrongCeremony()
        if not fresh:
            raise PasskeyChallengeInvalid()
        if client.origin != self.origin:
            raise PasskeyWrongOrigin(self.origin)

    def check_site(self, rp_id_hash: bytes) -> None:
        """The authenticator data was made for this RP ID."""
        expected = hashlib.sha256(self.id.encode()).digest()
        if not hmac.compare_digest(rp_id_hash, expected):
            raise PasskeyWrongSite(self.id)


class ChallengeStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def issue(
        self, session: Session, purpose: str, *, user_id: str | None, session_id: str | None
    ) -> bytes:
        """A new challenge, stored in the caller's transaction; it replaces the same web
        session's pending one of this purpose. Expired ones are purged on the way."""
        now = self.clock.now()
        challenge = secrets.token_bytes(CHALLENGE_BYTES)
        session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at <= now))
        if session_id is not None:
            session.execute(
                delete(PasskeyChallenge).where(
                    PasskeyChallenge.purpose == purpose, PasskeyChallenge.session_id == session_id
                )
            )
        session.add(
            PasskeyChallenge(
                purpose=purpose,
                user_id=user_id,
                session_id=session_id,
                challenge=challenge,
                created_at=now,
                expires_at=now + CHALLENGE_LIFETIME,
            )
        )
        return challenge

    def claim(
        self, purpose: str, *, user_id: str | None, session_id: str | None, challenge: bytes | None
    ) -> bool:
        """Use up the challenge an answer carries: whether it was pending and unexpired.

        A web session's pending challenges of this purpose all go, whatever
        the answer carries (None: unreadable); a passwordless log-in's is
        found by its value.
        """
        now = self.clock.now()
        with self.db.write() as session:
            query = select(PasskeyChallenge).where(PasskeyChallenge.purpose == purpose)
            if session_id is not None:
                query = query.where(
                    PasskeyChallenge.session_id == session_id, PasskeyChallenge.user_id == user_id
                )
            elif challenge is not None:
                query = query.where(
                    PasskeyChallenge.session_id.is_(None), PasskeyChallenge.challenge == challenge
                )
            else:
                return False
            fresh = False
            for row in session.scalars(query).all():
                done = session.execute(
                    delete(PasskeyChallenge).where(PasskeyChallenge.id == row.id)
                )
                won = done.rowcount == 1  # type: ignore[attr-defined]
                if (
                    won
                    and challenge is not None
                    and row.expires_at > now
                    and hmac.compare_digest(row.challenge, challenge)
                ):
                    fresh = True
            return fresh
