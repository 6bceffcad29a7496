"""The key hierarchy and encrypted names (FORMATS.md section 2, vectors/keywrap.json)."""

from __future__ import annotations

import base64
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from egide.core.crypto import keys
from egide.core.crypto.errors import IntegrityError
from egide.core.types import Secret

VECTORS: Any = json.loads((Path(__file__).parent / "vectors" / "keywrap.json").read_text("utf-8"))
MASTER_ID: str = VECTORS["master"]["id"]
SPACE: dict[str, Any] = VECTORS["space_key"]
DEK: dict[str, Any] = VECTORS["dek"]
NAMES: list[dict[str, Any]] = VECTORS["names"]


def b64(value: str) -> bytes:
    return base64.b64decode(value)


MASTER = Secret(b64(VECTORS["master"]["key"]))
SPACE_KEY = Secret(b64(SPACE["key"]))


def test_vector_space_key_wraps_and_unwraps() -> None:
    wrapped = keys.wrap_space_key(
        MASTER, MASTER_ID, SPACE["id"], SPACE_KEY, nonce=b64(SPACE["nonce"])
    )
    assert wrapped == b64(SPACE["wrapped"])
    assert keys.unwrap_space_key(MASTER, MASTER_ID, SPACE["id"], wrapped) == SPACE_KEY
    assert SPACE["aad_utf8"] == f"egide space key v1|{MASTER_ID}|{SPACE['id']}"


def test_vector_dek_wraps_and_unwraps() -> None:
    space_key = keys.unwrap_space_key(MASTER, MASTER_ID, SPACE["id"], b64(SPACE["wrapped"]))
    dek = keys.unwrap_dek(space_key, SPACE["id"], DEK["blob_key"], b64(DEK["wrapped"]))
    assert dek.reveal() == b64(DEK["dek"])
    wrapped = keys.wrap_dek(space_key, SPACE["id"], DEK["blob_key"], dek, nonce=b64(DEK["nonce"]))
    assert wrapped == b64(DEK["wrapped"])


@pytest.mark.parametrize("vector", NAMES, ids=lambda v: v["nfc_utf8"])
def test_vector_names_seal_open_and_index(vector: dict[str, Any]) -> None:
    cipher = keys.NameCipher(SPACE_KEY)
    stored = b64(vector["stored_b64"])
    sealed = cipher.seal(vector["node_id"], vector["name_utf8"], nonce=stored[:12])
    assert sealed == stored
    assert cipher.open(vector["node_id"], stored) == vector["nfc_utf8"]
    assert cipher.index(vector["parent_id"], vector["name_utf8"]) == vector["index_hex"]
    index_input = f"{vector['parent_id']}/{keys.fold_name(vector['name_utf8'])}"
    assert index_input == vector["index_input_utf8"]


def test_vector_names_that_differ_by_case_collide() -> None:
    cipher = keys.NameCipher(SPACE_KEY)
    by_name = {v["name_utf8"]: v for v in NAMES}
    sharp_s, upper = by_name["Straße.txt"], by_name["STRASSE.TXT"]
    assert sharp_s["index_hex"] == upper["index_hex"]
    parent = sharp_s["parent_id"]
    assert cipher.index(parent, "Straße.txt") == cipher.index(parent, "STRASSE.TXT")
    assert cipher.index(parent, "Straße.txt") != cipher.index("another-parent", "Straße.txt")


def test_names_are_stored_in_nfc_and_indexed_alike() -> None:
    cipher = keys.NameCipher(SPACE_KEY)
    decomposed = unicodedata.normalize("NFD", "échographie.dcm")
    assert decomposed != "échographie.dcm"
    assert keys.normalize_name(decomposed) == "échographie.dcm"
    assert cipher.open("n1", cipher.seal("n1", decomposed)) == "échographie.dcm"
    assert cipher.index("p", decomposed) == cipher.index("p", "ÉCHOGRAPHIE.DCM")
    assert keys.fold_name("Straße") == keys.fold_name("STRASSE") == "strasse"
    assert len(cipher.index("p", "x")) == 64
    assert cipher.index("p", "x") == cipher.index("p", "x").lower()


def test_each_seal_uses_a_fresh_nonce() -> None:
    cipher = keys.NameCipher(SPACE_KEY)
    assert cipher.seal("n1", "a.pdf") != cipher.seal("n1", "a.pdf")


def test_wrong_ids_fail_space_key_unwrap() -> None:
    wrapped = b64(SPACE["wrapped"])
    with pytest.raises(IntegrityError):
        keys.unwrap_space_key(MASTER, "m2", SPACE["id"], wrapped)
    with pytest.raises(IntegrityError):
        keys.unwrap_space_key(MASTER, MASTER_ID, SPACE["space_id"] + "/2", wrapped)
    with pytest.raises(IntegrityError):
        keys.unwrap_space_key(keys.generate_key(), MASTER_ID, SPACE["id"], wrapped)


def test_wrong_ids_fail_dek_unwrap() -> None:
    wrapped = b64(DEK["wrapped"])
    with pytest.raises(IntegrityError):
        keys.unwrap_dek(SPACE_KEY, SPACE["id"], DEK["blob_key"] + "x", wrapped)
    with pytest.raises(IntegrityError):
        keys.unwrap_dek(SPACE_KEY, SPACE["space_id"] + "/2", DEK["blob_key"], wrapped)
    with pytest.raises(IntegrityError) as caught:
        keys.unwrap_dek(keys.generate_key(), SPACE["id"], DEK["blob_key"], wrapped)
    assert DEK["dek"] not in str(caught.value)


@pytest.mark.parametrize("length", [0, 12, 59, 61])
def test_wrapped_key_of_wrong_length_fails(length: int) -> None:
    wrapped = (b64(SPACE["wrapped"]) * 2)[:length]
    with pytest.raises(IntegrityError):
        keys.unwrap_space_key(MASTER, MASTER_ID, SPACE["id"], wrapped)


def test_every_bit_of_a_wrapped_key_is_authenticated() -> None:
    wrapped = b64(DEK["wrapped"])
    for bit in range(len(wrapped) * 8):
        altered = bytearray(wrapped)
        altered[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(IntegrityError):
            keys.unwrap_dek(SPACE_KEY, SPACE["id"], DEK["blob_key"], bytes(altered))


def test_names_are_bound_to_their_node_and_space() -> None:
    cipher = keys.NameCipher(SPACE_KEY)
    stored = cipher.seal("node-1", "Compte-rendu.pdf")
    with pytest.raises(IntegrityError):
        cipher.open("node-2", stored)
    with pytest.raises(IntegrityError):
        keys.NameCipher(keys.generate_key()).open("node-1", stored)
    with pytest.raises(IntegrityError):
        cipher.open("node-1", stored[:20])
    assert keys.NameCipher(keys.generate_key()).index("p", "a") != cipher.index("p", "a")


def test_wrapping_refuses_keys_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        keys.wrap_dek(SPACE_KEY, "s/1", "b", Secret(b"short"))
    with pytest.raises(ValueError, match="32 bytes"):
        keys.wrap_dek(Secret(b"short"), "s/1", "b", SPACE_KEY)
    with pytest.raises(ValueError, match="nonce"):
        keys.wrap_dek(SPACE_KEY, "s/1", "b", SPACE_KEY, nonce=b"123")


def test_generated_keys_are_fresh_and_masked() -> None:
    first, second = keys.generate_key(), keys.generate_key()
    assert len(first) == 32
    assert first != second
    assert first.reveal().hex() not in repr(first)
    cipher = keys.NameCipher(first)
    assert "***" in repr(cipher)
