"""The password policy (each reason for a refusal) and password hashing."""

from __future__ import annotations

import importlib.resources
import unicodedata

import argon2
import argon2.profiles
import pytest

from egide.services.accounts import passwords
from egide.services.accounts.errors import WeakPassword
from egide.services.accounts.passwords import check_password_policy


def _refusal(username: str, password: str) -> WeakPassword:
    with pytest.raises(WeakPassword) as caught:
        check_password_policy(username, password)
    assert caught.value.field == "password"
    return caught.value


@pytest.mark.parametrize(
    "password",
    [
        "violet tramway harbour",
        "Kq8#zv!Lr2@p",  # exactly 12
        "é" * 12,  # 12 code points once composed
        "x" * 1024,  # the longest accepted
        "Jean-Pierre aime les tramways",  # a first name alone is fine, not the username's
    ],
)
def test_accepted(password: str) -> None:
    check_password_policy("marie.curie", password)


def test_too_short_says_how_long_it_must_be() -> None:
    error = _refusal("marie.curie", "tr0mb0ne!Xq")  # 11 characters
    assert "too short: 11 characters, at least 12" in str(error)


def test_length_counts_composed_characters() -> None:
    # 12 "e" + combining acute accents: 24 code points decomposed, 12 composed.
    decomposed = unicodedata.normalize("NFD", "é" * 11)
    assert len(decomposed) == 22
    error = _refusal("marie.curie", decomposed)
    assert "11 characters" in str(error)


def test_too_long() -> None:
    error = _refusal("marie.curie", "y" * 1025)
    assert "too long" in str(error)
    assert "1024" in str(error)


@pytest.mark.parametrize(
    "password",
    [
        "motdepasse123",
        "MotDePasse123",  # compared case-insensitively
        "AZERTYUIOP123",
        "1234567890ab",
        "qwertyuiop123",  # from the zxcvbn list
        "1qaz2wsx3edc",  # from the zxcvbn list
    ],
)
def test_common_passwords_are_refused(password: str) -> None:
    error = _refusal("marie.curie", password)
    assert "list of common passwords" in str(error)


@pytest.mark.parametrize(
    ("username", "password", "part"),
    [
        ("jean.dupont", "Jean.Dupont-2026!", "jean.dupont"),
        ("jean.dupont", "xx dupont loves trains", "dupont"),
        ("jean.dupont", "JEAN goes to the market", "jean"),
        ("m.lefebvre@chu-lyon.fr", "welcome to chu lyon 2026", "chu"),
        ("infirmier_nuit", "the night shift infirmier", "infirmier"),
    ],
)
def test_username_or_its_parts_are_refused(username: str, password: str, part: str) -> None:
    error = _refusal(username, password)
    assert f"({part})" in str(error)


def test_short_username_parts_are_not_refused() -> None:
    # "fr" and "m" are parts of the username but too short to matter.
    check_password_policy("m.curie.fr", "frozen mountain lakes m")


def test_the_bundled_list() -> None:
    listed = passwords.common_passwords()
    assert len(listed) > 30_000
    assert {"123456", "password", "azerty", "motdepasse", "soleil", "doudou"} <= listed
    assert all(p == p.casefold() and p and not p.startswith("#") for p in listed)
    resource = importlib.resources.files("egide.services.accounts") / "common_passwords.txt"
    data = resource.read_bytes()
    assert len(data) < 1024 * 1024
    first_line = data.decode("utf-8").splitlines()[0]
    assert first_line.startswith("#")
    assert "zxcvbn" in data.decode("utf-8").split("\n123456\n")[0]
    assert "MIT" in data.decode("utf-8").split("\n123456\n")[0]


def test_hashing_normalises_unicode(insecure_fast_argon2: argon2.PasswordHasher) -> None:
    composed = "Café crème au lait 2026"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    stored = passwords.hash_password(insecure_fast_argon2, composed)
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(insecure_fast_argon2, stored, decomposed)
    assert not passwords.verify_password(insecure_fast_argon2, stored, "Cafe creme au lait 2026")


def test_an_unreadable_hash_refuses(insecure_fast_argon2: argon2.PasswordHasher) -> None:
    assert not passwords.verify_password(insecure_fast_argon2, "not a hash", "anything at all")


def test_default_hasher_is_the_rfc_9106_low_memory_profile() -> None:
    hasher = passwords.default_hasher()
    profile = argon2.profiles.RFC_9106_LOW_MEMORY
    assert hasher.type is argon2.Type.ID
    assert (hasher.memory_cost, hasher.time_cost, hasher.parallelism) == (
        profile.memory_cost,
        profile.time_cost,
        profile.parallelism,
    )
