"""The Merkle tree against the shared vectors (FORMATS.md section 3, vectors/merkle.json).

Every proof is generated from stored nodes and compared with the vector,
then verified; the RFC 9162 definitions written out below over a plain list
serve as a second, independent oracle for larger trees.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from egide.core.audit import merkle
from egide.core.audit.errors import AuditIntegrityError, InvalidTreeRequest, ProofRejected
from egide.core.audit.merkle import Frontier, MemoryTree, Node, leaf_hash, node_hash
from egide.core.errors import ErrorKind

VECTORS: Any = json.loads((Path(__file__).parent / "vectors" / "merkle.json").read_text("utf-8"))
RFC_LEAVES = [leaf_hash(bytes.fromhex(leaf)) for leaf in VECTORS["rfc6962_leaves_hex"]]
#: `about`: the JSON leaves' bytes are the UTF-8 of each string, exactly.
JSON_LEAVES = [leaf_hash(leaf.encode("utf-8")) for leaf in VECTORS["leaves_utf8"]]


def tree_of(leaves: list[bytes]) -> MemoryTree:
    tree = MemoryTree()
    for leaf in leaves:
        tree.append(leaf)
    return tree


RFC_TREE = tree_of(RFC_LEAVES)


def hexes(values: list[bytes]) -> list[str]:
    return [value.hex() for value in values]


# The vectors ---------------------------------------------------------------------------


@pytest.mark.parametrize("head", VECTORS["rfc6962_roots"], ids=lambda head: f"size{head['size']}")
def test_rfc6962_roots(head: dict[str, Any]) -> None:
    size = head["size"]
    assert merkle.root(RFC_LEAVES[:size]).hex() == head["root"]
    assert RFC_TREE.root(size).hex() == head["root"]
    assert tree_of(RFC_LEAVES[:size]).frontier.root().hex() == head["root"]


@pytest.mark.parametrize("head", VECTORS["roots"], ids=lambda head: f"size{head['size']}")
def test_json_leaf_roots(head: dict[str, Any]) -> None:
    size = head["size"]
    assert merkle.root(JSON_LEAVES[:size]).hex() == head["root"]
    assert tree_of(JSON_LEAVES[:size]).root().hex() == head["root"]


@pytest.mark.parametrize(
    "vector", VECTORS["inclusion"], ids=lambda v: f"leaf{v['index']}-of{v['tree_size']}"
)
def test_inclusion_vectors(vector: dict[str, Any]) -> None:
    index, size = vector["index"], vector["tree_size"]
    proof = RFC_TREE.inclusion_proof(index, size)
    assert hexes(proof) == vector["proof"]
    merkle.verify_inclusion(RFC_LEAVES[index], index, size, proof, RFC_TREE.root(size))


@pytest.mark.parametrize(
    "vector", VECTORS["consistency"], ids=lambda v: f"{v['first']}-to-{v['second']}"
)
def test_consistency_vectors(vector: dict[str, Any]) -> None:
    first, second = vector["first"], vector["second"]
    proof = RFC_TREE.consistency_proof(first, second)
    assert hexes(proof) == vector["proof"]
    merkle.verify_consistency(first, second, RFC_TREE.root(first), RFC_TREE.root(second), proof)


def test_the_vectors_are_all_there() -> None:
    """Every inclusion and consistency proof of trees of 1 to 8 leaves: 36 of each."""
    assert len(VECTORS["inclusion"]) == 36
    assert len(VECTORS["consistency"]) == 36
    assert len(VECTORS["rfc6962_roots"]) == 9
    assert len(VECTORS["roots"]) == 8


# An independent oracle: RFC 9162 2.1.3.1 and 2.1.4.1 over a list -----------------------


def reference_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return [*reference_path(m, leaves[:k]), merkle.root(leaves[k:])]
    return [*reference_path(m - k, leaves[k:]), merkle.root(leaves[:k])]


def reference_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    if m == len(leaves):
        return [] if whole else [merkle.root(leaves)]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m <= k:
        return [*reference_subproof(m, leaves[:k], whole), merkle.root(leaves[k:])]
    return [*reference_subproof(m - k, leaves[k:], False), merkle.root(leaves[:k])]


LEAVES_40 = [leaf_hash(i.to_bytes(4, "big")) for i in range(40)]
TREE_40 = tree_of(LEAVES_40)


@pytest.mark.parametrize("size", range(1, 41))
def test_every_proof_up_to_40_leaves_matches_the_rfc_definition(size: int) -> None:
    leaves = LEAVES_40[:size]
    head = merkle.root(leaves)
    assert TREE_40.root(size) == head
    for index in range(size):
        proof = TREE_40.inclusion_proof(index, size)
        assert proof == reference_path(index, leaves)
        merkle.verify_inclusion(leaves[index], index, size, proof, head)
    for first in range(1, size + 1):
        proof = TREE_40.consistency_proof(first, size)
        assert proof == reference_subproof(first, leaves, True)
        merkle.verify_consistency(first, size, merkle.root(leaves[:first]), head, proof)


# Stored nodes --------------------------------------------------------------------------


def test_appends_return_exactly_the_complete_subtrees() -> None:
    frontier = Frontier()
    completed: list[Node] = []
    for leaf in LEAVES_40[:13]:
        completed.extend(frontier.append(leaf))
    expected = {
        (level, index)
        for level in range(5)
        for index in range(13 >> level)  # (index + 1) << level <= 13
    }
    assert {(node.level, node.index) for node in completed} == expected
    assert len(completed) == len(expected)  # each stored once
    for node in completed:
        start = node.index << node.level
        assert node.hash == merkle.root(LEAVES_40[start : start + (1 << node.level)])


def test_an_append_completes_one_node_plus_the_trailing_ones_of_the_size() -> None:
    frontier = Frontier.from_hashes(7, merkle.compact_range(7, TREE_40.get))
    nodes = frontier.append(LEAVES_40[7])
    assert [(node.level, node.index) for node in nodes] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert frontier.hashes == [TREE_40.get(3, 0)]


def test_compact_range_of_prefix_json() -> None:
    assert merkle.covering_nodes(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert merkle.compact_range(13, TREE_40.get) == [
        TREE_40.get(3, 0),
        TREE_40.get(2, 2),
        TREE_40.get(0, 12),
    ]
    assert merkle.compact_range(0, TREE_40.get) == []
    rebuilt = merkle.root_from_range(merkle.compact_range(13, TREE_40.get), 13, LEAVES_40[13:29])
    assert rebuilt == merkle.root(LEAVES_40[:29])


def test_the_empty_tree() -> None:
    assert merkle.EMPTY_ROOT.hex() == VECTORS["roots"][0]["root"]
    assert Frontier().root() == merkle.EMPTY_ROOT
    assert MemoryTree().root() == merkle.EMPTY_ROOT
    assert merkle.tree_head(0, TREE_40.get) == merkle.EMPTY_ROOT
    assert merkle.root_from_range([], 0, []) == merkle.EMPTY_ROOT
    assert merkle.consistency_proof(0, 5, TREE_40.get) == []
    merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, TREE_40.root(5), [])
    merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])


def test_hashes_follow_rfc9162_domain_separation() -> None:
    assert leaf_hash(b"") == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert node_hash(RFC_LEAVES[0], RFC_LEAVES[1]).hex() == VECTORS["rfc6962_roots"][2]["root"]


# Refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "size"), [(-1, 5), (5, 5), (0, 0), (41, 41)])
def test_an_inclusion_proof_outside_the_tree_is_refused(index: int, size: int) -> None:
    with pytest.raises(InvalidTreeRequest) as caught:
        TREE_40.inclusion_proof(index, size)
    assert caught.value.kind is ErrorKind.INVALID


@pytest.mark.parametrize(("first", "second"), [(-1, 5), (6, 5), (3, 41)])
def test_a_consistency_proof_outside_the_tree_is_refused(first: int, second: int) -> None:
    with pytest.raises(InvalidTreeRequest):
        TREE_40.consistency_proof(first, second)


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(InvalidTreeRequest):
        merkle.compact_range(-1, TREE_40.get)
    with pytest.raises(InvalidTreeRequest):
        TREE_40.root(41)


def test_a_frontier_that_does_not_fit_its_size_is_damage() -> None:
    with pytest.raises(AuditIntegrityError) as caught:
        Frontier.from_hashes(7, [LEAVES_40[0], LEAVES_40[1]])
    assert caught.value.kind is ErrorKind.INTEGRITY
    with pytest.raises(InvalidTreeRequest):
        Frontier.from_hashes(1, [b"short"])


def test_a_leaf_hash_must_be_32_bytes() -> None:
    with pytest.raises(InvalidTreeRequest):
        Frontier().append(b"not a hash")


def test_a_damaged_stored_node_is_an_integrity_error() -> None:
    nodes = dict(TREE_40.nodes)
    nodes[0, 3] = b"\x00" * 31

    with pytest.raises(AuditIntegrityError) as caught:
        merkle.inclusion_proof(2, 4, lambda level, index: nodes[level, index])
    assert "level 0, index 3" in str(caught.value)


def test_the_equal_size_and_empty_cases_of_consistency() -> None:
    head = TREE_40.root(9)
    merkle.verify_consistency(9, 9, head, head, [])
    with pytest.raises(ProofRejected):
        merkle.verify_consistency(9, 9, head, TREE_40.root(10), [])
    with pytest.raises(ProofRejected):
        merkle.verify_consistency(9, 9, head, head, [head])
    with pytest.raises(ProofRejected):
        merkle.verify_consistency(0, 9, head, head, [])  # the empty tree's head is fixed
    with pytest.raises(ProofRejected):
        merkle.verify_consistency(3, 9, TREE_40.root(3), head, [])  # RFC 9162 2.1.4.2 step 1


def test_a_proof_with_a_short_hash_is_rejected() -> None:
    proof = TREE_40.inclusion_proof(3, 9)
    with pytest.raises(ProofRejected):
        merkle.verify_inclusion(LEAVES_40[3], 3, 9, [*proof[:-1], proof[-1][:31]], TREE_40.root(9))


def test_rejections_say_what_happened_and_what_to_do() -> None:
    with pytest.raises(ProofRejected) as caught:
        merkle.verify_inclusion(LEAVES_40[0], 0, 2, [LEAVES_40[0]], TREE_40.root(2))
    message = str(caught.value)
    assert "entry 0 in the tree of 2 entries" in message
    assert "report a security incident" in message
    assert caught.value.kind is ErrorKind.INTEGRITY
