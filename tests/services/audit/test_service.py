"""`Services.audit` as wired by the registry, and the write path's event."""

from __future__ import annotations

import json

import pytest

from egide.core.audit import merkle
from egide.core.clock import ManualClock
from egide.services.access.policy import Principal
from egide.services.registry import Services
from egide.services.vault.errors import AlreadyExists
from tests.services.audit.helpers import root_of_stored_leaves, stored_leaves


def test_a_file_write_is_recorded_with_its_version_and_sequenced(
    svc: Services, alice: Principal, clock: ManualClock
) -> None:
    before, _ = svc.audit.tree_head()  # the fixtures' own events: users, the space
    first = svc.files.write(alice, "cardio", "/Dupont Jean.txt", [b"compte rendu"])
    # Events are taken in (time, id) order: equal times would leave the order to the ids.
    clock.advance(seconds=1)
    second = svc.files.write(alice, "cardio", "/Dupont Jean.txt", [b"compte rendu, v2"])
    with pytest.raises(AlreadyExists):  # refused: no version, no event
        svc.files.write(alice, "cardio", "/Dupont Jean.txt", [b"v3"], if_none_match=True)
    size, head = svc.audit.tree_head()
    assert size == before + 2
    assert head == root_of_stored_leaves(svc.db)
    events = [json.loads(leaf) for _, leaf in stored_leaves(svc.db)][before:]
    assert [(e["action"], e["outcome"]) for e in events] == [("file.write", "allowed")] * 2
    assert [e["target"]["version"] for e in events] == [first.id, second.id]
    assert {e["target"]["node"] for e in events} == {first.node_id}
    assert events[0]["actor"] == {"kind": "user", "id": alice.user_id}
    assert events[1]["details"] == {"number": 2, "size": len(b"compte rendu, v2")}
    for _, leaf in stored_leaves(svc.db):
        assert b"Dupont" not in leaf  # ids only: the name is never in a leaf
    assert merkle.root([merkle.leaf_hash(leaf) for _, leaf in stored_leaves(svc.db)]) == head
