"""The key file of the embedded key provider (FORMATS.md section 2).

JSON, mode 0600, outside the data directory in production:

    {"format": "egide key file", "version": 1,
     "current": "m2",
     "recovery_public_key": b64,
     "master_keys": [{"id": "m1", "key": b64, "created": RFC 3339 UTC, "state": "retired"},
                     {"id": "m2", "key": b64, "created": ..., "state": "current"}],
     "audit_signing_key": {"seed": b64, "created": RFC 3339 UTC}}

`audit_signing_key` (optional: key files made before it have none, and
`FileKeyProvider.ensure_audit_key` adds it) is the Ed25519 seed that signs
audit checkpoints. It sits beside the master keys, never among them: it
wraps nothing, is not rotated with them, and is not in the recovery escrow.

Retired master keys stay: rows and database backups wrapped under them must
remain readable until they are re-wrapped and the backups expire.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from egide.core.crypto.errors import KeyUnavailable
from egide.core.types import Secret

FORMAT: Final = "egide key file"
VERSION: Final = 1
CURRENT: Final = "current"
RETIRED: Final = "retired"
_KEY_SIZE: Final = 32
_MASTER_ID: Final = re.compile(r"m([1-9][0-9]{0,8})")

KEY_FILE_DAMAGED: Final = (
    "The key file {path} is damaged ({problem}). Restore it from your offline copy, or "
    "rebuild it with `egide keys recover` from the recovery escrow and your recovery code."
)


def utc_now() -> str:
    """RFC 3339 time in UTC, to the second."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def master_number(master_id: str) -> int:
    """n of "m<n>"; ValueError for any other id."""
    match = _MASTER_ID.fullmatch(master_id)
    if match is None:
        raise ValueError(f"master key id {master_id!r} is not m<n>")
    return int(match.group(1))


@dataclass(frozen=True)
class MasterKey:
    id: str
    key: Secret
    created: str


@dataclass(frozen=True)
class AuditSigningKey:
    """The 32-byte Ed25519 seed that signs audit checkpoints."""

    seed: Secret
    created: str


@dataclass(frozen=True)
class KeyRing:
    """The content of a key file: master keys in creation order, and which is current."""

    current: str
    recovery_public_key: bytes
    keys: tuple[MasterKey, ...]
    audit_key: AuditSigningKey | None = None

    def __post_init__(self) -> None:
        ids = [key.id for key in self.keys]
        for master_id in ids:
            master_number(master_id)
        if len(set(ids)) != len(ids):
            raise ValueError("a master key id appears twice")
        if self.current not in ids:
            raise ValueError(f"current master key {self.current!r} is not in the file")
        if any(len(key.key) != _KEY_SIZE for key in self.keys):
            raise ValueError(f"a master key is not {_KEY_SIZE} bytes")
        if len(self.recovery_public_key) != _KEY_SIZE:
            raise ValueError("the recovery public key is not 32 bytes")
        if self.audit_key is not None and len(self.audit_key.seed) != _KEY_SIZE:
            raise ValueError(f"the audit signing key is not {_KEY_SIZE} bytes")

    def ids(self) -> list[str]:
        return [key.id for key in self.keys]

    def get(self, master_id: str) -> Secret | None:
        for key in self.keys:
            if key.id == master_id:
                return key.key
        return None

    def with_key(self, key: MasterKey) -> KeyRing:
        """A new key ring where `key` is added and becomes current."""
        return KeyRing(key.id, self.recovery_public_key, (*self.keys, key), self.audit_key)

    def with_audit_key(self, audit_key: AuditSigningKey) -> KeyRing:
        """A new key ring holding `audit_key` as its audit signing key."""
        return KeyRing(self.current, self.recovery_public_key, self.keys, audit_key)


def dump_key_file(ring: KeyRing) -> bytes:
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "current": ring.current,
        "recovery_public_key": base64.b64encode(ring.recovery_public_key).decode("ascii"),
        "master_keys": [
            {
                "id": key.id,
                "key": base64.b64encode(key.key.reveal()).decode("ascii"),
                "created": key.created,
                "state": CURRENT if key.id == ring.current else RETIRED,
            }
            for key in ring.keys
        ],
    }
    if ring.audit_key is not None:
        document["audit_signing_key"] = {
            "seed": base64.b64encode(ring.audit_key.seed.reveal()).decode("ascii"),
            "created": ring.audit_key.created,
        }
    return (json.dumps(document, indent=2) + "\n").encode()


def load_key_file(data: bytes, path: Path) -> KeyRing:
    """Parse a key file; KeyUnavailable (naming no key) when it is malformed."""
    # Exception texts are never echoed: a JSON or base64 error could quote key bytes.
    try:
        return _parse(json.loads(data))
    except _KeyFileProblem as exc:
        problem = str(exc)
    except KeyError as exc:
        problem = f"field {exc.args[0]!r} missing"
    except json.JSONDecodeError:
        problem = "not valid JSON"
    except (ValueError, TypeError, AttributeError):
        # binascii.Error and UnicodeDecodeError are ValueErrors.
        problem = "a field holds a value of the wrong type or encoding"
    raise KeyUnavailable(KEY_FILE_DAMAGED, path=str(path), problem=problem)


class _KeyFileProblem(ValueError):
    """A structural problem whose message is safe to show (ids and sizes, no key bytes)."""


def _parse(document: Any) -> KeyRing:
    if not isinstance(document, dict):
        raise _KeyFileProblem("not a JSON object")
    if document.get("format") != FORMAT or document.get("version") != VERSION:
        raise _KeyFileProblem("not a key file of version 1")
    current = document["current"]
    public = base64.b64decode(document["recovery_public_key"], validate=True)
    keys = []
    for item in document["master_keys"]:
        state = item.get("state")
        if state not in (CURRENT, RETIRED) or (state == CURRENT) != (item["id"] == current):
            raise _KeyFileProblem(f"state of master key {item['id']!r}")
        raw = base64.b64decode(item["key"], validate=True)
        keys.append(MasterKey(id=str(item["id"]), key=Secret(raw), created=str(item["created"])))
    audit_key = None
    if "audit_signing_key" in document:
        item = document["audit_signing_key"]
        seed = base64.b64decode(item["seed"], validate=True)
        audit_key = AuditSigningKey(Secret(seed), str(item["created"]))
    try:
        return KeyRing(str(current), public, tuple(keys), audit_key)
    except ValueError as exc:
        raise _KeyFileProblem(str(exc)) from None
