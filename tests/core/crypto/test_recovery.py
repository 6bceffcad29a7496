"""The recovery code: format, tolerant parsing, typo detection."""

from __future__ import annotations

import re

import pytest

from egide.core.crypto.errors import InvalidRecoveryCode
from egide.core.crypto.recovery import encode_recovery_code, parse_recovery_code
from egide.core.types import Secret

KEY = Secret(bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def test_code_is_eleven_groups_of_five_and_round_trips() -> None:
    code = encode_recovery_code(KEY)
    assert re.fullmatch(r"[A-Z2-7]{5}(-[A-Z2-7]{5}){10}", code), code
    assert parse_recovery_code(code) == KEY


def test_case_spaces_and_dashes_are_ignored() -> None:
    code = encode_recovery_code(KEY)
    assert parse_recovery_code(code.lower()) == KEY
    assert parse_recovery_code(code.replace("-", " ")) == KEY
    assert parse_recovery_code("  " + code.replace("-", "").lower() + "\n") == KEY
    assert parse_recovery_code(code.replace("-", " - ")) == KEY


def test_every_single_character_typo_is_reported_as_a_typo() -> None:
    code = encode_recovery_code(KEY)
    for position, character in enumerate(code):
        if character == "-":
            continue
        for replacement in (ALPHABET[(ALPHABET.index(character) + k) % 32] for k in (1, 7)):
            mistyped = code[:position] + replacement + code[position + 1 :]
            with pytest.raises(InvalidRecoveryCode, match="mistyped"):
                parse_recovery_code(mistyped)


def test_swapped_neighbours_are_caught() -> None:
    text = encode_recovery_code(KEY).replace("-", "")
    for i in range(len(text) - 1):
        if text[i] == text[i + 1]:
            continue
        swapped = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        with pytest.raises(InvalidRecoveryCode):
            parse_recovery_code(swapped)


def test_missing_group_and_foreign_characters_are_explained() -> None:
    code = encode_recovery_code(KEY)
    with pytest.raises(InvalidRecoveryCode, match="should have 55") as caught:
        parse_recovery_code(code[:-6])
    assert caught.value.params == {"count": 50}
    with pytest.raises(InvalidRecoveryCode, match="letter O") as caught:
        parse_recovery_code("0" + code[1:])
    assert caught.value.params == {"characters": "0"}
    assert caught.value.kind == "invalid"


def test_only_32_byte_keys_are_encoded() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        encode_recovery_code(Secret(b"\0" * 31))
