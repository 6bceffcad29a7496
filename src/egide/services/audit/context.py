"""The personal context beside an audit event (FORMATS.md section 3).

The context (path and names at the time, client address, user agent, the
purpose given, the actor's role) is personal data: it is stored sealed
beside its event, under a key the key provider derives from its current
master key (`egide.core.crypto.keys.seal_audit_context`), bound to the
event id. The leaf keeps only `context_hash`, salted, so erasing the record
(retention, GDPR) leaves the log verifiable and the hash meaningless.

What a door knows about the request (address, user agent, purpose, request
id) reaches the recorder through `request_context`, a context variable the
web door sets per request: services keep their signatures, and an action
run from the command line simply has no client.
"""

from __future__ import annotations

import contextvars
import enum
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Protocol

from egide.core.audit import leaves
from egide.core.errors import IntegrityError

_NOT_AN_OBJECT: Final = (
    "The personal context of audit event {event_id} is not a JSON object. The row may "
    "have been altered; restore it from a backup."
)


class Purpose(enum.StrEnum):
    """Why a person accesses health data, as they declare it (the `Egide-Purpose` header)."""

    CARE = "care"
    ADMINISTRATION = "administration"
    EMERGENCY = "emergency"


@dataclass(frozen=True)
class RequestContext:
    """What the door knows of the request behind an action; personal data."""

    client_address: str | None = None
    user_agent: str | None = None
    purpose: Purpose | None = None
    request_id: str | None = None
    #: How the actor came in: "session", "token", "cli".
    channel: str | None = None

    def as_context(self) -> dict[str, Any]:
        return {
            "client": {"address": self.client_address, "user_agent": self.user_agent},
            "purpose": None if self.purpose is None else str(self.purpose),
            "request_id": self.request_id,
            "channel": self.channel,
        }


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "egide_audit_request_context", default=None
)


def current_request() -> RequestContext | None:
    return _current.get()


@contextmanager
def request_context(context: RequestContext) -> Iterator[None]:
    """Make `context` the request behind the actions run inside the block."""
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


class ContextKeys(Protocol):
    """The key provider's part that seals contexts (egide.core.crypto.provider)."""

    def seal_audit_context(self, event_id: str, plain: bytes) -> tuple[str, bytes]: ...

    def open_audit_context(self, master_id: str, event_id: str, sealed: bytes) -> bytes: ...


class ContextSealer:
    """Seals and opens context records through the key provider; never holds a key."""

    __slots__ = ("_keys",)

    def __init__(self, keys: ContextKeys) -> None:
        self._keys = keys

    def __repr__(self) -> str:
        return "ContextSealer(***)"

    def seal(self, event_id: str, context: Mapping[str, Any]) -> tuple[str, bytes]:
        """(key id, sealed canonical JSON of the context), bound to the event id."""
        return self._keys.seal_audit_context(event_id, leaves.canonical_json(context))

    def open(self, key_id: str, event_id: str, sealed: bytes) -> dict[str, Any]:
        plain = self._keys.open_audit_context(key_id, event_id, sealed)
        value = json.loads(plain)
        if not isinstance(value, dict):  # pragma: no cover - seal only takes mappings
            raise IntegrityError(_NOT_AN_OBJECT, event_id=event_id)
        return value
