"""Property tests of the tree over stored nodes: heads, proofs, restarts, reads (hypothesis).

Trees up to 300 leaves; proofs are read through a counting `get`, as the
database layer will serve them, and every verified proof is then damaged in
each of its inputs to show the verifier notices. Not the tree size: an RFC
9162 proof does not bind it (the proof of leaf 0 in a tree of 3 also passes
for 4 against the same head), which is why a verifier takes the size from the
signed checkpoint, never from the proof's sender.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egide.core.audit import merkle
from egide.core.audit.errors import ProofRejected
from egide.core.audit.merkle import Frontier, MemoryTree, leaf_hash

MAX_LEAVES = 300
LEAVES = [leaf_hash(b"entry %d" % i) for i in range(MAX_LEAVES)]
HEADS = [merkle.root(LEAVES[:size]) for size in range(MAX_LEAVES + 1)]
TREE = MemoryTree()
for _leaf in LEAVES:
    TREE.append(_leaf)

sizes = st.integers(min_value=1, max_value=MAX_LEAVES)


def read_bound(size: int) -> int:
    return 2 * math.ceil(math.log2(size)) + 2 if size > 1 else 2


def flip(value: bytes, position: int) -> bytes:
    position %= len(value)
    return value[:position] + bytes([value[position] ^ 0x01]) + value[position + 1 :]


@settings(max_examples=60)
@given(st.integers(min_value=0, max_value=MAX_LEAVES))
def test_the_frontier_root_is_the_mth_at_every_size(size: int) -> None:
    frontier = Frontier()
    for leaf in LEAVES[:size]:
        frontier.append(leaf)
    assert frontier.size == size
    assert frontier.root() == HEADS[size]
    assert merkle.tree_head(size, TREE.get) == HEADS[size]


@settings(max_examples=40)
@given(st.integers(min_value=0, max_value=MAX_LEAVES), st.data())
def test_a_restarted_frontier_continues_identically(size: int, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=size))
    original = Frontier()
    for leaf in LEAVES[:cut]:
        original.append(leaf)
    restarted = Frontier.from_hashes(cut, merkle.compact_range(cut, TREE.get))
    assert restarted.hashes == original.hashes
    for leaf in LEAVES[cut:size]:
        assert restarted.append(leaf) == original.append(leaf)
    assert restarted.root() == original.root() == HEADS[size]


@settings(max_examples=60)
@given(sizes, st.data())
def test_prefix_plus_leaves_gives_the_head(size: int, data: st.DataObject) -> None:
    first = data.draw(st.integers(min_value=0, max_value=size))
    prefix = merkle.compact_range(first, TREE.get)
    assert len(prefix) == first.bit_count()
    assert merkle.root_from_range(prefix, first, LEAVES[first:size]) == HEADS[size]


@settings(max_examples=150)
@given(sizes, st.data())
def test_inclusion_proofs_verify_and_any_change_fails(
    counting_reader: Callable[[Any], Any], size: int, data: st.DataObject
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    get = counting_reader(TREE.nodes)
    proof = merkle.inclusion_proof(index, size, get)
    assert get.reads <= read_bound(size)
    head = HEADS[size]
    merkle.verify_inclusion(LEAVES[index], index, size, proof, head)

    position = data.draw(st.integers(min_value=0, max_value=10_000))
    damaged: list[tuple[bytes, int, int, list[bytes], bytes]] = [
        (flip(LEAVES[index], position), index, size, proof, head),
        (LEAVES[index], index, size, proof, flip(head, position)),
        (LEAVES[index], index + 1, size, proof, head),
        (LEAVES[index], index - 1, size, proof, head),
        (LEAVES[index], index, size, [*proof, head], head),
    ]
    if proof:
        at = position % len(proof)
        changed = [*proof[:at], flip(proof[at], position // len(proof)), *proof[at + 1 :]]
        damaged += [(LEAVES[index], index, size, changed, head)]
        damaged += [(LEAVES[index], index, size, proof[:-1], head)]
    for leaf, at_index, at_size, at_proof, at_head in damaged:
        with pytest.raises(ProofRejected):
            merkle.verify_inclusion(leaf, at_index, at_size, at_proof, at_head)


@settings(max_examples=150)
@given(sizes, st.data())
def test_consistency_proofs_verify_and_any_change_fails(
    counting_reader: Callable[[Any], Any], size: int, data: st.DataObject
) -> None:
    first = data.draw(st.integers(min_value=1, max_value=size))
    get = counting_reader(TREE.nodes)
    proof = merkle.consistency_proof(first, size, get)
    assert get.reads <= read_bound(size)
    old, new = HEADS[first], HEADS[size]
    merkle.verify_consistency(first, size, old, new, proof)

    position = data.draw(st.integers(min_value=0, max_value=10_000))
    damaged: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (first, size, flip(old, position), new, proof),
        (first, size, old, flip(new, position), proof),
        (first - 1, size, old, new, proof),
        (first, size, old, new, [*proof, new]),
    ]
    if first < size:
        damaged += [(first + 1, size, old, new, proof)]
    if proof:
        at = position % len(proof)
        changed = [*proof[:at], flip(proof[at], position // len(proof)), *proof[at + 1 :]]
        damaged += [(first, size, old, new, changed), (first, size, old, new, proof[1:])]
    for at_first, at_second, at_old, at_new, at_proof in damaged:
        with pytest.raises(ProofRejected):
            merkle.verify_consistency(at_first, at_second, at_old, at_new, at_proof)


@settings(max_examples=30)
@given(st.integers(min_value=1, max_value=MAX_LEAVES))
def test_proofs_read_o_log_n_nodes_at_every_index(
    counting_reader: Callable[[Any], Any], size: int
) -> None:
    bound = read_bound(size)
    for index in range(size):
        get = counting_reader(TREE.nodes)
        merkle.inclusion_proof(index, size, get)
        assert get.reads <= bound, (index, size, get.reads)
        get = counting_reader(TREE.nodes)
        merkle.consistency_proof(index + 1, size, get)
        assert get.reads <= bound, (index + 1, size, get.reads)
