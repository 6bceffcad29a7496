"""Listings kept per process (services/vault/listing.py) are never served stale.

Two `Services` on one vault and database stand for two server processes:
`svc` lists a folder (and keeps its listing), `other` changes the folder,
and `svc` must list the change at once. The clock stands still, so no
change moves a date: a rename, for one, shows only in the sealed name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import argon2
import pytest
from sqlalchemy import event

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.core.errors import NotFound
from egide.services.access.policy import Principal
from egide.services.registry import Services, build_services
from egide.services.vault.listing import FolderListing, Listings
from egide.services.vault.types import NodeInfo
from tests.vault_fixtures import SYSTEM

Change = Callable[[Services, Principal], object]


@pytest.fixture
def process(
    vault_settings: Settings, clock: ManualClock, insecure_fast_argon2: argon2.PasswordHasher
) -> Callable[[], Services]:
    """Start another process on the same vault: its own services, nothing kept yet."""
    started: list[Services] = []

    def start() -> Services:
        started.append(build_services(vault_settings, clock=clock, hasher=insecure_fast_argon2))
        return started[-1]

    return start


@pytest.fixture
def other(process: Callable[[], Services]) -> Iterator[Services]:
    services = process()
    yield services
    services.close()


def listing(svc: Services, actor: Principal, path: str) -> FolderListing:
    _, kept = svc.nodes.browse(actor, "cardio", path)
    assert kept is not None
    return kept


def rebuilt(process: Callable[[], Services], actor: Principal, path: str) -> list[NodeInfo]:
    """The folder's listing as a process that never listed it builds it."""
    fresh = process()
    try:
        return fresh.nodes.list_folder(actor, "cardio", path)
    finally:
        fresh.close()


@pytest.fixture
def dossier(svc: Services, alice: Principal) -> str:
    """The folder listed: a sub-folder and two files, a file beside it."""
    svc.nodes.mkdir(alice, "cardio", "Dossier MARTIN/Imagerie", parents=True)
    for name in ("cr.txt", "bilan.pdf"):
        svc.files.write(alice, "cardio", f"Dossier MARTIN/{name}", [name.encode()])
    svc.files.write(alice, "cardio", "hors dossier.txt", [b"dehors"])
    return "Dossier MARTIN"


@pytest.fixture(params=["another process", "the same process"])
def listed_then_changed(
    request: pytest.FixtureRequest, svc: Services, other: Services, alice: Principal, dossier: str
) -> Callable[[Change], list[NodeInfo]]:
    """List the folder in `svc` (kept), apply a change in `other` or in `svc` itself;
    the listing before."""
    changer = other if request.param == "another process" else svc

    def run(change: Change) -> list[NodeInfo]:
        before = listing(svc, alice, dossier)
        assert listing(svc, alice, dossier) is before  # kept
        change(changer, alice)
        return list(before.items)

    return run


def restore_deleted(svc: Services, actor: Principal) -> None:
    (item,) = svc.nodes.trash(actor, "cardio")
    svc.nodes.restore(actor, "cardio", item.id)


def restore_first_version(svc: Services, actor: Principal) -> None:
    first = svc.files.versions(actor, "cardio", "Dossier MARTIN/cr.txt")[-1]
    svc.files.restore_version(actor, "cardio", "Dossier MARTIN/cr.txt", first.id)


def swap(svc: Services, actor: Principal) -> None:
    """As many children as before, the newest date unchanged."""
    svc.nodes.delete(actor, "cardio", "Dossier MARTIN/bilan.pdf")
    svc.files.write(actor, "cardio", "Dossier MARTIN/bilan 2.pdf", [b"bilan.pdf"])


CHANGES: dict[str, Change] = {
    "rename, case only": lambda s, a: s.nodes.move(
        a, "cardio", "Dossier MARTIN/cr.txt", "Dossier MARTIN/CR.txt"
    ),
    "rename": lambda s, a: s.nodes.move(
        a, "cardio", "Dossier MARTIN/cr.txt", "Dossier MARTIN/compte-rendu.txt"
    ),
    "new version": lambda s, a: s.files.write(
        a, "cardio", "Dossier MARTIN/cr.txt", [b"une version plus longue"]
    ),
    "move out": lambda s, a: s.nodes.move(a, "cardio", "Dossier MARTIN/cr.txt", "cr.txt"),
    "move in": lambda s, a: s.nodes.move(
        a, "cardio", "hors dossier.txt", "Dossier MARTIN/hors dossier.txt"
    ),
    "delete": lambda s, a: s.nodes.delete(a, "cardio", "Dossier MARTIN/Imagerie"),
    "copy in": lambda s, a: s.nodes.copy(
        a, "cardio", "Dossier MARTIN/cr.txt", "Dossier MARTIN/copie.txt"
    ),
    "new folder": lambda s, a: s.nodes.mkdir(a, "cardio", "Dossier MARTIN/Biologie"),
    "new file": lambda s, a: s.files.write(a, "cardio", "Dossier MARTIN/ordo.pdf", [b"o"]),
    "one out, one in": swap,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_change_is_listed_at_once(
    svc: Services,
    process: Callable[[], Services],
    alice: Principal,
    listed_then_changed: Callable[[Change], list[NodeInfo]],
    change: Change,
) -> None:
    before = listed_then_changed(change)
    expected = rebuilt(process, alice, "Dossier MARTIN")
    assert expected != before
    assert svc.nodes.list_folder(alice, "cardio", "Dossier MARTIN") == expected


def test_a_restore_from_the_trash_is_listed(
    svc: Services, other: Services, process: Callable[[], Services], alice: Principal, dossier: str
) -> None:
    other.nodes.delete(alice, "cardio", f"{dossier}/bilan.pdf")
    deleted = svc.nodes.list_folder(alice, "cardio", dossier)
    restore_deleted(other, alice)
    expected = rebuilt(process, alice, dossier)
    assert svc.nodes.list_folder(alice, "cardio", dossier) == expected
    assert len(expected) == len(deleted) + 1


def test_an_old_version_restored_is_listed(
    svc: Services, other: Services, process: Callable[[], Services], alice: Principal, dossier: str
) -> None:
    other.files.write(alice, "cardio", f"{dossier}/cr.txt", [b"deuxieme version"])
    svc.nodes.list_folder(alice, "cardio", dossier)
    restore_first_version(other, alice)
    (restored,) = [i for i in svc.nodes.list_folder(alice, "cardio", dossier) if i.name == "cr.txt"]
    assert restored.size == len(b"cr.txt")
    assert svc.nodes.list_folder(alice, "cardio", dossier) == rebuilt(process, alice, dossier)


def test_a_renamed_folder_lists_under_its_new_path(
    svc: Services, other: Services, alice: Principal, dossier: str
) -> None:
    svc.nodes.list_folder(alice, "cardio", dossier)
    other.nodes.move(alice, "cardio", dossier, "Dossier MARTIN Paul")
    with pytest.raises(NotFound):
        svc.nodes.list_folder(alice, "cardio", dossier)
    paths = {i.path for i in svc.nodes.list_folder(alice, "cardio", "Dossier MARTIN Paul")}
    assert paths == {f"/Dossier MARTIN Paul/{n}" for n in ("Imagerie", "bilan.pdf", "cr.txt")}


def test_paths_follow_the_spelling_asked(svc: Services, alice: Principal, dossier: str) -> None:
    """Names match case-insensitively; a listing's paths repeat the folder as asked."""
    assert svc.nodes.list_folder(alice, "cardio", dossier)[0].path == "/Dossier MARTIN/Imagerie"
    upper = svc.nodes.list_folder(alice, "cardio", dossier.upper())
    assert upper[0].path == "/DOSSIER MARTIN/Imagerie"
    assert svc.nodes.list_folder(alice, "cardio", dossier)[0].path == "/Dossier MARTIN/Imagerie"


def test_a_key_rotation_rebuilds_the_listing(
    svc: Services, other: Services, alice: Principal, dossier: str
) -> None:
    before = listing(svc, alice, dossier)
    other.rotation.rotate_space(SYSTEM, "cardio")
    after = listing(svc, alice, dossier)
    assert after is not before  # every name was sealed again, under the new key
    assert after.items == before.items


def test_access_is_decided_before_anything_kept(
    svc: Services, alice: Principal, dossier: str, make_user: Callable[..., Principal]
) -> None:
    svc.nodes.list_folder(alice, "cardio", dossier)
    stranger = make_user("bob")
    with pytest.raises(NotFound):
        svc.nodes.list_folder(stranger, "cardio", dossier)


def test_listings_kept_stay_within_their_budget(
    svc: Services, alice: Principal, dossier: str
) -> None:
    listings = Listings(svc.nodes.tree, sqlite=svc.db.is_sqlite, max_entries=4)
    with svc.db.read() as session:
        folder = svc.nodes.stat(alice, "cardio", dossier).id
        root = svc.nodes.stat(alice, "cardio", "").id
        kept = listings.of(session, folder, "/x/", None)  # 3 entries
        assert listings.of(session, folder, "/x/", None) is kept
        listings.of(session, root, "/", None)  # 2 more: over the budget, the older goes
        assert listings.of(session, folder, "/x/", None) is not kept
        # Another spelling of the folder's path: another listing, same items otherwise.
        assert listings.of(session, folder, "/y/", None).items[0].path == "/y/Imagerie"


def test_on_sqlite_an_unchanged_database_spares_the_rows(
    svc: Services, alice: Principal, dossier: str
) -> None:
    """While nothing is committed, a listing kept is served without reading its rows."""
    if not svc.db.is_sqlite:
        pytest.skip("PostgreSQL proves every listing by its rows")
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    listing(svc, alice, dossier)
    event.listen(svc.db.engine, "before_cursor_execute", record)
    try:
        for _ in range(3):
            listing(svc, alice, dossier)
    finally:
        event.remove(svc.db.engine, "before_cursor_execute", record)
    assert statements
    # A folder's rows: its children's, asked by parent only (a path lookup adds a name).
    assert not [s for s in statements if s.endswith("WHERE nodes.parent_id = ?")]


def test_after_a_change_only_the_changed_child_is_made_again(
    svc: Services, other: Services, process: Callable[[], Services], alice: Principal, dossier: str
) -> None:
    """The next listing shares the unchanged items, their sort keys and what was
    computed per item (the API's JSON), and makes only the renamed one anew."""
    made: list[str] = []

    def encode(item: NodeInfo) -> str:
        made.append(item.name)
        return item.name.upper()

    before = listing(svc, alice, dossier)
    assert before.per_item(encode) == tuple(i.name.upper() for i in before.items)
    other.nodes.move(alice, "cardio", f"{dossier}/cr.txt", f"{dossier}/a-cr.txt")
    after = listing(svc, alice, dossier)
    assert list(after.items) == rebuilt(process, alice, dossier)
    shared = {id(i) for i in before.items} & {id(i) for i in after.items}
    assert len(shared) == len(after.items) - 1
    made.clear()
    assert after.per_item(encode) == tuple(i.name.upper() for i in after.items)
    assert made == ["a-cr.txt"]


def test_many_changes_rebuild_the_whole_listing(
    svc: Services,
    process: Callable[[], Services],
    alice: Principal,
    dossier: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("egide.services.vault.listing.MAX_PATCHED", 1)
    listing(svc, alice, dossier)
    svc.nodes.move(alice, "cardio", f"{dossier}/cr.txt", f"{dossier}/a.txt")
    svc.files.write(alice, "cardio", f"{dossier}/bilan.pdf", [b"deuxieme"])
    assert svc.nodes.list_folder(alice, "cardio", dossier) == rebuilt(process, alice, dossier)


def test_a_child_gone_before_it_is_read_is_not_listed_half_made(
    svc: Services, alice: Principal, dossier: str
) -> None:
    """A new child whose row is gone by the time it is read by id (purged between
    two statements, which PostgreSQL may each read in its own snapshot): no
    patched listing; the caller reads the folder again as a whole."""
    before = listing(svc, alice, dossier)
    listings = svc.nodes._listings
    stamp = before._by_stamp.copy().popitem()[0]
    gone = ("no-such-node", stamp[1], stamp[2], None, stamp[4])
    with svc.db.read() as session:
        stamps = [*before._by_stamp, gone]
        assert listings._patch(session, "/Dossier MARTIN/", before, stamps) is None
        assert listings._patch(session, "/Dossier MARTIN/", before, stamps[:-1]) is not None
