"""Canonical leaf bytes and the context hash (FORMATS.md section 3)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from egide.core.audit import leaves, merkle
from egide.core.audit.errors import InvalidEvent
from egide.core.errors import ErrorKind

VECTORS: Any = json.loads((Path(__file__).parent / "vectors" / "merkle.json").read_text("utf-8"))

EVENT: dict[str, Any] = {
    "seq": 41,
    "time": "2026-11-29T22:01:00.123456Z",
    "event_id": "0193f4c2-7d1e-7000-8000-000000000001",
    "actor": {"user": "u-17"},
    "action": "file.read",
    "target": {"space": "s-3", "node": "n-99"},
    "outcome": "allowed",
    "details": {"version": 2, "bytes": 1048576},
    "context_hash": "00" * 32,
}


@pytest.mark.parametrize("leaf", VECTORS["leaves_utf8"])
def test_the_vector_leaves_are_canonical(leaf: str) -> None:
    """The vectors hold only seq and action: the hashing path takes them with strict=False."""
    assert leaves.leaf_bytes(json.loads(leaf), strict=False) == leaf.encode("utf-8")
    with pytest.raises(InvalidEvent):
        leaves.leaf_bytes(json.loads(leaf))


def test_the_vector_roots_from_the_leaf_bytes() -> None:
    hashes = [
        merkle.leaf_hash(leaves.leaf_bytes(json.loads(leaf), strict=False))
        for leaf in VECTORS["leaves_utf8"]
    ]
    assert merkle.root(hashes).hex() == VECTORS["roots"][-1]["root"]


def test_a_full_event_is_sorted_compact_utf8() -> None:
    event = {**EVENT, "details": {"note": "dossier réouvert", "z": 1, "a": [1, 2]}}
    data = leaves.leaf_bytes(event)
    assert data.startswith(b'{"action":"file.read","actor":{"user":"u-17"},"context_hash":')
    assert b'{"a":[1,2],"note":"dossier r\xc3\xa9ouvert","z":1}' in data
    assert b" " not in data.replace(b"dossier r", b"")
    assert b"\n" not in leaves.leaf_bytes({**EVENT, "details": {"text": "a\nb"}})
    assert json.loads(data) == event


@pytest.mark.parametrize("missing", sorted(leaves.REQUIRED))
def test_every_required_field_is_checked(missing: str) -> None:
    event = {key: value for key, value in EVENT.items() if key != missing}
    with pytest.raises(InvalidEvent) as caught:
        leaves.leaf_bytes(event)
    assert missing in str(caught.value)
    assert caught.value.kind is ErrorKind.INVALID


@pytest.mark.parametrize("outcome", ["allowed", "denied", "error"])
def test_the_three_outcomes(outcome: str) -> None:
    leaves.leaf_bytes({**EVENT, "outcome": outcome})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("outcome", "ALLOWED"),
        ("outcome", "ok"),
        ("seq", -1),
        ("seq", True),
        ("seq", "41"),
        ("time", "2026-11-29T22:01:00+00:00"),
        ("time", "2026-11-29T22:01:00z"),
        ("time", "2026-11-29 22:01:00Z"),
        ("time", "2026-13-01T00:00:00Z"),
        ("time", "2026-02-30T00:00:00Z"),
        ("time", "2026-11-29T24:00:00Z"),
        ("time", "2026-11-29T22:01Z"),
        ("time", 1764453660),
    ],
)
def test_a_malformed_field_is_refused(field: str, value: object) -> None:
    with pytest.raises(InvalidEvent):
        leaves.leaf_bytes({**EVENT, field: value})


@pytest.mark.parametrize(
    "details",
    [{"x": float("nan")}, {"x": float("inf")}, {1: "int key", "a": 2}, {"x": b"bytes"}],
)
def test_what_json_cannot_hold_canonically_is_refused(details: dict[Any, Any]) -> None:
    with pytest.raises(InvalidEvent):
        leaves.leaf_bytes({**EVENT, "details": details})


def test_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(InvalidEvent):
        leaves.leaf_bytes({**EVENT, "details": {"x": "\ud800"}})


def test_the_context_hash() -> None:
    salt = bytes(range(16))
    context = {"path": "/Cardiologie/Compte rendu opératoire.pdf", "ip": "10.0.0.7"}
    expected = hashlib.sha256(
        salt + '{"ip":"10.0.0.7","path":"/Cardiologie/Compte rendu opératoire.pdf"}'.encode()
    ).hexdigest()
    assert leaves.context_hash(salt, context) == expected
    assert leaves.context_hash(bytes(16), context) != expected  # the salt matters


@pytest.mark.parametrize("size", [0, 15, 17, 32])
def test_the_context_salt_is_16_bytes(size: int) -> None:
    with pytest.raises(InvalidEvent):
        leaves.context_hash(bytes(size), {})
