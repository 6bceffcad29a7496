"""The API token format: building, parsing and hashing a token string."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from egide.services.accounts import tokens

TOKEN_ID = "0f8e4b2a-7c1d-4e5f-9a0b-1c2d3e4f5a6b"


def test_new_secret_is_32_random_bytes_in_base64url() -> None:
    secret = tokens.new_secret()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32
    assert tokens.new_secret() != secret


def test_format_and_parse_round_trip() -> None:
    secret = tokens.new_secret()
    presented = tokens.format_token(TOKEN_ID, secret)
    assert presented == f"egd_0f8e4b2a7c1d4e5f9a0b1c2d3e4f5a6b_{secret}"
    parsed = tokens.parse_token(presented)
    assert parsed is not None
    assert parsed.token_id == TOKEN_ID
    assert parsed.secret == secret
    assert secret not in repr(parsed)


def test_a_secret_starting_with_an_underscore_still_parses() -> None:
    # The secret alphabet contains "_", the separator: parsing must go by position.
    secret = "_-" + "a" * 41
    parsed = tokens.parse_token(tokens.format_token(TOKEN_ID, secret))
    assert parsed is not None
    assert (parsed.token_id, parsed.secret) == (TOKEN_ID, secret)


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "egd_",
        "egd_0f8e4b2a7c1d4e5f9a0b1c2d3e4f5a6b_" + "a" * 42,  # secret too short
        "egd_0f8e4b2a7c1d4e5f9a0b1c2d3e4f5a6b_" + "a" * 44,  # too long
        "egd_0F8E4B2A7C1D4E5F9A0B1C2D3E4F5A6B_" + "a" * 43,  # upper-case id
        "egd_0f8e4b2a-7c1d-4e5f-9a0b-1c2d3e4f5a6b_" + "a" * 43,  # dashes kept
        "ghp_0f8e4b2a7c1d4e5f9a0b1c2d3e4f5a6b_" + "a" * 43,  # another product's prefix
        "egd_0f8e4b2a7c1d4e5f9a0b1c2d3e4f5a6b_" + "a" * 42 + "=",  # padding
        "egd_0f8e4b2a7c1d4e5f9a0b1c2d3e4f5a6b_" + "a" * 42 + "\n" + "b",
    ],
)
def test_malformed_tokens_do_not_parse(presented: str) -> None:
    assert tokens.parse_token(presented) is None


def test_only_sha256_of_the_secret_part_is_compared() -> None:
    secret = tokens.new_secret()
    stored = tokens.hash_secret(secret)
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    assert tokens.secret_matches(secret, stored)
    assert not tokens.secret_matches(tokens.new_secret(), stored)
