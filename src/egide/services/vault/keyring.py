"""Space keys: created, unwrapped through the key provider, cached in memory.

A space key is unwrapped once per process and kept for the life of the
process (a cache, not state: any process can rebuild it from the database
and the key provider). Name ciphers derived from it are cached alongside.
"""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from egide.core.crypto.errors import KeyUnavailable
from egide.core.crypto.keys import NameCipher, generate_key
from egide.core.crypto.provider import KeyProvider
from egide.core.db.models import SpaceKey
from egide.core.types import Secret


def space_key_id(space_id: str, generation: int) -> str:
    return f"{space_id}/{generation}"


class SpaceKeyRing:
    def __init__(self, provider: KeyProvider) -> None:
        self.provider = provider
        self._keys: dict[str, Secret] = {}
        self._ciphers: dict[str, NameCipher] = {}
        self._lock = threading.Lock()

    def key(self, session: Session, key_id: str) -> Secret:
        cached = self._keys.get(key_id)
        if cached is not None:
            return cached
        row = session.get(SpaceKey, key_id)
        if row is None or not row.wrapped:
            raise KeyUnavailable(
                "A space key needed to read this data is missing or was destroyed "
                "(crypto-shredded). The data it protected cannot be read."
            )
        key = self.provider.unwrap_space_key(row.master_key_id, row.id, row.wrapped)
        with self._lock:
            self._keys[key_id] = key
        return key

    def names(self, session: Session, key_id: str) -> NameCipher:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            cipher = NameCipher(self.key(session, key_id))
            with self._lock:
                self._ciphers[key_id] = cipher
        return cipher

    def create(self, session: Session, space_id: str, generation: int, now: dt.datetime) -> str:
        """A new space key, wrapped under the provider's current master key."""
        key_id = space_key_id(space_id, generation)
        key = generate_key()
        master_id, wrapped = self.provider.wrap_space_key(key_id, key)
        session.add(
            SpaceKey(
                id=key_id,
                space_id=space_id,
                generation=generation,
                provider=self.provider.name,
                master_key_id=master_id,
                wrapped=wrapped,
                created_at=now,
            )
        )
        session.flush()
        with self._lock:
            self._keys[key_id] = key
        return key_id

    def active_key_ids(self, session: Session, space_id: str) -> list[str]:
        """Keys not yet retired, newest first (more than one only during a rotation)."""
        return list(
            session.scalars(
                select(SpaceKey.id)
                .where(SpaceKey.space_id == space_id, SpaceKey.retired_at.is_(None))
                .order_by(SpaceKey.generation.desc())
            )
        )

    def forget(self, key_id: str) -> None:
        with self._lock:
            self._keys.pop(key_id, None)
            self._ciphers.pop(key_id, None)
