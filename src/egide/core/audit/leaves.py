"""The canonical bytes of an audit event, the leaves of the tree (FORMATS.md section 3).

Leaf bytes are made once, stored exactly and never re-serialised: an auditor
hashes the stored bytes, so the serialisation only has to be deterministic
here, at the sequencer. It is Python's `json.dumps` with sorted keys and no
insignificant whitespace, as FORMATS.md spells it, so a verifier in any
language needs no canonicalisation of its own.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from egide.core.audit import errors

REQUIRED = frozenset(
    {"seq", "time", "event_id", "actor", "action", "target", "outcome", "details", "context_hash"}
)
OUTCOMES = frozenset({"allowed", "denied", "error"})
SALT_SIZE = 16
#: RFC 3339 date-time in UTC, written with `Z` (one spelling per instant).
_UTC_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """UTF-8 JSON, keys sorted, no whitespace; NaN and infinities refused (not JSON)."""
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return text.encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise errors.InvalidEvent(
            "The audit record cannot be written as canonical JSON ({reason}); pass only "
            "strings, numbers, booleans, null, lists and objects with string keys.",
            reason=type(exc).__name__,
        ) from exc


def leaf_bytes(event: Mapping[str, Any], *, strict: bool = True) -> bytes:
    """The leaf of one event. `strict` checks the fields FORMATS.md requires of a real event.

    `strict=False` hashes any mapping, for test vectors and tools that only
    need the bytes of something already sequenced.
    """
    if strict:
        check_event(event)
    return canonical_json(event)


def check_event(event: Mapping[str, Any]) -> None:
    """Refuse an event that lacks a required field or has a malformed one."""
    missing = sorted(REQUIRED - event.keys())
    if missing:
        raise errors.InvalidEvent(
            "The audit event lacks {fields}; every event carries seq, time, event_id, actor, "
            "action, target, outcome, details and context_hash.",
            fields=", ".join(missing),
        )
    seq = event["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise errors.InvalidEvent(
            "The audit event's seq must be a whole number of 0 or more, not {seq}.", seq=seq
        )
    if event["outcome"] not in OUTCOMES:
        raise errors.InvalidEvent(
            "The audit event's outcome must be allowed, denied or error, not {outcome}.",
            outcome=event["outcome"],
        )
    if not _is_utc_time(event["time"]):
        raise errors.InvalidEvent(
            "The audit event's time must be RFC 3339 in UTC ending in Z "
            "(2026-01-31T12:00:00Z), not {time}.",
            time=event["time"],
        )


def _is_utc_time(value: object) -> bool:
    if not isinstance(value, str) or not _UTC_TIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value[:19])  # rejects month 13, February 30, hour 24
    except ValueError:
        return False
    return True


def context_hash(salt: bytes, context: Mapping[str, Any]) -> str:
    """SHA-256 hex of salt | canonical JSON of the context.

    The random salt, kept with the (encrypted) context record, keeps a guessed
    context (a patient's name, a ward's IP) from being confirmed by hashing it
    once the record is erased.
    """
    if len(salt) != SALT_SIZE:
        raise errors.InvalidEvent(
            "A context salt has 16 random bytes, not {length}.", length=len(salt)
        )
    return hashlib.sha256(salt + canonical_json(context)).hexdigest()
