"""The audit log's Merkle tree, exactly RFC 9162 section 2.1 (Certificate Transparency v2).

The log holds millions of entries in a database, so nothing here walks the
leaves. The tree is kept as **complete-subtree nodes**: node (level, index)
is the hash of leaves [index·2^level, (index+1)·2^level), written once when
its last leaf arrives and never changed after (level 0 is the leaf hash).

- A `Frontier` (RFC 9162's compact range of [0, n)) follows the right edge:
  an append returns the nodes it completed, O(log n), for the caller to store.
- Proofs and past heads read stored nodes only, through `get(level, index)`,
  O(log n) reads each: the incomplete right part of a tree of any size N is
  the fold of the complete subtrees that cover it. Since complete nodes never
  change, the same rows serve every past tree size.
- Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step; it
  never recomputes a tree, so an auditor needs only the proof.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from egide.core.audit import errors

HASH_SIZE = 32
#: MTH of no leaves: SHA-256 of the empty string (RFC 9162 section 2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: Reads a stored complete-subtree node: `get(level, index)` -> 32 bytes.
NodeReader = Callable[[int, int], bytes]


@dataclass(frozen=True, slots=True)
class Node:
    """A complete subtree: the hash of leaves [index·2^level, (index+1)·2^level)."""

    level: int
    index: int
    hash: bytes


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 | leaf): the prefix keeps a leaf from passing for a node."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 | left | right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over all leaf hashes, by the recursive definition of RFC 9162 2.1.1.

    The reference definition, kept apart from the node-based code so tests can
    hold one against the other; use it for small trees only.
    """

    def mth(start: int, end: int) -> bytes:
        if end - start == 1:
            return leaf_hashes[start]
        k = _split(end - start)
        return node_hash(mth(start, start + k), mth(start + k, end))

    return EMPTY_ROOT if not leaf_hashes else mth(0, len(leaf_hashes))


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 9162 cuts a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def covering_nodes(start: int, end: int) -> list[tuple[int, int]]:
    """The (level, index) of the largest aligned complete subtrees covering [start, end).

    Left to right. For start = 0 this is the compact range of a tree of `end`
    leaves; for the ranges RFC 9162's recursion visits (start a multiple of a
    power of two at least end - start), folding their hashes gives the range's MTH.
    """
    nodes: list[tuple[int, int]] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            level = min(level, (start & -start).bit_length() - 1)
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def _read(get: NodeReader, level: int, index: int) -> bytes:
    value = get(level, index)
    if len(value) != HASH_SIZE:
        raise errors.AuditIntegrityError(errors.NODE_DAMAGED, level=level, index=index)
    return value


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Right-to-left fold: how RFC 9162 combines the subtrees of a right edge."""
    head = hashes[-1]
    for left in reversed(hashes[:-1]):
        head = node_hash(left, head)
    return head


def _range_hash(start: int, end: int, get: NodeReader) -> bytes:
    """MTH of leaves [start, end), for ranges of RFC 9162's recursion (start aligned)."""
    return _fold([_read(get, level, index) for level, index in covering_nodes(start, end)])


def compact_range(size: int, get: NodeReader) -> list[bytes]:
    """Roots of the complete subtrees covering entries 0 .. size-1 (FORMATS.md 5, prefix.json)."""
    _check_size(size)
    return [_read(get, level, index) for level, index in covering_nodes(0, size)]


def tree_head(size: int, get: NodeReader) -> bytes:
    """MTH of the first `size` entries from stored nodes: the head of any past size."""
    _check_size(size)
    return EMPTY_ROOT if size == 0 else _range_hash(0, size, get)


def root_from_range(
    range_hashes: Sequence[bytes], size: int, following_leaf_hashes: Iterable[bytes]
) -> bytes:
    """The head of a tree rebuilt from a compact range of `size` entries plus later leaves.

    How an auditor checks an export that does not start at entry 0: the
    prefix's hashes stand for the entries it does not hold.
    """
    frontier = Frontier.from_hashes(size, range_hashes)
    for leaf in following_leaf_hashes:
        frontier.append(leaf)
    return frontier.root()


def _check_size(size: int) -> None:
    if size < 0:
        raise errors.InvalidTreeRequest(
            "A tree cannot have {size} entries; ask for a size of 0 or more.", size=size
        )


def _check_hash(value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise errors.InvalidTreeRequest(
            "A tree hash has 32 bytes, not {length}; pass a SHA-256 digest.", length=len(value)
        )


# Generation: RFC 9162 2.1.3.1 (PATH) and 2.1.4.1 (SUBPROOF), over stored nodes ------------


def inclusion_proof(index: int, size: int, get: NodeReader) -> list[bytes]:
    """PATH(index, D[0:size]), leaf side first, reading O(log size) stored nodes."""
    if not 0 <= index < size:
        raise errors.InvalidTreeRequest(
            "Entry {index} is not in a tree of {size} entries; ask for an entry below the "
            "tree size.",
            index=index,
            size=size,
        )
    path: list[bytes] = []
    start, n, m = 0, size, index
    while n > 1:
        k = _split(n)
        if m < k:
            path.append(_range_hash(start + k, start + n, get))
            n = k
        else:
            path.append(_range_hash(start, start + k, get))
            start, n, m = start + k, n - k, m - k
    path.reverse()
    return path


def consistency_proof(first: int, second: int, get: NodeReader) -> list[bytes]:
    """PROOF(first, D[0:second]), reading O(log second) stored nodes.

    Empty when first is 0 or equals second (nothing to prove, RFC 9162 2.1.4.1).
    """
    if not 0 <= first <= second:
        raise errors.InvalidTreeRequest(
            "No consistency proof goes from a tree of {first} entries to one of {second}; "
            "the first size must be between 0 and the second.",
            first=first,
            second=second,
        )
    if first in {0, second}:
        return []
    proof: list[bytes] = []
    start, n, m, whole = 0, second, first, True
    while m != n:
        k = _split(n)
        if m <= k:
            proof.append(_range_hash(start + k, start + n, get))
            n = k
        else:
            proof.append(_range_hash(start, start + k, get))
            start, n, m, whole = start + k, n - k, m - k, False
    if not whole:
        proof.append(_range_hash(start, start + n, get))
    proof.reverse()
    return proof


# Verification: RFC 9162 2.1.3.2 and 2.1.4.2 -------------------------------------------


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], head: bytes
) -> None:
    """Raise `ProofRejected` unless `proof` puts `leaf` (a leaf hash) at `index` under `head`."""
    if not 0 <= index < size or not _well_formed(leaf, head, *proof):
        raise errors.ProofRejected(errors.INCLUSION_REJECTED, index=index, size=size)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise errors.ProofRejected(errors.INCLUSION_REJECTED, index=index, size=size)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or not hmac.compare_digest(r, head):
        raise errors.ProofRejected(errors.INCLUSION_REJECTED, index=index, size=size)


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise `ProofRejected` unless the tree of `second` entries extends that of `first`.

    RFC 9162 2.1.4.2 starts from a non-empty proof; the two cases it leaves out
    are settled as its section 2.1.4.1 defines them: equal sizes need an empty
    proof and equal heads, and the empty tree (an empty proof) precedes any tree.
    """
    if not 0 <= first <= second or not _well_formed(first_root, second_root, *proof):
        raise errors.ProofRejected(errors.CONSISTENCY_REJECTED, first=first, second=second)
    if first in {0, second}:
        expected = second_root if first else EMPTY_ROOT
        if proof or not hmac.compare_digest(first_root, expected):
            raise errors.ProofRejected(errors.CONSISTENCY_REJECTED, first=first, second=second)
        return
    if not _consistent(first, second, first_root, second_root, proof):
        raise errors.ProofRejected(errors.CONSISTENCY_REJECTED, first=first, second=second)


def _consistent(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2 steps 1 to 7, for 0 < first < second."""
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(fr, first_root) and hmac.compare_digest(sr, second_root)


def _well_formed(*hashes: bytes) -> bool:
    return all(len(value) == HASH_SIZE for value in hashes)


# The right edge and an in-memory tree ------------------------------------------------


class Frontier:
    """The right edge of the tree: the complete subtrees covering [0, size), left to right.

    The sequencer keeps one to append in O(log n) without reading the tree; it
    restarts from stored state with `from_hashes(size, compact_range(size, get))`.
    """

    def __init__(self) -> None:
        self._size = 0
        self._edge: list[Node] = []

    @classmethod
    def from_hashes(cls, size: int, hashes: Sequence[bytes]) -> Frontier:
        """Restart from stored state: the compact range of a tree of `size` entries."""
        _check_size(size)
        places = covering_nodes(0, size)
        if len(hashes) != len(places):
            raise errors.AuditIntegrityError(
                errors.FRONTIER_MISMATCH, count=len(hashes), size=size, expected=len(places)
            )
        for value in hashes:
            _check_hash(value)
        frontier = cls()
        frontier._size = size
        frontier._edge = [
            Node(level, index, value) for (level, index), value in zip(places, hashes, strict=True)
        ]
        return frontier

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """The compact range of the current tree, left to right (what `from_hashes` takes)."""
        return [node.hash for node in self._edge]

    def append(self, leaf: bytes) -> list[Node]:
        """Add a leaf hash; return every node it completed, the leaf itself first.

        These are exactly the nodes to store: 1 + the trailing one bits of the old size.
        """
        _check_hash(leaf)
        completed = [Node(0, self._size, leaf)]
        self._edge.append(completed[0])
        self._size += 1
        while len(self._edge) > 1 and self._edge[-2].level == self._edge[-1].level:
            right = self._edge.pop()
            left = self._edge.pop()
            parent = Node(left.level + 1, left.index >> 1, node_hash(left.hash, right.hash))
            self._edge.append(parent)
            completed.append(parent)
        return completed

    def root(self) -> bytes:
        """MTH of the current tree, from the edge alone."""
        return _fold(self.hashes) if self._edge else EMPTY_ROOT


class MemoryTree:
    """Stored nodes in a dict plus a Frontier: the database layer's shape, in memory."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.frontier = Frontier()

    @property
    def size(self) -> int:
        return self.frontier.size

    def append(self, leaf: bytes) -> int:
        """Store a leaf hash and the nodes it completes; return its index (its `seq`)."""
        for node in self.frontier.append(leaf):
            self.nodes[node.level, node.index] = node.hash
        return self.frontier.size - 1

    def get(self, level: int, index: int) -> bytes:
        """The `NodeReader` over the stored nodes."""
        return self.nodes[level, index]

    def root(self, size: int | None = None) -> bytes:
        return self.frontier.root() if size is None else tree_head(self._within(size), self.get)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self._within(size), self.get)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        return consistency_proof(first, self._within(second), self.get)

    def _within(self, size: int | None) -> int:
        if size is None:
            return self.size
        if size > self.size:
            raise errors.InvalidTreeRequest(
                "The tree holds {current} entries, not {size}; ask for a size it has reached.",
                current=self.size,
                size=size,
            )
        return size
