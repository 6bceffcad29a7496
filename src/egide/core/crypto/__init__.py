"""Égide's cryptographic core: operations on streams and keys, never bare primitives.

- `egs1`: the encrypted blob format (FORMATS.md section 1), `StreamSealer` and
  `StreamOpener`.
- `keys`: the key hierarchy and encrypted names (FORMATS.md section 2).
- `provider`: where master keys live (`KeyProvider`, `FileKeyProvider`), with
  the recovery `escrow` and `recovery` code.
- `errors`: the typed errors raised here.

Every primitive comes from `cryptography` (AES-256-GCM, HKDF-SHA256,
HMAC-SHA256, X25519).
"""
