"""The recovery escrow: every master key sealed to the recovery public key.

FORMATS.md section 2 (embedded provider). Sealing one master key:

    eph      = a fresh X25519 key pair
    shared   = X25519(eph private, recovery public)
    k        = HKDF-SHA256(ikm=shared, salt=eph public | recovery public,
                           info="egide escrow v1", length=32)
    sealed   = AES-256-GCM(k).encrypt(nonce, master key, aad="egide escrow v1|" + master id)

Only the recovery private key (the recovery code, kept offline) opens it,
so the escrow file can travel with the backups. Escrow file (JSON):

    {"format": "egide escrow", "version": 1,
     "recovery_public_key": b64,
     "master_keys": [{"id", "created", "ephemeral_public_key", "nonce", "sealed"}, ...]}

`created` is informational and unauthenticated; a master key's id is bound
to its key by the associated data.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from egide.core.crypto.errors import IntegrityError
from egide.core.crypto.keyfile import master_number
from egide.core.types import Secret

FORMAT: Final = "egide escrow"
VERSION: Final = 1
_INFO: Final = b"egide escrow v1"
_AAD_PREFIX: Final = b"egide escrow v1|"
_NONCE_SIZE: Final = 12
_KEY_SIZE: Final = 32
_SEALED_SIZE: Final = _KEY_SIZE + 16

ESCROW_MISSING: Final = (
    "The escrow file {path} does not exist. Restore it from a backup (it is safe to keep "
    "with them), then try again."
)
_ESCROW_DAMAGED: Final = (
    "The escrow file {path} is damaged or was altered ({problem}). Use another copy of it, "
    "for instance from a backup."
)


@dataclass(frozen=True)
class EscrowEntry:
    """One master key sealed to the recovery public key."""

    id: str
    created: str
    ephemeral_public_key: bytes
    nonce: bytes
    sealed: bytes


@dataclass(frozen=True)
class Escrow:
    recovery_public_key: bytes
    entries: tuple[EscrowEntry, ...]

    def ids(self) -> list[str]:
        return [entry.id for entry in self.entries]


def _seal_key(shared: bytes, ephemeral_public: bytes, recovery_public: bytes) -> AESGCM:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=_KEY_SIZE,
        salt=ephemeral_public + recovery_public,
        info=_INFO,
    )
    return AESGCM(hkdf.derive(shared))


def seal_master_key(
    recovery_public_key: bytes, master_id: str, master_key: Secret, created: str
) -> EscrowEntry:
    """Seal one master key to the recovery public key (a fresh ephemeral key each time)."""
    recipient = X25519PublicKey.from_public_bytes(recovery_public_key)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    aead = _seal_key(ephemeral.exchange(recipient), ephemeral_public, recovery_public_key)
    nonce = os.urandom(_NONCE_SIZE)
    sealed = aead.encrypt(nonce, master_key.reveal(), _AAD_PREFIX + master_id.encode())
    return EscrowEntry(master_id, created, ephemeral_public, nonce, sealed)


def open_master_key(recovery_private_key: Secret, entry: EscrowEntry, path: Path) -> Secret:
    """The master key of one escrow entry; IntegrityError if the entry was altered."""
    private = X25519PrivateKey.from_private_bytes(recovery_private_key.reveal())
    recovery_public = private.public_key().public_bytes_raw()
    try:
        peer = X25519PublicKey.from_public_bytes(entry.ephemeral_public_key)
        # exchange() refuses low-order points (an all-zero shared secret).
        shared = private.exchange(peer)
        aead = _seal_key(shared, entry.ephemeral_public_key, recovery_public)
        key = aead.decrypt(entry.nonce, entry.sealed, _AAD_PREFIX + entry.id.encode())
    except (InvalidTag, ValueError) as exc:
        raise IntegrityError(
            _ESCROW_DAMAGED, path=str(path), problem=f"master key {entry.id}"
        ) from exc
    return Secret(key)


def public_key_of(recovery_private_key: Secret) -> bytes:
    private = X25519PrivateKey.from_private_bytes(recovery_private_key.reveal())
    return private.public_key().public_bytes_raw()


def dump_escrow(escrow: Escrow) -> bytes:
    def b64(value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")

    document = {
        "format": FORMAT,
        "version": VERSION,
        "recovery_public_key": b64(escrow.recovery_public_key),
        "master_keys": [
            {
                "id": entry.id,
                "created": entry.created,
                "ephemeral_public_key": b64(entry.ephemeral_public_key),
                "nonce": b64(entry.nonce),
                "sealed": b64(entry.sealed),
            }
            for entry in escrow.entries
        ],
    }
    return (json.dumps(document, indent=2) + "\n").encode()


def load_escrow(data: bytes, path: Path) -> Escrow:
    """Parse an escrow file; IntegrityError when it is not one we wrote."""
    try:
        document = json.loads(data)
        return _parse(document)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        # json.JSONDecodeError and UnicodeDecodeError are ValueErrors too.
        raise IntegrityError(_ESCROW_DAMAGED, path=str(path), problem=str(exc)) from exc


def _b64(value: Any, size: int, field: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{field} is not a string")
    raw = base64.b64decode(value, validate=True)
    if len(raw) != size:
        raise ValueError(f"{field} is {len(raw)} bytes, not {size}")
    return raw


def _parse(document: Any) -> Escrow:
    if not isinstance(document, dict):
        raise TypeError("not a JSON object")
    if document.get("format") != FORMAT or document.get("version") != VERSION:
        raise ValueError("not an escrow file of version 1")
    public = _b64(document["recovery_public_key"], _KEY_SIZE, "recovery_public_key")
    entries: list[EscrowEntry] = []
    for item in document["master_keys"]:
        master_id = item["id"]
        if not isinstance(master_id, str):
            raise TypeError("a master key id is not a string")
        master_number(master_id)
        entries.append(
            EscrowEntry(
                id=master_id,
                created=str(item.get("created", "")),
                ephemeral_public_key=_b64(item["ephemeral_public_key"], _KEY_SIZE, "key"),
                nonce=_b64(item["nonce"], _NONCE_SIZE, "nonce"),
                sealed=_b64(item["sealed"], _SEALED_SIZE, "sealed"),
            )
        )
    if len({entry.id for entry in entries}) != len(entries):
        raise ValueError("a master key id appears twice")
    return Escrow(public, tuple(entries))
