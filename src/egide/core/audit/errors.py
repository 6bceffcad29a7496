"""Typed errors of the audit core.

    EgideError (egide.core.errors)
    ├── InvalidInput
    │   ├── InvalidEvent          an event that cannot become a leaf      (invalid)
    │   ├── InvalidTreeRequest    a proof asked for outside the tree      (invalid)
    │   ├── InvalidCheckpoint     a checkpoint that cannot be signed      (invalid)
    │   └── InvalidVerifierKey    a verifier key not in the C2SP form     (invalid)
    └── IntegrityError
        └── AuditIntegrityError   the log failed verification             (integrity)
            ├── ProofRejected     an inclusion or consistency proof
            ├── MalformedNote     a signed checkpoint not in the strict form
            ├── UnknownSigner     no signature by the expected key
            └── BadSignature      the signature does not cover this checkpoint

A failed verification is evidence, not a bug to retry: every integrity message
tells the operator to keep the material and report a security incident.
Messages hold sizes, indexes and key names, never event content (which may
carry personal data).
"""

from __future__ import annotations

from egide.core import errors as _core


class InvalidEvent(_core.InvalidInput):
    """An audit event that lacks a required field or has a malformed one (FORMATS.md 3)."""

    code = "audit-invalid-event"


class InvalidTreeRequest(_core.InvalidInput):
    """A proof or a head asked for an entry or a size the tree does not hold."""

    code = "audit-invalid-tree-request"


class InvalidCheckpoint(_core.InvalidInput):
    """A checkpoint the signer refuses: a verifier would reject its note."""

    code = "audit-invalid-checkpoint"


class InvalidVerifierKey(_core.InvalidInput):
    """A verifier key that is not `<name>+<8 hex>+<base64(0x01 | key)>` (FORMATS.md 4)."""

    code = "audit-invalid-verifier-key"


class AuditIntegrityError(_core.IntegrityError):
    """The audit log, a proof or a checkpoint failed verification."""

    code = "audit-integrity"


class ProofRejected(AuditIntegrityError):
    """An inclusion or consistency proof does not lead to the given tree head."""

    code = "audit-proof-rejected"


class MalformedNote(AuditIntegrityError):
    """A signed checkpoint that is not exactly in the C2SP signed-note form."""

    code = "audit-malformed-note"


class UnknownSigner(AuditIntegrityError):
    """The note carries no signature line by the key the verifier trusts."""

    code = "audit-unknown-signer"


class BadSignature(AuditIntegrityError):
    """A signature line by the trusted key that does not verify over the note text."""

    code = "audit-bad-signature"


#: Appended to every integrity message: what the operator must do.
_REPORT = " Keep the material as evidence and report a security incident."

INCLUSION_REJECTED = (
    "The inclusion proof of entry {index} in the tree of {size} entries does not match "
    "the tree head. The audit log or the proof has been altered." + _REPORT
)
CONSISTENCY_REJECTED = (
    "The tree of {second} entries is not an extension of the tree of {first} entries: "
    "the consistency proof does not match the tree heads. The audit log has been "
    "rewritten, or the proof altered." + _REPORT
)
NODE_DAMAGED = (
    "The stored tree node at level {level}, index {index} is not a 32-byte hash. The "
    "audit tables are damaged; restore them from a backup." + _REPORT
)
FRONTIER_MISMATCH = (
    "A compact range of a tree of {size} entries has {expected} hashes, not {count}. The "
    "audit tables, or the export's prefix.json, are damaged; restore them from a "
    "backup." + _REPORT
)
NOTE_MALFORMED = (
    "The signed checkpoint is malformed ({problem}). It must be exactly the C2SP "
    "checkpoint form; it may have been altered in transit." + _REPORT
)
NO_SIGNATURE_BY_KEY = (
    "The signed checkpoint carries no signature by the key {key_name} ({key_hash}). Check "
    "that the verifier key belongs to this log; otherwise the checkpoint is forged." + _REPORT
)
SIGNATURE_FAILED = (
    "The signature by {key_name} does not verify over this checkpoint (origin, size or root "
    "hash changed, or the signature altered)." + _REPORT
)
