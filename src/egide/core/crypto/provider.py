"""Key providers: where master keys live, exposed as operations only.

A provider wraps and unwraps space keys under master keys it never hands
out (as SecureDrop exposes operations, not keys). Rows record the provider's
`name` and the master key id beside each wrapped space key (FORMATS.md
section 2), so a PKCS#11 or Vault transit provider can be added later
without touching the rest.

`FileKeyProvider` is the embedded provider: master keys in a key file
(keyfile.py), each also sealed to an offline recovery key in an escrow file
(escrow.py) whose private part is the recovery code (recovery.py).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Final, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from egide.core.crypto import _files, escrow, keyfile, keys, recovery
from egide.core.crypto.errors import InvalidRecoveryCode, KeyFileExists, KeyUnavailable
from egide.core.types import Secret

__all__ = ["FileKeyProvider", "KeyFileExists", "KeyProvider"]

_UNKNOWN_MASTER: Final = (
    "The master key {master_id} is not in the key file {path}. Restore the key file that "
    "holds it, or rebuild it with `egide keys recover` from the recovery escrow and your "
    "recovery code."
)
_ESCROW_EXISTS: Final = (
    "The escrow file {path} already exists: it may be the only way to recover an existing "
    "vault. If you lost the key file, run `egide keys recover`; otherwise move the escrow "
    "file away first."
)
_FOREIGN_ESCROW: Final = (
    "The escrow file {path} belongs to another vault: its recovery key is not the one of "
    "the key file {key_file}. Point Égide at this vault's escrow file."
)
_NO_AUDIT_KEY: Final = (
    "The key file {path} holds no audit signing key. Check that the file is writable by "
    "this user, then run `egide audit checkpoint` to create one."
)
_FOREIGN_CODE: Final = (
    "This recovery code does not open the escrow file {path}: they belong to different "
    "vaults. Use the code printed when this vault was created."
)


class KeyProvider(Protocol):
    """What the vault needs from a holder of master keys."""

    @property
    def name(self) -> str:
        """Recorded beside each wrapped space key ("file", later "pkcs11", "vault")."""
        ...

    def current_master_id(self) -> str: ...

    def master_ids(self) -> list[str]: ...

    def wrap_space_key(self, space_key_id: str, space_key: Secret) -> tuple[str, bytes]:
        """(master id, wrapped) under the current master key."""
        ...

    def unwrap_space_key(self, master_id: str, space_key_id: str, wrapped: bytes) -> Secret:
        """The space key; IntegrityError if altered, KeyUnavailable for an unknown id."""
        ...

    def check(self) -> None:
        """Raise KeyUnavailable or InsecureKeyFile when the provider is not usable."""
        ...

    def seal_audit_context(self, event_id: str, plain: bytes) -> tuple[str, bytes]:
        """(master id, sealed) of an audit event's personal context, under the current key."""
        ...

    def open_audit_context(self, master_id: str, event_id: str, sealed: bytes) -> bytes:
        """The context's bytes; IntegrityError if altered, KeyUnavailable for an unknown id."""
        ...

    def seal_totp_secret(self, user_id: str, plain: bytes) -> tuple[str, bytes]:
        """(master id, sealed) of a user's TOTP shared secret, under the current key."""
        ...

    def open_totp_secret(self, master_id: str, user_id: str, sealed: bytes) -> bytes:
        """The secret; IntegrityError if altered or moved, KeyUnavailable for an unknown id."""
        ...


class FileKeyProvider:
    """Master keys in a 0600 key file; each also sealed to the recovery key in an escrow."""

    name = "file"

    def __init__(self, key_file: Path, ring: keyfile.KeyRing) -> None:
        """Use `create`, `open` or `recover`; this takes an already validated key ring."""
        self._key_file = key_file
        self._ring = ring
        self._lock = threading.Lock()
        self._seen = _signature(key_file)

    def __repr__(self) -> str:
        return f"FileKeyProvider(key_file={str(self._key_file)!r}, current={self._ring.current!r})"

    # -- life cycle -------------------------------------------------------

    @classmethod
    def create(cls, key_file: Path, escrow_file: Path) -> tuple[FileKeyProvider, str]:
        """A new key file with master key m1, and its escrow; returns the recovery code.

        The code is shown once and never stored. The escrow is written first,
        so a crash between the two writes never leaves a key that is not escrowed.
        """
        if os.path.lexists(key_file):
            raise KeyFileExists(_files.KEY_FILE_EXISTS, path=str(key_file))
        if os.path.lexists(escrow_file):
            # Overwriting it could destroy the only way back into a vault
            # whose key file was lost.
            raise KeyFileExists(_ESCROW_EXISTS, path=str(escrow_file))
        recovery_key = X25519PrivateKey.generate()
        recovery_private = Secret(recovery_key.private_bytes_raw())
        recovery_public = recovery_key.public_key().public_bytes_raw()
        master = keyfile.MasterKey("m1", keys.generate_key(), keyfile.utc_now())
        ring = keyfile.KeyRing(master.id, recovery_public, (master,))
        sealed = escrow.seal_master_key(recovery_public, master.id, master.key, master.created)
        _files.make_private_dir(escrow_file.parent)
        _files.make_private_dir(key_file.parent)
        escrow_data = escrow.dump_escrow(escrow.Escrow(recovery_public, (sealed,)))
        try:
            _files.write_atomic(escrow_file, escrow_data, overwrite=False)
        except KeyFileExists:
            raise KeyFileExists(_ESCROW_EXISTS, path=str(escrow_file)) from None
        try:
            _files.write_atomic(key_file, keyfile.dump_key_file(ring), overwrite=False)
        except KeyFileExists:
            # Another `egide init` won the race: the escrow just written is ours alone.
            escrow_file.unlink()
            raise
        return cls(key_file, ring), recovery.encode_recovery_code(recovery_private)

    @classmethod
    def open(cls, key_file: Path) -> FileKeyProvider:
        """The provider of an existing key file (checked: owner-only mode, well formed)."""
        return cls(key_file, _load(key_file))

    @classmethod
    def recover(cls, escrow_file: Path, recovery_code: str, key_file: Path) -> FileKeyProvider:
        """Rebuild a lost key file from the escrow file and the recovery code.

        Every escrowed master key comes back with its id; the highest becomes
        current, as `add_master_key` always made the newest one current.
        """
        if os.path.lexists(key_file):
            raise KeyFileExists(_files.KEY_FILE_EXISTS, path=str(key_file))
        # The code is checked (checksum) before the escrow is even read.
        private = recovery.parse_recovery_code(recovery_code)
        sealed = _load_escrow(escrow_file)
        if sealed.recovery_public_key != escrow.public_key_of(private):
            raise InvalidRecoveryCode(_FOREIGN_CODE, path=str(escrow_file))
        masters = sorted(
            (
                keyfile.MasterKey(
                    entry.id,
                    escrow.open_master_key(private, entry, escrow_file),
                    entry.created or keyfile.utc_now(),
                )
                for entry in sealed.entries
            ),
            key=lambda master: keyfile.master_number(master.id),
        )
        if not masters:
            raise KeyUnavailable(
                "The escrow file {path} holds no master key.", path=str(escrow_file)
            )
        ring = keyfile.KeyRing(masters[-1].id, sealed.recovery_public_key, tuple(masters))
        _files.make_private_dir(key_file.parent)
        _files.write_atomic(key_file, keyfile.dump_key_file(ring), overwrite=False)
        return cls(key_file, ring)

    def add_master_key(self, escrow_file: Path) -> str:
        """Make a new master key current; returns its id.

        Order matters (FORMATS.md section 2): the new key is sealed into the
        escrow file first, then the key file is rewritten, so a crash in
        between leaves an escrowed key nobody used, never a used key that
        cannot be recovered. Older keys stay, retired, for older rows and backups.
        """
        with self._lock, _files.directory_lock(self._key_file.parent):
            ring = _load(self._key_file)  # another process may have rotated
            sealed = _load_escrow(escrow_file)
            if sealed.recovery_public_key != ring.recovery_public_key:
                raise KeyUnavailable(
                    _FOREIGN_ESCROW, path=str(escrow_file), key_file=str(self._key_file)
                )
            # Ids are never reused: an id left in the escrow by an interrupted
            # rotation is skipped, so no two keys ever share an id, even
            # across old copies of the escrow.
            taken = ring.ids() + sealed.ids()
            new_id = f"m{max(keyfile.master_number(i) for i in taken) + 1}"
            new = keyfile.MasterKey(new_id, keys.generate_key(), keyfile.utc_now())
            new_ring = ring.with_key(new)
            # Keep the escrow in step with the key file: existing entries are
            # kept, a key missing from it is sealed again (the public key suffices).
            public = ring.recovery_public_key
            by_id = {entry.id: entry for entry in sealed.entries}
            for master in ring.keys:
                if master.id not in by_id:
                    by_id[master.id] = escrow.seal_master_key(
                        public, master.id, master.key, master.created
                    )
            by_id[new.id] = escrow.seal_master_key(public, new.id, new.key, new.created)
            entries = sorted(by_id.values(), key=lambda e: keyfile.master_number(e.id))
            escrow_data = escrow.dump_escrow(escrow.Escrow(public, tuple(entries)))
            _files.write_atomic(escrow_file, escrow_data, overwrite=True)
            _files.write_atomic(self._key_file, keyfile.dump_key_file(new_ring), overwrite=True)
            self._ring = new_ring
            return new.id

    # -- KeyProvider ------------------------------------------------------

    def current_master_id(self) -> str:
        return self._current_ring().current

    def master_ids(self) -> list[str]:
        return self._ring.ids()

    def wrap_space_key(self, space_key_id: str, space_key: Secret) -> tuple[str, bytes]:
        ring = self._current_ring()
        master = ring.get(ring.current)
        if master is None:  # KeyRing guarantees it; kept for the type checker
            raise KeyUnavailable(_UNKNOWN_MASTER, master_id=ring.current, path=str(self._key_file))
        return ring.current, keys.wrap_space_key(master, ring.current, space_key_id, space_key)

    def unwrap_space_key(self, master_id: str, space_key_id: str, wrapped: bytes) -> Secret:
        return keys.unwrap_space_key(self._master(master_id), master_id, space_key_id, wrapped)

    def check(self) -> None:
        _load(self._key_file)

    def seal_audit_context(self, event_id: str, plain: bytes) -> tuple[str, bytes]:
        ring = self._current_ring()
        master = self._master(ring.current)
        return ring.current, keys.seal_audit_context(master, ring.current, event_id, plain)

    def open_audit_context(self, master_id: str, event_id: str, sealed: bytes) -> bytes:
        return keys.open_audit_context(self._master(master_id), master_id, event_id, sealed)

    def seal_totp_secret(self, user_id: str, plain: bytes) -> tuple[str, bytes]:
        ring = self._current_ring()
        master = self._master(ring.current)
        return ring.current, keys.seal_totp_secret(master, ring.current, user_id, plain)

    def open_totp_secret(self, master_id: str, user_id: str, sealed: bytes) -> bytes:
        return keys.open_totp_secret(self._master(master_id), master_id, user_id, sealed)

    # -- audit signing key ------------------------------------------------

    def ensure_audit_key(self) -> bool:
        """Add an Ed25519 audit signing key to the key file if it has none; True if added.

        Key files made before checkpoints existed have none: `egide init` calls
        this, and so does the first signature. The file is read again under the
        directory lock, so two processes never make two keys.
        """
        if self._ring.audit_key is not None:
            return False
        try:
            with self._lock, _files.directory_lock(self._key_file.parent):
                ring = _load(self._key_file)
                added = ring.audit_key is None
                if added:
                    seed = Ed25519PrivateKey.generate().private_bytes_raw()
                    audit_key = keyfile.AuditSigningKey(Secret(seed), keyfile.utc_now())
                    ring = ring.with_audit_key(audit_key)
                    data = keyfile.dump_key_file(ring)
                    _files.write_atomic(self._key_file, data, overwrite=True)
                self._ring = ring
                return added
        except OSError as exc:
            # A read-only key file or directory: say what to fix, not a traceback.
            raise KeyUnavailable(_NO_AUDIT_KEY, path=str(self._key_file)) from exc

    def audit_public_key(self) -> bytes:
        """The 32-byte Ed25519 public key that verifies audit checkpoints."""
        return self._audit_private_key().public_key().public_bytes_raw()

    def sign_audit(self, message: bytes) -> bytes:
        """An Ed25519 signature of `message` by the audit key (which never leaves here)."""
        return self._audit_private_key().sign(message)

    def _audit_private_key(self) -> Ed25519PrivateKey:
        self.ensure_audit_key()
        audit_key = self._ring.audit_key
        if audit_key is None:  # ensure_audit_key guarantees it; kept for the type checker
            raise KeyUnavailable(_NO_AUDIT_KEY, path=str(self._key_file))
        return Ed25519PrivateKey.from_private_bytes(audit_key.seed.reveal())

    def _current_ring(self) -> keyfile.KeyRing:
        """The key ring, read again if the key file changed since it was read.

        `egide keys rotate` in another process (the command line, while the
        server runs) makes a new master key current, often because the old
        one may have been copied: a running server must seal nothing new
        under the retired key. One `stat` per new secret sealed tells.
        """
        seen = _signature(self._key_file)
        if seen is not None and seen != self._seen:
            with self._lock:
                self._ring = _load(self._key_file)
                self._seen = seen
        return self._ring

    def _master(self, master_id: str) -> Secret:
        master = self._ring.get(master_id)
        if master is None:
            # A rotation by another process (`egide keys rotate`) adds keys to
            # the file after this one loaded it: read it again once.
            with self._lock:
                self._ring = _load(self._key_file)
            master = self._ring.get(master_id)
        if master is None:
            raise KeyUnavailable(_UNKNOWN_MASTER, master_id=master_id, path=str(self._key_file))
        return master


def _load(key_file: Path) -> keyfile.KeyRing:
    return keyfile.load_key_file(_files.read_private(key_file), key_file)


def _signature(key_file: Path) -> tuple[int, int, int] | None:
    """What changes when the key file is rewritten (always by a rename: a new inode)."""
    try:
        status = key_file.stat()
    except OSError:
        return None  # gone: reading it says so, where a key is needed
    return status.st_ino, status.st_mtime_ns, status.st_size


def _load_escrow(escrow_file: Path) -> escrow.Escrow:
    data = _files.read_plain(escrow_file, escrow.ESCROW_MISSING)
    return escrow.load_escrow(data, escrow_file)
