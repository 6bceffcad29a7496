"""Writing audit events into the outbox (FORMATS.md section 3, issue 4).

`record` adds the event (and its sealed context) to the caller's open write
session: it commits or rolls back with the action it records, so the event
exists if and only if the action committed. `record_denied` writes a denied
attempt or a failure in a transaction of its own, which commits although the
action did not.

An event is checked here, where its caller can still be told, against every
rule the sequencer applies when it turns it into a leaf: an event the
sequencer could not serialise would stop the log for everyone after it.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy.orm import Session

from egide.core.audit import leaves
from egide.core.audit.errors import InvalidEvent
from egide.core.clock import Clock
from egide.core.db import Database
from egide.core.db.base import new_id
from egide.core.db.models import AuditContext, AuditEvent
from egide.services.access.policy import Principal, PrincipalKind
from egide.services.audit.context import ContextSealer, current_request

#: Outcomes of an action: recorded with the action, or on their own.
ALLOWED: Final = "allowed"
DENIED: Final = "denied"
ERROR: Final = "error"


class ActorKind(enum.StrEnum):
    USER = "user"
    TOKEN = "token"  # noqa: S105 - the actor kind, not a secret
    LINK = "link"
    SYSTEM = "system"


def actor_of(principal: Principal) -> tuple[ActorKind, str | None]:
    """Who the leaf names: the token when one was used, else the user; ids only."""
    if principal.kind is PrincipalKind.SYSTEM:
        return ActorKind.SYSTEM, None
    if principal.token_id is not None:
        return ActorKind.TOKEN, principal.token_id
    return ActorKind.USER, principal.user_id


def format_time(moment: dt.datetime) -> str:
    """RFC 3339 in UTC with `Z` and microseconds: one spelling per instant."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the audit log")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record(
    session: Session,
    *,
    actor: Principal,
    action: str,
    target: Mapping[str, str | None],
    outcome: str,
    details: Mapping[str, Any],
    context: Mapping[str, Any] | None = None,
    sealer: ContextSealer | None = None,
    at: dt.datetime | None = None,
) -> str:
    """Add an event to the caller's write transaction; return its id.

    `target` holds ids only (`space`, `node`, `version`, ...) and `details` no
    personal data: both go into the leaf, which is never erased. Personal
    context goes in `context`, sealed by `sealer` beside the event.
    """
    event_id = new_id()
    moment = dt.datetime.now(dt.UTC) if at is None else at
    kind, actor_id = actor_of(actor)
    for key, value in target.items():
        if value is not None and not isinstance(value, str):
            raise InvalidEvent(
                "The audit target {key} must be an id (text) or null; the target holds ids "
                "only, never names or paths.",
                key=key,
            )
    target_json = leaves.canonical_json(target).decode()
    details_json = leaves.canonical_json(details).decode()
    salt = b""
    digest = ""
    if context is not None:
        if sealer is None:
            raise InvalidEvent(
                "An audit context was given but no key to seal it; personal context is "
                "never stored in clear."
            )
        salt = os.urandom(leaves.SALT_SIZE)
        digest = leaves.context_hash(salt, context)
    # The very checks the sequencer makes, so a bad event fails its caller now.
    leaves.check_event(
        event_fields(
            seq=0,
            event_id=event_id,
            created_at=moment,
            actor_kind=kind,
            actor_id=actor_id,
            action=str(action),
            target=target,
            outcome=outcome,
            details=details,
            context_hash=digest,
        )
    )
    row = AuditEvent(
        id=event_id,
        created_at=moment,
        actor_kind=str(kind),
        actor_id=actor_id,
        action=str(action),
        target=target_json,
        outcome=outcome,
        details=details_json,
        context_hash=digest,
        space_id=target.get("space"),
        node_id=target.get("node"),
        user_id=actor.user_id,
    )
    session.add(row)
    if context is not None and sealer is not None:
        key_id, sealed = sealer.seal(event_id, context)
        # Through the relationship, so the flush inserts the event first; no early
        # flush of the caller's other pending rows.
        session.add(
            AuditContext(event_id=event_id, event=row, salt=salt, sealed=sealed, key_id=key_id)
        )
    return event_id


def record_denied(
    db: Database,
    *,
    actor: Principal,
    action: str,
    target: Mapping[str, str | None],
    details: Mapping[str, Any],
    outcome: str = DENIED,
    context: Mapping[str, Any] | None = None,
    sealer: ContextSealer | None = None,
    at: dt.datetime | None = None,
) -> str:
    """Record a denied attempt or a failure in its own transaction; return the event id."""
    if outcome not in {DENIED, ERROR}:
        raise InvalidEvent(
            "A refused or failed action is recorded as denied or error, not {outcome}.",
            outcome=outcome,
        )
    with db.write() as session:
        return record(
            session,
            actor=actor,
            action=action,
            target=target,
            outcome=outcome,
            details=details,
            context=context,
            sealer=sealer,
            at=at,
        )


def event_fields(
    *,
    seq: int,
    event_id: str,
    created_at: dt.datetime,
    actor_kind: str,
    actor_id: str | None,
    action: str,
    target: Mapping[str, Any],
    outcome: str,
    details: Mapping[str, Any],
    context_hash: str,
) -> dict[str, Any]:
    """The event as the leaf carries it (FORMATS.md section 3): ids only."""
    return {
        "seq": seq,
        "time": format_time(created_at),
        "event_id": event_id,
        "actor": {"kind": actor_kind, "id": actor_id},
        "action": action,
        "target": dict(target),
        "outcome": outcome,
        "details": dict(details),
        "context_hash": context_hash,
    }


class AuditRecorder:
    """`record` and `record_denied` bound to a clock, the context key and the request.

    The context sealed beside each event is what the door knows of the
    request (`context.current_request`: client address, user agent, purpose)
    merged with what the service adds (the path at the time, the actor's
    role). An action with neither (the command line) has no context record.
    """

    def __init__(self, clock: Clock, sealer: ContextSealer | None = None) -> None:
        self.clock = clock
        self.sealer = sealer

    def record(
        self,
        session: Session,
        *,
        actor: Principal,
        action: str,
        target: Mapping[str, str | None],
        outcome: str = ALLOWED,
        details: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> str:
        return record(
            session,
            actor=actor,
            action=action,
            target=target,
            outcome=outcome,
            details={} if details is None else details,
            context=self._context(context),
            sealer=self.sealer,
            at=self.clock.now(),
        )

    def record_denied(
        self,
        db: Database,
        *,
        actor: Principal,
        action: str,
        target: Mapping[str, str | None],
        details: Mapping[str, Any] | None = None,
        outcome: str = DENIED,
        context: Mapping[str, Any] | None = None,
    ) -> str:
        return record_denied(
            db,
            actor=actor,
            action=action,
            target=target,
            details={} if details is None else details,
            outcome=outcome,
            context=self._context(context),
            sealer=self.sealer,
            at=self.clock.now(),
        )

    def _context(self, extra: Mapping[str, Any] | None) -> dict[str, Any] | None:
        request = current_request()
        if request is None and not extra:
            return None
        merged = {} if request is None else request.as_context()
        merged.update(extra or {})
        return merged
