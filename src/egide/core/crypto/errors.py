"""Typed errors of the crypto core.

    EgideError (egide.core.errors)
    ├── InvalidInput
    │   └── InvalidRecoveryCode   mistyped or foreign recovery code       (invalid)
    ├── Conflict
    │   └── KeyFileExists         init/recover would overwrite key material (conflict)
    ├── Unavailable
    │   └── KeyUnavailable        key file missing, unreadable, damaged;
    │                             unknown master key id                   (unavailable)
    ├── InsecureKeyFile           key file readable by group or others    (unavailable)
    └── IntegrityError
        └── IntegrityError        a blob, wrapped key, stored name or
                                  escrow failed authentication            (integrity)

Messages never hold key material, plaintext or file names: only paths the
operator configured, key ids and segment indexes.
"""

from __future__ import annotations

from egide.core import errors as _core


class IntegrityError(_core.IntegrityError):
    """Stored data (blob, wrapped key, name, escrow) failed authentication."""

    code = "integrity"


class KeyUnavailable(_core.Unavailable):
    """The key provider cannot serve a key: file missing, unreadable or damaged."""

    code = "key-unavailable"


class InsecureKeyFile(_core.EgideError):
    """The key file is readable or writable by other users (`st_mode & 0o077`)."""

    kind = _core.ErrorKind.UNAVAILABLE
    code = "insecure-key-file"


class InvalidRecoveryCode(_core.InvalidInput):
    """A recovery code that is mistyped or does not belong to the escrow file."""

    code = "invalid-recovery-code"


class KeyFileExists(_core.Conflict):
    """Creating or recovering key material would overwrite an existing file."""

    code = "key-file-exists"


#: The one message for a blob that fails authentication (FORMATS.md section 1).
SEGMENT_FAILED = (
    "The stored content failed its integrity check (segment {index}). It may have been "
    "altered or damaged; restore it from a backup or an earlier version."
)
#: Header-level failures: checks made before any segment is read.
BLOB_REJECTED = (
    "The stored content failed its integrity check ({problem}). It may have been "
    "altered or damaged; restore it from a backup or an earlier version."
)
