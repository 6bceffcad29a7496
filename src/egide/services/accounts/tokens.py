"""The API token format: `egd_<token id, 32 hex>_<secret, 43 base64url>`.

The id part finds the row with one indexed lookup; the secret part is 32
random bytes (256 bits) and only its SHA-256 is stored. With that much
randomness a fast hash is as good as a slow one against guessing, and keeps
every API request cheap. The fixed `egd_` prefix lets secret scanners (and
people) recognise a leaked Égide token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "egd_"
_SECRET_BYTES = 32
_FORMAT = re.compile(r"egd_([0-9a-f]{32})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class ParsedToken:
    token_id: str
    secret: str

    def __repr__(self) -> str:
        return f"ParsedToken(token_id={self.token_id!r}, secret=***)"


def new_secret() -> str:
    # 32 bytes give exactly 43 characters of unpadded base64url, the length
    # that parse_token expects.
    return secrets.token_urlsafe(_SECRET_BYTES)


def format_token(token_id: str, secret: str) -> str:
    return f"{PREFIX}{token_id.replace('-', '')}_{secret}"


def parse_token(presented: str) -> ParsedToken | None:
    """Split a presented token into its id (with dashes) and secret; None if malformed."""
    match = _FORMAT.fullmatch(presented.strip())
    if match is None:
        return None
    hex_id, secret = match.groups()
    token_id = "-".join((hex_id[:8], hex_id[8:12], hex_id[12:16], hex_id[16:20], hex_id[20:]))
    return ParsedToken(token_id=token_id, secret=secret)


def hash_secret(secret: str) -> str:
    """SHA-256 (hex) of the secret part, as stored in api_tokens.secret_hash."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    # Constant time, so response timing tells nothing about how much of a
    # guessed hash matched.
    return hmac.compare_digest(hash_secret(secret), stored_hash)
