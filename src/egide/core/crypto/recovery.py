"""The recovery code: the escrow's X25519 private key, written for a person.

    code = base32(private key (32) | first 2 bytes of SHA-256(private key))
           RFC 4648 alphabet, no padding, upper case, 11 groups of 5 joined by "-"

The 16-bit checksum catches a mistyped character before any decryption is
tried, so a typo is reported as a typo and never as a damaged escrow.
Parsing ignores case, spaces and dashes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from cryptography.hazmat.primitives import hashes

from egide.core.crypto.errors import InvalidRecoveryCode
from egide.core.types import Secret

PRIVATE_KEY_SIZE: Final = 32
_CHECKSUM_SIZE: Final = 2
_GROUP: Final = 5
#: 34 bytes are 272 bits, 55 base32 characters: 11 groups of 5.
CODE_LENGTH: Final = 55
_ALPHABET: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

_WRONG_LENGTH: Final = (
    "The recovery code has {count} letters and digits; it should have 55 (11 groups of 5). "
    "Check that you typed every group."
)
_WRONG_CHARACTER: Final = (
    "The recovery code holds characters it never uses ({characters}): it is made of the "
    "letters A to Z and the digits 2 to 7 only. A 0 is the letter O, a 1 the letter I or L, "
    "an 8 the letter B."
)
_MISTYPED: Final = (
    "The recovery code is mistyped: its checksum does not match. Check each group against "
    "your printed copy."
)


def _checksum(key: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(key)
    return digest.finalize()[:_CHECKSUM_SIZE]


def encode_recovery_code(private_key: Secret) -> str:
    """Format a 32-byte private key as a recovery code."""
    raw = private_key.reveal()
    if len(raw) != PRIVATE_KEY_SIZE:
        raise ValueError(f"a recovery key is {PRIVATE_KEY_SIZE} bytes")
    text = base64.b32encode(raw + _checksum(raw)).decode("ascii").rstrip("=")
    return "-".join(text[i : i + _GROUP] for i in range(0, len(text), _GROUP))


def parse_recovery_code(code: str) -> Secret:
    """The private key a recovery code holds; InvalidRecoveryCode when it is mistyped."""
    text = "".join(code.split()).replace("-", "").upper()
    wrong = sorted(set(text) - _ALPHABET)
    if wrong:
        # Only characters outside the alphabet are named: they cannot be part of the key.
        raise InvalidRecoveryCode(_WRONG_CHARACTER, characters=" ".join(wrong))
    if len(text) != CODE_LENGTH:
        raise InvalidRecoveryCode(_WRONG_LENGTH, count=len(text))
    padded = text + "=" * (-len(text) % 8)
    try:
        raw = base64.b32decode(padded)
    except binascii.Error as exc:
        raise InvalidRecoveryCode(_MISTYPED) from exc
    key, checksum = raw[:PRIVATE_KEY_SIZE], raw[PRIVATE_KEY_SIZE:]
    # The last character carries 3 unused bits: a code that does not
    # re-encode to itself was mistyped there, even if the checksum agrees.
    canonical = base64.b32encode(raw).decode("ascii").rstrip("=")
    if checksum != _checksum(key) or canonical != text:
        raise InvalidRecoveryCode(_MISTYPED)
    return Secret(key)
