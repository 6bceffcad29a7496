"""Folders: listing, mkdir, move and rename, copy, delete and restore."""

from __future__ import annotations

import os

import pytest

from egide.core.errors import Forbidden, NotFound
from egide.services.access.policy import Principal
from egide.services.registry import Services
from egide.services.vault.errors import InvalidMove, NameTaken, NotAFolder, ParentMissing
from tests.vault_fixtures import SYSTEM, MakeUser


def blob_keys(svc: Services) -> set[str]:
    return {info.key for info in svc.blobs.iter_blobs()}


def read(svc: Services, actor: Principal, path: str, slug: str = "cardio") -> bytes:
    return b"".join(svc.files.open(actor, slug, path).iter_bytes())


def test_listing_is_sorted_folders_first(svc: Services, alice: Principal) -> None:
    for name in ["b.txt", "A.txt", "écho.txt", "c.txt"]:
        svc.files.write(alice, "cardio", name, [name.encode()])
    svc.nodes.mkdir(alice, "cardio", "Zeta")
    svc.nodes.mkdir(alice, "cardio", "alpha")
    listing = svc.nodes.list_folder(alice, "cardio", "/")
    assert [n.name for n in listing] == ["alpha", "Zeta", "A.txt", "b.txt", "c.txt", "écho.txt"]
    by_name = {n.name: n for n in listing}
    assert by_name["b.txt"].size == 5
    assert by_name["b.txt"].path == "/b.txt"
    assert by_name["alpha"].kind == "folder"
    assert by_name["alpha"].version_id is None


def test_mkdir(svc: Services, alice: Principal) -> None:
    with pytest.raises(ParentMissing):
        svc.nodes.mkdir(alice, "cardio", "a/b/c")
    info = svc.nodes.mkdir(alice, "cardio", "a/b/c", parents=True)
    assert info.path == "/a/b/c"
    assert (
        svc.nodes.mkdir(alice, "cardio", "a/b", parents=True).id
        == svc.nodes.stat(alice, "cardio", "a/b").id
    )
    with pytest.raises(NameTaken):
        svc.nodes.mkdir(alice, "cardio", "A/B")
    svc.files.write(alice, "cardio", "a/file.txt", [b"x"])
    with pytest.raises(NotAFolder):
        svc.nodes.mkdir(alice, "cardio", "a/file.txt/sub")
    with pytest.raises(NotAFolder):
        svc.nodes.list_folder(alice, "cardio", "a/file.txt")


def test_move_and_rename(svc: Services, alice: Principal) -> None:
    svc.nodes.mkdir(alice, "cardio", "in/sub", parents=True)
    svc.nodes.mkdir(alice, "cardio", "out")
    svc.files.write(alice, "cardio", "in/sub/cr.txt", [b"report"])
    svc.nodes.move(alice, "cardio", "in/sub", "out/renamed")
    assert read(svc, alice, "out/renamed/cr.txt") == b"report"
    with pytest.raises(NotFound):
        svc.nodes.stat(alice, "cardio", "in/sub")
    # A change of case only is a rename of the same node.
    svc.nodes.move(alice, "cardio", "out/renamed/cr.txt", "out/renamed/CR.txt")
    assert [n.name for n in svc.nodes.list_folder(alice, "cardio", "out/renamed")] == ["CR.txt"]
    svc.files.write(alice, "cardio", "out/other.txt", [b"o"])
    with pytest.raises(NameTaken):
        svc.nodes.move(alice, "cardio", "out/other.txt", "out/renamed/cr.TXT")
    with pytest.raises(InvalidMove):
        svc.nodes.move(alice, "cardio", "out", "out/renamed/inside")
    with pytest.raises(ParentMissing):
        svc.nodes.move(alice, "cardio", "out/other.txt", "nowhere/x.txt")
    with pytest.raises(InvalidMove):
        svc.nodes.move(alice, "cardio", "/", "x")


def test_move_needs_contributor_on_both_sides(
    svc: Services, alice: Principal, make_user: MakeUser
) -> None:
    svc.nodes.mkdir(alice, "cardio", "mine")
    svc.nodes.mkdir(alice, "cardio", "archive")
    svc.files.write(alice, "cardio", "mine/cr.txt", [b"x"])
    bob = make_user("bob")
    svc.spaces.grant(SYSTEM, "cardio", "", "user:bob", "reader")
    svc.spaces.grant(SYSTEM, "cardio", "mine", "user:bob", "contributor")
    with pytest.raises(Forbidden):
        svc.nodes.move(bob, "cardio", "mine/cr.txt", "archive/cr.txt")
    svc.nodes.move(bob, "cardio", "mine/cr.txt", "mine/renamed.txt")


def test_copy_inside_a_space_shares_contents(svc: Services, alice: Principal) -> None:
    svc.nodes.mkdir(alice, "cardio", "src/deep", parents=True)
    svc.files.write(alice, "cardio", "src/a.txt", [b"aaa"])
    svc.files.write(alice, "cardio", "src/deep/b.txt", [b"bbbb"])
    before = blob_keys(svc)
    svc.nodes.copy(alice, "cardio", "src", "copy")
    assert blob_keys(svc) == before
    assert read(svc, alice, "copy/deep/b.txt") == b"bbbb"
    assert svc.spaces.get(alice, "cardio").used_bytes == 14
    # The copy is independent: changing it leaves the original alone.
    svc.files.write(alice, "cardio", "copy/a.txt", [b"changed"])
    assert read(svc, alice, "src/a.txt") == b"aaa"
    with pytest.raises(InvalidMove):
        svc.nodes.copy(alice, "cardio", "src", "src/deep/loop")
    with pytest.raises(NameTaken):
        svc.nodes.copy(alice, "cardio", "src/a.txt", "copy/A.TXT")


def test_copy_to_another_space_re_encrypts(svc: Services, alice: Principal) -> None:
    svc.spaces.create(SYSTEM, "labo")
    svc.spaces.grant(SYSTEM, "labo", "", "user:alice", "contributor")
    data = os.urandom(20_000)
    svc.files.write(alice, "cardio", "scan.bin", [data])
    before = blob_keys(svc)
    svc.nodes.copy(alice, "cardio", "scan.bin", "imported.bin", to_slug="labo")
    assert len(blob_keys(svc) - before) == 1
    assert read(svc, alice, "imported.bin", slug="labo") == data


def test_delete_restore_folder_as_one_item(svc: Services, alice: Principal) -> None:
    svc.nodes.mkdir(alice, "cardio", "patient/imagerie", parents=True)
    svc.files.write(alice, "cardio", "patient/cr.txt", [b"12345"])
    svc.files.write(alice, "cardio", "patient/imagerie/irm.dcm", [b"123"])
    item = svc.nodes.delete(alice, "cardio", "patient")
    assert item.kind == "folder"
    assert item.size == 8
    assert item.original_path == "/"
    assert svc.nodes.list_folder(alice, "cardio") == []
    assert svc.spaces.get(alice, "cardio").used_bytes == 0
    assert [t.id for t in svc.nodes.trash(alice, "cardio")] == [item.id]
    # The name is free again while the item sits in the trash.
    svc.nodes.mkdir(alice, "cardio", "patient")
    with pytest.raises(NameTaken, match="another name"):
        svc.nodes.restore(alice, "cardio", item.id)
    restored = svc.nodes.restore(alice, "cardio", item.id, new_name="patient (restauré)")
    assert restored.path == "/patient (restauré)"
    assert read(svc, alice, "patient (restauré)/imagerie/irm.dcm") == b"123"
    assert svc.spaces.get(alice, "cardio").used_bytes == 8
    assert svc.nodes.trash(alice, "cardio") == []


def test_restore_when_the_folder_is_gone_goes_to_the_root(svc: Services, alice: Principal) -> None:
    svc.nodes.mkdir(alice, "cardio", "a")
    svc.files.write(alice, "cardio", "a/f.txt", [b"f"])
    file_item = svc.nodes.delete(alice, "cardio", "a/f.txt")
    svc.nodes.delete(alice, "cardio", "a")
    info = svc.nodes.restore(alice, "cardio", file_item.id)
    assert info.path == "/f.txt"


def test_trash_is_hidden_from_outsiders(
    svc: Services, alice: Principal, make_user: MakeUser
) -> None:
    svc.files.write(alice, "cardio", "f.txt", [b"f"])
    item = svc.nodes.delete(alice, "cardio", "f.txt")
    bob = make_user("bob")
    with pytest.raises(NotFound):
        svc.nodes.trash(bob, "cardio")
    with pytest.raises(NotFound):
        svc.nodes.restore(bob, "cardio", item.id)
    svc.spaces.grant(SYSTEM, "cardio", "", "user:bob", "reader")
    assert svc.nodes.trash(bob, "cardio") == []  # readers cannot restore, so see nothing
    with pytest.raises(Forbidden):
        svc.nodes.restore(bob, "cardio", item.id)


def test_root_cannot_be_deleted_or_moved(svc: Services, alice: Principal) -> None:
    with pytest.raises(InvalidMove):
        svc.nodes.delete(alice, "cardio", "/")
    with pytest.raises(NameTaken):
        svc.nodes.mkdir(alice, "cardio", "")
