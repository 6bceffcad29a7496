#!/usr/bin/env python3
"""Check an Égide audit export bundle, with no Égide code (FORMATS.md sections 3 to 5).

    python3 verify_audit_bundle.py BUNDLE_DIR [--vkey KEY] [--origin ORIGIN]

Needs Python 3.10 or later and the `cryptography` package, nothing else.
It checks, and says exactly what fails:

1. `checkpoint.txt` is signed by the verifier key (`--vkey`, as printed by
   `egide audit key`; without it, `vkey.txt` from the bundle, with a warning:
   a key taken from the bundle itself proves nothing);
2. the checkpoint is of the expected log (`--origin`; default: the key's name);
3. `entries.jsonl` and `proofs.jsonl` are whole: consecutive entries, one
   proof each, no line cut;
4. every entry's inclusion proof (RFC 9162 2.1.3.2) leads from its leaf hash,
   SHA-256(0x00 | the line's bytes), to the checkpoint's root;
5. when the entries run up to the checkpoint's size, `prefix.json` (the
   entries before the first one) and the entries recompute the root.

Exit status: 0 when the bundle verifies, 1 when it does not, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DASH = "\u2014 "


class BundleError(Exception):
    """The bundle does not verify; the message says why."""


@dataclass
class Checkpoint:
    origin: str
    size: int
    root: bytes


@dataclass
class Key:
    name: str
    key_hash: bytes
    public: Ed25519PublicKey


# Hashes, RFC 9162 section 2.1 -----------------------------------------------------


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_ok(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2: does `proof` put the leaf hash at `index` under `root`?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(r, root)


class Frontier:
    """The right edge of a tree: (level, hash) of the complete subtrees covering [0, size)."""

    def __init__(self, size: int, hashes: list[bytes]) -> None:
        levels = [bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]
        if len(levels) != len(hashes):
            raise BundleError(
                f"prefix.json holds {len(hashes)} hashes where entries 0 to {size - 1} need "
                f"{len(levels)}: it was altered."
            )
        self.edge = list(zip(levels, hashes, strict=True))

    def append(self, leaf: bytes) -> None:
        self.edge.append((0, leaf))
        while len(self.edge) > 1 and self.edge[-2][0] == self.edge[-1][0]:
            (level, right), (_, left) = self.edge.pop(), self.edge.pop()
            self.edge.append((level + 1, node_hash(left, right)))

    def root(self) -> bytes:
        head = self.edge[-1][1]
        for _, left in reversed(self.edge[:-1]):
            head = node_hash(left, head)
        return head


# Keys and the signed checkpoint, FORMATS.md section 4 -----------------------------


def b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise BundleError(f"{what} is not valid base64.") from None


def key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]


def parse_vkey(text: str) -> Key:
    parts = text.strip().split("+", 2)  # base64 may hold '+': split at the first two only
    raw = b64(parts[2], "The verifier key") if len(parts) == 3 else b""
    if len(raw) != 33 or raw[0] != 1:
        raise BundleError(
            "The verifier key is not <name>+<8 hex>+<base64 of 0x01 and a 32-byte Ed25519 key>."
        )
    name, given = parts[0], parts[1].lower()
    expected = key_hash(name, raw[1:])
    if given != expected.hex():
        raise BundleError(
            f"The verifier key's hash {given} does not match its name and key ({expected.hex()})."
        )
    return Key(name, expected, Ed25519PublicKey.from_public_bytes(raw[1:]))


def parse_checkpoint(text: str) -> tuple[Checkpoint, str, list[tuple[str, bytes, bytes]]]:
    body, blank, signed = text.rpartition("\n\n")
    lines = (body + "\n").split("\n") if blank else []
    if len(lines) != 4 or not signed.endswith("\n") or not lines[1].isdigit():
        raise BundleError(
            "checkpoint.txt is not a signed checkpoint (origin, size, root, a blank line, "
            "signature lines): it is cut or altered."
        )
    root = b64(lines[2], "The checkpoint's root")
    if len(root) != 32:
        raise BundleError("The checkpoint's root is not a 32-byte hash: it was altered.")
    signatures = []
    for line in signed[:-1].split("\n"):
        name, _, value = line.removeprefix(DASH).partition(" ")
        raw = b64(value, "A signature of checkpoint.txt")
        if not line.startswith(DASH) or len(raw) != 68:
            raise BundleError(f"checkpoint.txt has a malformed signature line: {line!r}.")
        signatures.append((name, raw[:4], raw[4:]))
    return Checkpoint(lines[0], int(lines[1]), root), body + "\n", signatures


def check_signature(text: str, key: Key) -> Checkpoint:
    checkpoint, body, signatures = parse_checkpoint(text)
    ours = [s for n, h, s in signatures if n == key.name and hmac.compare_digest(h, key.key_hash)]
    if not ours:
        others = ", ".join(f"{n} ({h.hex()})" for n, h, _ in signatures)
        raise BundleError(
            f"checkpoint.txt is signed by another key: {others}, not by the verifier key "
            f"{key.name} ({key.key_hash.hex()}). Check that you were given this log's verifier "
            "key; otherwise the checkpoint is forged."
        )
    for signature in ours:
        try:
            key.public.verify(signature, body.encode())
        except InvalidSignature:
            continue
        return checkpoint
    raise BundleError(
        f"The signature by {key.name} does not verify over checkpoint.txt: its origin, size or "
        "root was altered, or the signature."
    )


# The bundle ------------------------------------------------------------------------


def read_text(bundle: Path, name: str) -> str:
    try:
        return (bundle / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleError(
            f"{name} is missing: the bundle is incomplete (an interrupted or truncated export, "
            "or a partial copy). Ask for the bundle again."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"{name} cannot be read: {exc}.") from None


def lines(bundle: Path, name: str) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes without the newline); a last line without newline was cut."""
    try:
        file = (bundle / name).open("rb")
    except FileNotFoundError:
        raise BundleError(
            f"{name} is missing: the bundle is incomplete (an interrupted or truncated "
            "export, or a partial copy). Ask for the bundle again."
        ) from None
    with file:
        for number, line in enumerate(file, start=1):
            if not line.endswith(b"\n"):
                raise BundleError(
                    f"{name} ends in the middle of line {number}: the bundle was truncated."
                )
            yield number, line[:-1]


def parse_json(raw: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("seq", value.get("first")), int):
        raise BundleError(f"{where} is not an audit record (a JSON object with its seq).")
    return value


def hex_hashes(values: Any) -> list[bytes] | None:
    """A JSON list of 32-byte hex hashes, or None."""
    try:
        hashes = [bytes.fromhex(value) for value in values]
    except (TypeError, ValueError):
        return None
    return hashes if all(len(h) == 32 for h in hashes) else None


def verify_bundle(bundle: Path, key: Key, origin: str) -> str:
    """Check everything; return a one-line summary, or raise BundleError."""
    check_directory(bundle)
    if (bundle / ".partial").exists():
        raise BundleError(
            "The bundle holds .partial/: the export was interrupted before it was complete."
        )
    checkpoint = check_signature(read_text(bundle, "checkpoint.txt"), key)
    if checkpoint.origin != origin:
        raise BundleError(
            f"checkpoint.txt is the checkpoint of the log {checkpoint.origin!r}, not of "
            f"{origin!r}: this bundle comes from another log."
        )
    first, last, frontier = check_entries(bundle, checkpoint)
    size = checkpoint.size
    summary = (
        f"entries {first} to {last} ({last - first + 1}) proven in the signed checkpoint of "
        f"{size} entries of {checkpoint.origin}"
    )
    if last != size - 1:
        return (
            summary + f"; the bundle stops before entry {size - 1}, so the head is not recomputed"
        )
    if not hmac.compare_digest(frontier.root(), checkpoint.root):
        raise BundleError(
            "prefix.json and the entries do not recompute the checkpoint's root: prefix.json "
            "was altered."
        )
    return summary + "; the head recomputed from prefix.json and the entries matches"


def check_directory(bundle: Path) -> None:
    if not bundle.is_dir():
        raise BundleError(f"{bundle} is not a directory (give the bundle's directory).")


def check_entries(bundle: Path, checkpoint: Checkpoint) -> tuple[int, int, Frontier]:
    """Each entry against its proof, in step; (first seq, last seq, the tree rebuilt)."""
    proofs = lines(bundle, "proofs.jsonl")
    first, seq, frontier = -1, -1, Frontier(0, [])
    for number, leaf in lines(bundle, "entries.jsonl"):
        entry = parse_json(leaf, f"entries.jsonl line {number}")
        if first < 0:
            first = seq = entry["seq"]
            frontier = start_frontier(bundle, first)
        else:
            seq += 1
        if entry["seq"] != seq:
            raise BundleError(
                f"entries.jsonl lacks entry {seq} (line {number} holds entry {entry['seq']}): "
                "lines are missing or out of order."
            )
        proof_number, raw = next(proofs, (0, b""))
        if not proof_number:
            raise BundleError(f"proofs.jsonl ends before the proof of entry {seq}: truncated.")
        check_entry(leaf, seq, parse_json(raw, f"proofs.jsonl line {proof_number}"), checkpoint)
        frontier.append(leaf_hash(leaf))
    if first < 0:
        raise BundleError("entries.jsonl holds no entry: the bundle is empty or was truncated.")
    extra = next(proofs, None)
    if extra is not None:
        raise BundleError(
            f"proofs.jsonl has a proof (line {extra[0]}) for an entry after {seq} that "
            "entries.jsonl lacks: entries.jsonl was truncated."
        )
    return first, seq, frontier


def check_entry(leaf: bytes, seq: int, record: dict[str, Any], checkpoint: Checkpoint) -> None:
    size = checkpoint.size
    if seq >= size:
        raise BundleError(f"Entry {seq} lies beyond the checkpoint's {size} entries.")
    if record["seq"] != seq or record.get("tree_size") != size:
        raise BundleError(
            f"proofs.jsonl holds no proof of entry {seq} in the tree of {size} entries where "
            "one is due: lines are missing or the two files do not match."
        )
    hashes = hex_hashes(record.get("proof"))
    if hashes is None or not inclusion_ok(leaf_hash(leaf), seq, size, hashes, checkpoint.root):
        raise BundleError(
            f"Entry {seq} was altered: its inclusion proof does not lead from its bytes to "
            "the checkpoint's root (the entry or its proof was changed)."
        )


def start_frontier(bundle: Path, first: int) -> Frontier:
    if first == 0:
        return Frontier(0, [])
    prefix = parse_json(read_text(bundle, "prefix.json").encode(), "prefix.json")
    if prefix.get("first") != first:
        raise BundleError(
            f"entries.jsonl starts at entry {first}, but prefix.json says the export starts "
            f"at {prefix.get('first')}: its first lines are missing."
        )
    hashes = hex_hashes(prefix.get("hashes"))
    if hashes is None:
        raise BundleError("prefix.json holds no list of 32-byte hex hashes: it was altered.")
    return Frontier(first, hashes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="the bundle directory")
    parser.add_argument("--vkey", help="the log's verifier key, from a trusted source")
    parser.add_argument("--origin", help="the log's expected name (default: the key's name)")
    args = parser.parse_args(argv)
    try:
        check_directory(args.bundle)
        if args.vkey is None:
            print(  # noqa: T201 - a command-line tool
                "WARNING: no --vkey given: using vkey.txt from the bundle itself. A key from "
                "the bundle proves nothing, whoever made the bundle chose it: compare it with "
                "the verifier key the log's owner published (egide audit key).",
                file=sys.stderr,
            )
        key = parse_vkey(args.vkey or read_text(args.bundle, "vkey.txt"))
        summary = verify_bundle(args.bundle, key, args.origin or key.name)
    except BundleError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    print(f"OK: {summary}.")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
