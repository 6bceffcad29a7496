"""The root of every typed error Égide raises.

Each error carries a *kind* that every door maps to its own vocabulary (an HTTP
status, a CLI exit code) in exactly one table, and a message written for the
person who caused it: it says what happened and what to do. Messages are
English format strings (gettext msgids) with their parameters kept apart, so a
door can translate them before formatting. No message ever holds a secret,
file content or a file name unless the caller passed that name in.

Exception tree (services add their own leaves next to the code that raises):

    EgideError
    ├── InvalidInput          bad name, bad size, bad option       (invalid)
    ├── NotFound              missing, or hidden from the caller   (not_found)
    ├── Forbidden             visible but not allowed              (forbidden)
    ├── Conflict              name taken, parent missing, stale    (conflict)
    ├── PreconditionFailed    If-Match / If-None-Match             (precondition)
    ├── TooLarge              quota or size limit                  (too_large)
    ├── Unavailable           a dependency is down or missing      (unavailable)
    └── IntegrityError        stored data failed verification      (integrity)
        (core.crypto.errors, core.blobstore)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, ClassVar, Self


class ErrorKind(enum.StrEnum):
    INVALID = "invalid"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    PRECONDITION = "precondition"
    TOO_LARGE = "too_large"
    REJECTED = "rejected"
    LOCKED = "locked"
    THROTTLED = "throttled"
    INTEGRITY = "integrity"
    UNAVAILABLE = "unavailable"


class EgideError(Exception):
    """Base of every error a user can cause or must act on."""

    kind: ClassVar[ErrorKind] = ErrorKind.INVALID
    #: A stable identifier for the problem type (used in problem+json `type`).
    code: ClassVar[str] = "error"
    #: Set when the access policy refused an action: what was attempted and on
    #: which ids, so the audit log records the denied attempt (issue 4).
    denied_action: str | None = None
    denied_target: Mapping[str, str | None] | None = None

    def __init__(self, message: str, **params: Any) -> None:
        self.message = message
        self.params = params
        super().__init__(self.render())

    def denied(self, action: str, target: Mapping[str, str | None] | None = None) -> Self:
        """Mark this error as the refusal of `action` (on `target`'s ids); returns it."""
        self.denied_action = action
        if target is not None:
            self.denied_target = target
        return self

    def render(self, translate: Any = None) -> str:
        template = translate(self.message) if translate else self.message
        try:
            return str(template.format(**self.params))
        except (KeyError, IndexError, ValueError):
            return str(template)


class InvalidInput(EgideError):
    kind = ErrorKind.INVALID
    code = "invalid-input"

    def __init__(self, message: str, *, field: str | None = None, **params: Any) -> None:
        self.field = field
        super().__init__(message, **params)


class NotFound(EgideError):
    kind = ErrorKind.NOT_FOUND
    code = "not-found"


class Forbidden(EgideError):
    kind = ErrorKind.FORBIDDEN
    code = "forbidden"


class Unauthenticated(EgideError):
    kind = ErrorKind.UNAUTHENTICATED
    code = "unauthenticated"


class Conflict(EgideError):
    kind = ErrorKind.CONFLICT
    code = "conflict"


class PreconditionFailed(EgideError):
    kind = ErrorKind.PRECONDITION
    code = "precondition-failed"


class TooLarge(EgideError):
    kind = ErrorKind.TOO_LARGE
    code = "too-large"


class Unavailable(EgideError):
    kind = ErrorKind.UNAVAILABLE
    code = "unavailable"


class IntegrityError(EgideError):
    """Stored data failed authentication or does not match its record."""

    kind = ErrorKind.INTEGRITY
    code = "integrity"
