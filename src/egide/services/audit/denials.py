"""Recording refused attempts: `records_denials` on the services' public methods.

The access policy marks every refusal it raises with what was attempted
(`EgideError.denied`), and the vault adds the target's ids. A method wrapped
here records such a refusal as a `denied` event in a transaction of its own
(FORMATS.md section 3), after its own transaction has rolled back, then lets
the error go on to the caller. Only the outermost wrapped call records, so a
service calling another never records one refusal twice, and never opens a
second write transaction inside its own (SQLite has one writer).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from egide.core.db import Database
from egide.core.errors import EgideError
from egide.services.access.policy import Principal
from egide.services.audit.recorder import AuditRecorder

_depth: contextvars.ContextVar[int] = contextvars.ContextVar("egide_audit_depth", default=0)


class Audited(Protocol):
    @property
    def db(self) -> Database: ...

    @property
    def audit(self) -> AuditRecorder: ...


S = TypeVar("S", bound=Audited)
P = ParamSpec("P")
R = TypeVar("R")


def records_denials(
    method: Callable[Concatenate[S, Principal, P], R],
) -> Callable[Concatenate[S, Principal, P], R]:
    """Record the policy's refusals of `method(self, actor, ...)` in the audit log."""

    @functools.wraps(method)
    def wrapper(self: S, actor: Principal, /, *args: P.args, **kwargs: P.kwargs) -> R:
        outermost = _depth.get() == 0
        token = _depth.set(_depth.get() + 1)
        try:
            return method(self, actor, *args, **kwargs)
        except EgideError as exc:
            if outermost and exc.denied_action:
                record_refusal(self.db, self.audit, actor, exc)
            raise
        finally:
            _depth.reset(token)

    return wrapper


def record_refusal(db: Database, audit: AuditRecorder, actor: Principal, exc: EgideError) -> None:
    """Write the denied attempt `exc` carries, in a transaction of its own."""
    if exc.denied_action is None:
        return
    audit.record_denied(
        db,
        actor=actor,
        action=exc.denied_action,
        target=dict(exc.denied_target or {}),
        details={"reason": exc.code},
    )
