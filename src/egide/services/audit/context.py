"""Sealing of the personal context beside an audit event (FORMATS.md section 3).

The context (path and names at the time, client address, user agent, the
purpose given) is personal data: it is stored sealed with AES-256-GCM, bound
to its event id, so a record cannot be moved to another event. The leaf
keeps only `context_hash`, salted, so erasing the record (retention, GDPR)
leaves the log verifiable and the hash meaningless.

For now the key is handed in as bytes by whoever builds the recorder; taking
it from the key provider (with rotation) is a later piece, and the sealing
then belongs in `egide.core.crypto` with the other seal/open operations.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from egide.core.audit import leaves
from egide.core.errors import IntegrityError
from egide.core.types import Secret

KEY_SIZE: Final = 32
NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
#: Domain separation: a sealed context cannot pass for any other sealed value.
_AAD_PREFIX: Final = b"egide audit context v1\x00"
_OPEN_FAILED: Final = (
    "The personal context of audit event {event_id} failed its integrity check. The "
    "row may have been altered or moved; restore it from a backup."
)


class ContextSealer:
    """Seals and opens context records under one 32-byte key."""

    __slots__ = ("_aead",)

    def __init__(self, key: Secret) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError(f"an audit context key is {KEY_SIZE} bytes")
        self._aead = AESGCM(key.reveal())

    def __repr__(self) -> str:
        return "ContextSealer(***)"

    def seal(self, event_id: str, context: Mapping[str, Any]) -> bytes:
        """nonce | AES-256-GCM of the context's canonical JSON, bound to the event id."""
        nonce = os.urandom(NONCE_SIZE)
        plain = leaves.canonical_json(context)
        return nonce + self._aead.encrypt(nonce, plain, _AAD_PREFIX + event_id.encode())

    def open(self, event_id: str, sealed: bytes) -> dict[str, Any]:
        if len(sealed) < NONCE_SIZE + TAG_SIZE:
            raise IntegrityError(_OPEN_FAILED, event_id=event_id)
        view = memoryview(sealed)
        try:
            plain = self._aead.decrypt(
                view[:NONCE_SIZE], view[NONCE_SIZE:], _AAD_PREFIX + event_id.encode()
            )
        except InvalidTag as exc:
            raise IntegrityError(_OPEN_FAILED, event_id=event_id) from exc
        value = json.loads(plain)
        if not isinstance(value, dict):  # pragma: no cover - seal only takes mappings
            raise IntegrityError(_OPEN_FAILED, event_id=event_id)
        return value
