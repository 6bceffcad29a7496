"""The codes a person types: TOTP codes (RFC 6238) and recovery codes.

TOTP: SHA-1, 6 digits, 30-second steps, the defaults every authenticator app
reads from an otpauth:// URI. A code is accepted for the current step and
one step either side (RFC 6238 section 5.2: clocks drift and people type
slowly), and only for a step later than the last one accepted, so a code
seen over a shoulder or replayed by a proxy is worth nothing afterwards.

Recovery codes: 16 characters from an alphabet without look-alikes (no 0/O,
1/I/L, nor U), shown as four groups of four: 30^16, about 78 bits each,
enough that a fast hash (SHA-256) of the code is as good as a slow one.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
from typing import Final

import pyotp
import segno

RECOVERY_ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
RECOVERY_COUNT: Final = 10
_GROUPS: Final = 4
_GROUP_SIZE: Final = 4
_RECOVERY_LENGTH: Final = _GROUPS * _GROUP_SIZE
_DIGITS: Final = 6
#: Steps either side of the current one that are still accepted (pyotp's valid_window).
VALID_WINDOW: Final = 1


class CodeKind(enum.Enum):
    TOTP = "totp"
    RECOVERY = "recovery-code"


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits, RFC 4226 section 4)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads (Key URI Format)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as an SVG QR code, for the enrolment page (no external request)."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, border=4))


def classify(code: str) -> tuple[CodeKind, str] | None:
    """What a typed code is, in its canonical form; None when it can be neither."""
    compact = "".join(code.split()).replace("-", "").upper()
    if len(compact) == _DIGITS and compact.isascii() and compact.isdigit():
        return CodeKind.TOTP, compact
    if len(compact) == _RECOVERY_LENGTH and all(c in RECOVERY_ALPHABET for c in compact):
        return CodeKind.RECOVERY, compact
    return None


def accepted_step(secret: str, code: str, *, at: dt.datetime, after: int | None) -> int | None:
    """The time step `code` belongs to, if within the window and later than `after`."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(at)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        step = current + offset
        if after is not None and step <= after:
            continue
        # Constant-time, as pyotp's own verify.
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    return [_recovery_code() for _ in range(RECOVERY_COUNT)]


def _recovery_code() -> str:
    chars = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return "-".join(chars[i : i + _GROUP_SIZE] for i in range(0, _RECOVERY_LENGTH, _GROUP_SIZE))


def recovery_hash(code: str) -> str:
    """SHA-256 (hex) of a recovery code in canonical form (as `classify` gives it)."""
    return hashlib.sha256(code.encode()).hexdigest()
