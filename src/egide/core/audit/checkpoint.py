"""Signed checkpoints: a C2SP tlog-checkpoint in a C2SP signed note (FORMATS.md section 4).

    <origin>\\n<size>\\n<base64 root>\\n\\n— <key name> <base64(key hash | signature)>\\n

The signature (Ed25519) covers the three body lines. Parsing is strict: an
auditor's tool written from FORMATS.md alone must reach the same verdict as
ours, so anything outside the exact form (CR, an extra or missing line,
non-canonical base64 or decimal, trailing bytes) is rejected rather than
repaired. A note may carry several signature lines (C2SP allows cosigners);
only the lines by the trusted key matter, and one of them must verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from egide.core.audit import errors
from egide.core.audit.merkle import HASH_SIZE

#: The C2SP signed-note algorithm byte for Ed25519.
ED25519 = 0x01
KEY_HASH_SIZE = 4
SIGNATURE_SIZE = 64
#: C2SP signed-note lets verifiers bound the signatures they look at.
MAX_SIGNATURES = 100
_DASH = "\u2014 "
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_HEX8 = re.compile(r"[0-9a-f]{8}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Checkpoint:
    """What a log commits to: its origin, a tree size and that tree's head."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        """The signed text: three lines, each ending in a newline."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


@dataclass(frozen=True)
class VerifierKey:
    """A parsed `<name>+<key hash>+<base64(0x01 | public key)>`."""

    name: str
    key_hash: bytes
    public_key: Ed25519PublicKey


@dataclass(frozen=True)
class Signature:
    """One signature line of a note, not yet verified."""

    key_name: str
    key_hash: bytes
    signature: bytes


@dataclass(frozen=True)
class SignedNote:
    """A note checked for form: its checkpoint and its signature lines, in order."""

    checkpoint: Checkpoint
    signatures: tuple[Signature, ...]


def key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    """First 4 bytes of SHA-256(name | 0x0A | 0x01 | public key): names a key in a note."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + _raw(public_key)).digest()
    return digest[:KEY_HASH_SIZE]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The verifier key an auditor is given (FORMATS.md 5, `vkey.txt`)."""
    if not _valid_key_name(name):
        raise errors.InvalidVerifierKey(_BAD_KEY_NAME, name=name)
    encoded = base64.b64encode(bytes([ED25519]) + _raw(public_key)).decode()
    return f"{name}+{key_hash(name, public_key).hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> VerifierKey:
    """Split at the first two `+` only (base64 may hold `+`) and check the key hash."""
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise errors.InvalidVerifierKey(_VKEY_FORM)
    name, hash_hex, encoded = parts
    if not _valid_key_name(name):
        raise errors.InvalidVerifierKey(_BAD_KEY_NAME, name=name)
    raw = _b64(encoded)
    if raw is None or len(raw) != 33 or raw[0] != ED25519 or not _HEX8.fullmatch(hash_hex):
        raise errors.InvalidVerifierKey(_VKEY_FORM)
    try:
        public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    except ValueError:
        raise errors.InvalidVerifierKey(_VKEY_FORM) from None
    expected = key_hash(name, public_key)
    if not hmac.compare_digest(bytes.fromhex(hash_hex), expected):
        raise errors.InvalidVerifierKey(
            "The verifier key's hash {given} does not match its name and public key "
            "(expected {expected}); copy the verifier key again from its source.",
            given=hash_hex,
            expected=expected.hex(),
        )
    return VerifierKey(name, expected, public_key)


def sign(checkpoint: Checkpoint, key_name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note. Ed25519 is deterministic: the same inputs give the same note."""
    return sign_with(checkpoint, key_name, private_key.public_key(), private_key.sign)


def sign_with(
    checkpoint: Checkpoint,
    key_name: str,
    public_key: Ed25519PublicKey,
    signer: Callable[[bytes], bytes],
) -> str:
    """The signed note, the signature made by `signer` (a key provider keeps the private key)."""
    if not _valid_key_name(key_name):
        raise errors.InvalidVerifierKey(_BAD_KEY_NAME, name=key_name)
    body = checkpoint.body()
    try:
        parse_body(body)  # never sign what a verifier would reject
    except errors.MalformedNote as exc:
        raise errors.InvalidCheckpoint(
            "This checkpoint cannot be signed: its origin must be one non-empty line without "
            "surrounding spaces, its size 0 or more, and its root a 32-byte hash."
        ) from exc
    signature = key_hash(key_name, public_key) + signer(body.encode())
    return f"{body}\n{_DASH}{key_name} {base64.b64encode(signature).decode()}\n"


def parse_note(text: str) -> SignedNote:
    """The checkpoint and signature lines of a note, checked for form only (no signature)."""
    if _CONTROL.search(text):
        _malformed("a control character other than a newline (a CR, a tab)")
    body, separator, signed = text.rpartition("\n\n")
    if not separator:
        _malformed("no blank line before the signatures")
    if not signed.endswith("\n"):
        _malformed("the last signature line does not end in a newline")
    lines = signed[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        _malformed("more than 100 signature lines")
    return SignedNote(parse_body(body + "\n"), tuple(_parse_signature(line) for line in lines))


def parse_body(body: str) -> Checkpoint:
    """The three checkpoint lines: origin, canonical decimal size, canonical base64 root."""
    lines = body.split("\n")
    if len(lines) != 4 or lines[3] != "":
        _malformed("the checkpoint must be exactly three lines")
    origin, size, encoded = lines[:3]
    if not origin or origin != origin.strip() or _CONTROL.search(origin):
        _malformed("the origin line is empty or has surrounding spaces")
    if not _DECIMAL.fullmatch(size) or int(size) >= 1 << 63:
        _malformed("the tree size is not a decimal number without leading zeros")
    root = _b64(encoded)
    if root is None or len(root) != HASH_SIZE:
        _malformed("the root hash is not the canonical base64 of 32 bytes")
    return Checkpoint(origin, int(size), root)


def verify_note(text: str, vkey: str | VerifierKey) -> Checkpoint:
    """The checkpoint of a note that the trusted key signed; raise otherwise."""
    key = parse_verifier_key(vkey) if isinstance(vkey, str) else vkey
    note = parse_note(text)
    ours = [
        line
        for line in note.signatures
        if line.key_name == key.name and hmac.compare_digest(line.key_hash, key.key_hash)
    ]
    if not ours:
        raise errors.UnknownSigner(
            errors.NO_SIGNATURE_BY_KEY, key_name=key.name, key_hash=key.key_hash.hex()
        )
    signed = note.checkpoint.body().encode()
    for line in ours:
        try:
            key.public_key.verify(line.signature, signed)
        except InvalidSignature:
            continue
        return note.checkpoint
    raise errors.BadSignature(errors.SIGNATURE_FAILED, key_name=key.name)


_VKEY_FORM = (
    "A verifier key must read <name>+<key hash, 8 hex>+<base64 of 0x01 and the 32-byte "
    "Ed25519 public key>; copy it again from its source."
)
_BAD_KEY_NAME = (
    "The key name '{name}' is not valid: it must be non-empty, without spaces or '+'; "
    "check the name the log was configured with."
)


def _parse_signature(line: str) -> Signature:
    if not line.startswith(_DASH):
        _malformed("a signature line does not start with an em dash and a space")
    name, space, encoded = line[len(_DASH) :].partition(" ")
    if not space or " " in encoded:
        _malformed("a signature line is not a key name and one base64 value")
    if not _valid_key_name(name):
        raise errors.MalformedNote(_BAD_KEY_NAME, name=name)
    raw = _b64(encoded)
    if raw is None:
        _malformed("a signature is not canonical base64")
    if len(raw) < KEY_HASH_SIZE + 1:
        _malformed("a signature is too short")
    return Signature(name, raw[:KEY_HASH_SIZE], raw[KEY_HASH_SIZE:])


def _valid_key_name(name: str) -> bool:
    """C2SP signed-note: non-empty, no Unicode space, no `+`."""
    return (
        bool(name)
        and "+" not in name
        and not any(c.isspace() for c in name)
        and (not _CONTROL.search(name))
    )


def _b64(value: str) -> bytes | None:
    """Standard base64 with padding, canonical only (one value, one encoding); None if not."""
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        return None
    return raw if base64.b64encode(raw).decode() == value else None


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _malformed(problem: str) -> NoReturn:
    raise errors.MalformedNote(errors.NOTE_MALFORMED, problem=problem)
