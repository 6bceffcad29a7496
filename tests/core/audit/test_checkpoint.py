"""Signed checkpoints against the shared vector, and every tampering we know of (FORMATS.md 4)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from egide.core.audit import checkpoint, merkle
from egide.core.audit.checkpoint import Checkpoint
from egide.core.audit.errors import (
    AuditIntegrityError,
    BadSignature,
    InvalidCheckpoint,
    InvalidVerifierKey,
    MalformedNote,
    UnknownSigner,
)
from egide.core.errors import ErrorKind

VECTORS: Any = json.loads((Path(__file__).parent / "vectors" / "merkle.json").read_text("utf-8"))
VECTOR: dict[str, Any] = VECTORS["checkpoint"]
NOTE: str = VECTOR["note"]
VKEY: str = VECTOR["vkey"]
ORIGIN: str = VECTOR["origin"]
KEY = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTOR["ed25519_private_seed_hex"]))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
ROOT = merkle.root([merkle.leaf_hash(leaf.encode("utf-8")) for leaf in VECTORS["leaves_utf8"]])


def signature_line(note: str) -> str:
    return note.rsplit("\n\n", 1)[1]


def resign_line(note: str, change: Any) -> str:
    """The note with its signature bytes passed through `change` and re-encoded."""
    body, line = note.rsplit("\n\n", 1)
    dash_name, encoded = line.rstrip("\n").rsplit(" ", 1)
    raw = change(base64.b64decode(encoded))
    return f"{body}\n\n{dash_name} {base64.b64encode(raw).decode()}\n"


# The vector ----------------------------------------------------------------------------


def test_signing_reproduces_the_vector_note_byte_for_byte() -> None:
    assert VECTOR["size"] == 7
    note = checkpoint.sign(Checkpoint(ORIGIN, 7, ROOT), ORIGIN, KEY)
    assert note == NOTE
    assert note.encode("utf-8") == NOTE.encode("utf-8")


def test_the_verifier_key_is_reproduced_from_the_seed() -> None:
    assert checkpoint.verifier_key(ORIGIN, KEY.public_key()) == VKEY


def test_the_vector_note_verifies() -> None:
    assert checkpoint.verify_note(NOTE, VKEY) == Checkpoint(ORIGIN, 7, ROOT)
    assert ROOT.hex() == VECTORS["roots"][7]["root"]


def test_the_verifier_key_splits_at_the_first_two_plus_signs() -> None:
    assert "+" in VKEY.split("+", 2)[2]  # the vector's base64 holds a '+'
    key = checkpoint.parse_verifier_key(VKEY)
    assert key.name == ORIGIN
    assert key.key_hash.hex() == "45a160eb"
    assert key.key_hash == checkpoint.key_hash(ORIGIN, KEY.public_key())
    assert checkpoint.verify_note(NOTE, key).size == 7


def test_the_body_is_three_lines_each_ending_in_a_newline() -> None:
    body = Checkpoint(ORIGIN, 7, ROOT).body()
    assert body == NOTE.split("\n\n", maxsplit=1)[0] + "\n"
    assert body.count("\n") == 3


# Tampering: each rejected with its typed error -----------------------------------------


@pytest.mark.parametrize(
    ("name", "tampered"),
    [
        ("size", NOTE.replace("\n7\n", "\n8\n", 1)),
        ("size zero", NOTE.replace("\n7\n", "\n0\n", 1)),
        (
            "root",
            NOTE.replace(base64.b64encode(ROOT).decode(), base64.b64encode(bytes(32)).decode()),
        ),
        ("origin", NOTE.replace(ORIGIN, "egide.example/other", 1)),
        ("signature", resign_line(NOTE, lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]))),
        ("signature of another key", resign_line(NOTE, lambda raw: raw[:4] + OTHER_KEY.sign(b"x"))),
        ("truncated signature", resign_line(NOTE, lambda raw: raw[:-1])),
    ],
)
def test_a_changed_checkpoint_or_signature_fails_the_signature(name: str, tampered: str) -> None:
    assert tampered != NOTE
    with pytest.raises(BadSignature) as caught:
        checkpoint.verify_note(tampered, VKEY)
    assert caught.value.kind is ErrorKind.INTEGRITY


def test_a_changed_key_name_is_an_unknown_signer() -> None:
    tampered = NOTE.replace(f"\u2014 {ORIGIN} ", "\u2014 egide.example/audit2 ")
    with pytest.raises(UnknownSigner):
        checkpoint.verify_note(tampered, VKEY)


def test_a_changed_key_hash_is_an_unknown_signer() -> None:
    tampered = resign_line(NOTE, lambda raw: b"\x00\x00\x00\x00" + raw[4:])
    with pytest.raises(UnknownSigner):
        checkpoint.verify_note(tampered, VKEY)


def test_the_verifier_key_of_another_key_is_an_unknown_signer() -> None:
    other = checkpoint.verifier_key(ORIGIN, OTHER_KEY.public_key())
    with pytest.raises(UnknownSigner) as caught:
        checkpoint.verify_note(NOTE, other)
    assert ORIGIN in str(caught.value)


def test_a_note_signed_by_another_key_of_the_same_name_is_an_unknown_signer() -> None:
    forged = checkpoint.sign(Checkpoint(ORIGIN, 7, ROOT), ORIGIN, OTHER_KEY)
    with pytest.raises(UnknownSigner):
        checkpoint.verify_note(forged, VKEY)


MALFORMED = {
    "extra blank line before the signature": NOTE.replace("\n\n", "\n\n\n", 1),
    "blank line inside the body": NOTE.replace(f"{ORIGIN}\n", f"{ORIGIN}\n\n", 1),
    "CRLF line endings": NOTE.replace("\n", "\r\n"),
    "CR before the blank line": NOTE.replace("\n\n", "\r\n\n", 1),
    "trailing garbage": NOTE + "garbage",
    "trailing newline": NOTE + "\n",
    "no final newline": NOTE[:-1],
    "no blank line": NOTE.replace("\n\n", "\n", 1),
    "no signature": NOTE.split("\n\n", maxsplit=1)[0] + "\n\n",
    "an extension line in the body": NOTE.replace("\n\n", "\nextension\n\n", 1),
    "a missing body line": NOTE.replace("\n7\n", "\n", 1),
    "leading zero in the size": NOTE.replace("\n7\n", "\n07\n", 1),
    "signed size": NOTE.replace("\n7\n", "\n+7\n", 1),
    "root not base64": NOTE.replace("kwZKtHYH", "kwZK*HYH", 1),
    "root without padding": NOTE.replace("h6g=\n", "h6g\n", 1),
    "root of 31 bytes": NOTE.replace(
        base64.b64encode(ROOT).decode(), base64.b64encode(ROOT[:31]).decode()
    ),
    "signature not base64": NOTE.replace("RaFg60sR", "RaFg60s!", 1),
    "signature line without em dash": NOTE.replace("\u2014 ", "- ", 1),
    "two spaces in the signature line": NOTE.replace(f"{ORIGIN} RaF", f"{ORIGIN}  RaF", 1),
    "a tab in the origin": NOTE.replace(ORIGIN, ORIGIN + "\t", 1),
    "an empty origin": NOTE.replace(ORIGIN + "\n", "\n", 1),
    "a key name with a plus": NOTE.replace(f"\u2014 {ORIGIN}", f"\u2014 {ORIGIN}+x", 1),
    "empty": "",
}


@pytest.mark.parametrize("tampered", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_note_outside_the_strict_form_is_malformed(tampered: str) -> None:
    assert tampered != NOTE
    with pytest.raises(MalformedNote) as caught:
        checkpoint.verify_note(tampered, VKEY)
    assert isinstance(caught.value, AuditIntegrityError)
    assert "{" not in str(caught.value)


def test_a_cosignature_by_another_key_is_ignored() -> None:
    cosigned = NOTE + signature_line(checkpoint.sign(Checkpoint(ORIGIN, 7, ROOT), "w", OTHER_KEY))
    assert checkpoint.verify_note(cosigned, VKEY).size == 7
    witness = checkpoint.verifier_key("w", OTHER_KEY.public_key())
    assert checkpoint.verify_note(cosigned, witness).size == 7


def test_one_bad_line_by_the_key_does_not_hide_a_good_one() -> None:
    bad = resign_line(NOTE, lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]))
    assert checkpoint.verify_note(bad + signature_line(NOTE), VKEY).size == 7
    with pytest.raises(BadSignature):
        checkpoint.verify_note(bad + signature_line(bad), VKEY)


def test_too_many_signature_lines_are_malformed() -> None:
    line = signature_line(NOTE)
    with pytest.raises(MalformedNote):
        checkpoint.verify_note(NOTE + line * checkpoint.MAX_SIGNATURES, VKEY)


def test_signing_refuses_what_a_verifier_would_reject() -> None:
    for refused in [
        Checkpoint("two\nlines", 7, ROOT),
        Checkpoint(" " + ORIGIN, 7, ROOT),
        Checkpoint(ORIGIN, -1, ROOT),
        Checkpoint(ORIGIN, 7, ROOT[:31]),
    ]:
        with pytest.raises(InvalidCheckpoint) as caught:
            checkpoint.sign(refused, ORIGIN, KEY)
        assert caught.value.kind is ErrorKind.INVALID
    with pytest.raises(InvalidVerifierKey):
        checkpoint.sign(Checkpoint(ORIGIN, 7, ROOT), "a name", KEY)


def test_a_large_tree_round_trips() -> None:
    big = Checkpoint("audit.chu-exemple.fr/egide", 2**40 + 3, merkle.EMPTY_ROOT)
    note = checkpoint.sign(big, "audit.chu-exemple.fr/egide", KEY)
    vkey = checkpoint.verifier_key("audit.chu-exemple.fr/egide", KEY.public_key())
    assert checkpoint.verify_note(note, vkey) == big
    assert checkpoint.parse_note(note).checkpoint == big


# Verifier keys -------------------------------------------------------------------------

BAD_VKEYS = {
    "two parts": f"{ORIGIN}+45a160eb",
    "wrong key hash": VKEY.replace("+45a160eb+", "+45a160ec+"),
    "upper-case hash": VKEY.replace("+45a160eb+", "+45A160EB+"),
    "short hash": VKEY.replace("+45a160eb+", "+45a160e+"),
    "another name": VKEY.replace(ORIGIN, "egide.example/other"),
    "empty name": VKEY[len(ORIGIN) :],
    "bad base64": VKEY[:-2] + "!!",
    "algorithm byte 2": "{}+{}+{}".format(
        ORIGIN,
        "45a160eb",
        base64.b64encode(b"\x02" + base64.b64decode(VKEY.split("+", 2)[2])[1:]).decode(),
    ),
    "short key": VKEY[:-8] + "AAAA",
}


@pytest.mark.parametrize("vkey", BAD_VKEYS.values(), ids=BAD_VKEYS.keys())
def test_a_malformed_verifier_key_is_refused(vkey: str) -> None:
    with pytest.raises(InvalidVerifierKey) as caught:
        checkpoint.parse_verifier_key(vkey)
    assert caught.value.kind is ErrorKind.INVALID
    with pytest.raises(InvalidVerifierKey):
        checkpoint.verify_note(NOTE, vkey)
