"""The password policy and password hashing (argon2id).

Policy (NIST SP 800-63B, section 5.1.1.2, and ANSSI's guidance on passwords):
length over composition rules, and a refusal of passwords found in lists of
common ones or derived from the username. Passwords are compared and hashed
in Unicode NFC, so the same password typed on systems that compose accents
differently still matches.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
import unicodedata

import argon2
import argon2.profiles
from argon2.exceptions import InvalidHashError, VerificationError

from egide.services.accounts.errors import WeakPassword

MIN_LENGTH = 12
#: A bound on the work an attacker can make argon2 do with one request.
MAX_LENGTH = 1024
#: Parts of a username shorter than this are too common to refuse (`fr`, `jo`).
_MIN_NAME_PART = 3
_NAME_SEPARATORS = re.compile(r"[._@-]")


def normalize(password: str) -> str:
    return unicodedata.normalize("NFC", password)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list, read once: a constant shipped with the package."""
    text = (
        importlib.resources.files("egide.services.accounts")
        .joinpath("common_passwords.txt")
        .read_text(encoding="utf-8")
    )
    return frozenset(
        line.strip().casefold()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def _username_parts(username: str) -> list[str]:
    folded = normalize(username).casefold()
    parts = [folded]
    parts += [p for p in _NAME_SEPARATORS.split(folded) if len(p) >= _MIN_NAME_PART]
    return parts


def check_password_policy(username: str, password: str) -> None:
    """Raise `WeakPassword` saying why and what to do, or return if acceptable."""
    nfc = normalize(password)
    if len(nfc) < MIN_LENGTH:
        raise WeakPassword(
            "The password is too short: {length} characters, at least {minimum} are needed. "
            "A phrase of several words is long and easy to remember.",
            field="password",
            length=len(nfc),
            minimum=MIN_LENGTH,
        )
    if len(nfc) > MAX_LENGTH:
        raise WeakPassword(
            "The password is too long: at most {maximum} characters.",
            field="password",
            maximum=MAX_LENGTH,
        )
    folded = nfc.casefold()
    if folded in common_passwords():
        raise WeakPassword(
            "This password is in a list of common passwords that attackers try first. "
            "Choose another one, for example a phrase of several unrelated words.",
            field="password",
        )
    for part in _username_parts(username):
        if part and part in folded:
            raise WeakPassword(
                "The password must not contain your username or a part of it ({part}). "
                "Choose one that has nothing to do with your name.",
                field="password",
                part=part,
            )


def default_hasher() -> argon2.PasswordHasher:
    """argon2id with RFC 9106's second recommended profile (64 MiB, 3 passes).

    The low-memory profile rather than the 2 GiB one, so several log-ins at
    once stay affordable on a modest server (RFC 9106, section 4).
    """
    return argon2.PasswordHasher.from_parameters(argon2.profiles.RFC_9106_LOW_MEMORY)


def hash_password(hasher: argon2.PasswordHasher, password: str) -> str:
    return hasher.hash(normalize(password))


def verify_password(hasher: argon2.PasswordHasher, password_hash: str, password: str) -> bool:
    """True when `password` matches; False on a mismatch or an unreadable hash."""
    try:
        return hasher.verify(password_hash, normalize(password))
    except (VerificationError, InvalidHashError):
        # VerifyMismatchError is a VerificationError; a corrupt stored hash
        # must refuse the log-in, never let it through or crash it.
        return False
