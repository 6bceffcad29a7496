"""The pure core of the tamper-evident audit log: no database, no service.

- `leaves`: the canonical leaf bytes of an event and the context hash
  (FORMATS.md section 3).
- `merkle`: the RFC 9162 tree over stored complete-subtree nodes: the
  `Frontier` the sequencer appends to, proofs read through a `get(level,
  index)` callback, their verification, compact ranges (section 5's
  `prefix.json`), and `MemoryTree`.
- `checkpoint`: C2SP checkpoints in signed notes, Ed25519 (section 4).
- `errors`: the typed errors raised here.

It imports only the standard library, `cryptography` and `egide.core.errors`,
so the database layer, the export tool and an auditor's script can all use it.
"""
