"""The key hierarchy and encrypted names (FORMATS.md section 2).

    master key  -> wraps space keys   aad "egide space key v1|<master id>|<space key id>"
    space key   -> wraps DEKs         aad "egide dek v1|<space key id>|<blob key>"
                -> name key (HKDF "egide names v1") seals names, aad "egide name v1|<node id>"
                -> index key (HKDF "egide name index v1") gives the blind name index
    master key  -> audit context key (HKDF "egide audit context v1") seals the
                   personal context of audit events,
                   aad "egide audit context v1|<master id>|<event id>"
    master key  -> TOTP secret key (HKDF "egide totp secret v1") seals each
                   user's TOTP shared secret, aad "egide totp secret v1|<master id>|<user id>"

Every wrapped value is nonce (12) | AES-256-GCM ciphertext and tag. The ids
in the associated data bind a wrapped key to its row: a wrapped DEK copied to
another blob's row, or a name moved to another node, fails to open.
"""

from __future__ import annotations

import os
import unicodedata
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from egide.core.crypto.errors import IntegrityError
from egide.core.types import Secret

KEY_SIZE: Final = 32
NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
WRAPPED_KEY_SIZE: Final = NONCE_SIZE + KEY_SIZE + TAG_SIZE

_SPACE_KEY_AAD: Final = "egide space key v1|{master_id}|{space_key_id}"
_DEK_AAD: Final = "egide dek v1|{space_key_id}|{blob_key}"
_NAME_AAD: Final = b"egide name v1|"
_NAME_KEY_INFO: Final = b"egide names v1"
_INDEX_KEY_INFO: Final = b"egide name index v1"
_CONTEXT_KEY_INFO: Final = b"egide audit context v1"
_CONTEXT_AAD: Final = "egide audit context v1|{master_id}|{event_id}"
_TOTP_KEY_INFO: Final = b"egide totp secret v1"
_TOTP_AAD: Final = "egide totp secret v1|{master_id}|{user_id}"

_WRAP_FAILED: Final = (
    "A stored key failed its integrity check ({what}). The database row may have been "
    "altered or restored against the wrong key file; restore it from a backup."
)
_CONTEXT_FAILED: Final = (
    "The personal context of audit event {event_id} failed its integrity check. The "
    "row may have been altered or moved; restore it from a backup."
)
_TOTP_FAILED: Final = (
    "The second-factor secret of user {user_id} failed its integrity check. The row may "
    "have been altered or moved; restore it from a backup, or remove the factor and enrol "
    "it again."
)
_NAME_FAILED: Final = (
    "A stored name failed its integrity check (node {node_id}). The database row may "
    "have been altered; restore it from a backup."
)


def generate_key() -> Secret:
    """A fresh 32-byte key (master key, space key or DEK)."""
    return Secret(os.urandom(KEY_SIZE))


def _aead(key: Secret) -> AESGCM:
    if len(key) != KEY_SIZE:
        raise ValueError(f"keys of the hierarchy are {KEY_SIZE} bytes")
    return AESGCM(key.reveal())


def _wrap(kek: Secret, key: Secret, aad: bytes, nonce: bytes | None) -> bytes:
    if len(key) != KEY_SIZE:
        raise ValueError(f"keys of the hierarchy are {KEY_SIZE} bytes")
    # Random 96-bit nonces: a key wraps few values (one per space key or
    # blob), far below the 2^32 messages NIST SP 800-38D allows per key.
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"a nonce is {NONCE_SIZE} bytes")
    return nonce + _aead(kek).encrypt(nonce, key.reveal(), aad)


def _unwrap(kek: Secret, wrapped: bytes, aad: bytes, what: str) -> Secret:
    if len(wrapped) != WRAPPED_KEY_SIZE:
        raise IntegrityError(_WRAP_FAILED, what=what)
    view = memoryview(wrapped)
    try:
        return Secret(_aead(kek).decrypt(view[:NONCE_SIZE], view[NONCE_SIZE:], aad))
    except InvalidTag as exc:
        raise IntegrityError(_WRAP_FAILED, what=what) from exc


def wrap_space_key(
    master: Secret,
    master_id: str,
    space_key_id: str,
    space_key: Secret,
    *,
    nonce: bytes | None = None,
) -> bytes:
    """nonce | AES-256-GCM(master) of the space key, bound to both ids."""
    aad = _SPACE_KEY_AAD.format(master_id=master_id, space_key_id=space_key_id)
    return _wrap(master, space_key, aad.encode(), nonce)


def unwrap_space_key(master: Secret, master_id: str, space_key_id: str, wrapped: bytes) -> Secret:
    aad = _SPACE_KEY_AAD.format(master_id=master_id, space_key_id=space_key_id)
    return _unwrap(master, wrapped, aad.encode(), f"space key {space_key_id}")


def wrap_dek(
    space_key: Secret,
    space_key_id: str,
    blob_key: str,
    dek: Secret,
    *,
    nonce: bytes | None = None,
) -> bytes:
    """nonce | AES-256-GCM(space key) of a blob's DEK, bound to the key id and blob key."""
    aad = _DEK_AAD.format(space_key_id=space_key_id, blob_key=blob_key)
    return _wrap(space_key, dek, aad.encode(), nonce)


def unwrap_dek(space_key: Secret, space_key_id: str, blob_key: str, wrapped: bytes) -> Secret:
    aad = _DEK_AAD.format(space_key_id=space_key_id, blob_key=blob_key)
    return _unwrap(space_key, wrapped, aad.encode(), f"data key of blob {blob_key}")


def _seal_derived(master: Secret, info: bytes, aad: bytes, plain: bytes) -> bytes:
    """nonce | AES-256-GCM of `plain` under HKDF(master, `info`): a key per use."""
    nonce = os.urandom(NONCE_SIZE)
    return nonce + AESGCM(_derive(master, info)).encrypt(nonce, plain, aad)


def _open_derived(master: Secret, info: bytes, aad: bytes, sealed: bytes) -> bytes | None:
    """The plaintext of `_seal_derived`, or None when it fails its integrity check."""
    if len(sealed) < NONCE_SIZE + TAG_SIZE:
        return None
    view = memoryview(sealed)
    try:
        return AESGCM(_derive(master, info)).decrypt(view[:NONCE_SIZE], view[NONCE_SIZE:], aad)
    except InvalidTag:
        return None


def seal_audit_context(master: Secret, master_id: str, event_id: str, plain: bytes) -> bytes:
    """nonce | AES-256-GCM of an audit event's context, under a key derived from the master.

    A key of its own (HKDF), not the master key itself, so the master key
    keeps wrapping space keys only; bound to both ids, so a context moved to
    another event or relabelled with another master id fails to open.
    Master keys are escrowed, so contexts survive the loss of the key file.
    """
    aad = _CONTEXT_AAD.format(master_id=master_id, event_id=event_id).encode()
    return _seal_derived(master, _CONTEXT_KEY_INFO, aad, plain)


def open_audit_context(master: Secret, master_id: str, event_id: str, sealed: bytes) -> bytes:
    aad = _CONTEXT_AAD.format(master_id=master_id, event_id=event_id).encode()
    plain = _open_derived(master, _CONTEXT_KEY_INFO, aad, sealed)
    if plain is None:
        raise IntegrityError(_CONTEXT_FAILED, event_id=event_id)
    return plain


def seal_totp_secret(master: Secret, master_id: str, user_id: str, plain: bytes) -> bytes:
    """nonce | AES-256-GCM of a user's TOTP shared secret (issue 5).

    The server must read the secret back to check codes, so it cannot be
    hashed; a key of its own (HKDF) keeps it apart from the other uses of the
    master key, and the user id in the associated data stops a sealed secret
    copied onto another user's row from opening there.
    """
    aad = _TOTP_AAD.format(master_id=master_id, user_id=user_id).encode()
    return _seal_derived(master, _TOTP_KEY_INFO, aad, plain)


def open_totp_secret(master: Secret, master_id: str, user_id: str, sealed: bytes) -> bytes:
    aad = _TOTP_AAD.format(master_id=master_id, user_id=user_id).encode()
    plain = _open_derived(master, _TOTP_KEY_INFO, aad, sealed)
    if plain is None:
        raise IntegrityError(_TOTP_FAILED, user_id=user_id)
    return plain


def normalize_name(name: str) -> str:
    """The stored form of a name: Unicode NFC, so "é" typed either way is one name."""
    return unicodedata.normalize("NFC", name)


def fold_name(name: str) -> str:
    """The compared form of a name: casefold(NFC(name)), so Straße and STRASSE collide."""
    return normalize_name(name).casefold()


def _derive(space_key: Secret, info: bytes) -> bytes:
    if len(space_key) != KEY_SIZE:
        raise ValueError(f"keys of the hierarchy are {KEY_SIZE} bytes")
    # No salt (RFC 5869 section 3.1: the space or master key is already uniformly random).
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=info)
    return hkdf.derive(space_key.reveal())


class NameCipher:
    """Seals and opens the file and folder names of one space, and computes their index."""

    __slots__ = ("_index_key", "_name_aead")

    def __init__(self, space_key: Secret) -> None:
        self._name_aead = AESGCM(_derive(space_key, _NAME_KEY_INFO))
        self._index_key = Secret(_derive(space_key, _INDEX_KEY_INFO))

    def __repr__(self) -> str:
        return "NameCipher(***)"

    def seal(self, node_id: str, name: str, *, nonce: bytes | None = None) -> bytes:
        """nonce | AES-256-GCM(name key) of NFC(name) as UTF-8, bound to the node id."""
        nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
        if len(nonce) != NONCE_SIZE:
            raise ValueError(f"a nonce is {NONCE_SIZE} bytes")
        plain = normalize_name(name).encode()
        return nonce + self._name_aead.encrypt(nonce, plain, _NAME_AAD + node_id.encode())

    def open(self, node_id: str, stored: bytes) -> str:
        if len(stored) < NONCE_SIZE + TAG_SIZE:
            raise IntegrityError(_NAME_FAILED, node_id=node_id)
        view = memoryview(stored)
        try:
            plain = self._name_aead.decrypt(
                view[:NONCE_SIZE], view[NONCE_SIZE:], _NAME_AAD + node_id.encode()
            )
            return plain.decode()
        except (InvalidTag, UnicodeDecodeError) as exc:
            raise IntegrityError(_NAME_FAILED, node_id=node_id) from exc

    def index(self, parent_id: str, name: str) -> str:
        """Blind index: HMAC-SHA256(index key, parent id "/" casefold(NFC(name))), hex.

        Unique per folder in the database, it refuses a second "STRASSE.TXT"
        beside "Straße.txt" without storing either name in clear.
        """
        message = f"{parent_id}/{fold_name(name)}".encode()
        mac = hmac.HMAC(self._index_key.reveal(), hashes.SHA256())
        mac.update(message)
        return mac.finalize().hex()
