"""Name rules of API.md and encrypted names in the database."""

from __future__ import annotations

import unicodedata

import pytest
from sqlalchemy import text

from egide.services.access.policy import Principal
from egide.services.registry import Services
from egide.services.vault.errors import InvalidName, NameTaken
from egide.services.vault.names import check_name, check_slug, split_path
from tests.vault_fixtures import SYSTEM


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (".", '"."'),
        ("..", '"."'),
        ("a\x00b", "control"),
        ("line\nbreak", "control"),
        ("tab\there", "control"),
        ("é" * 128, "too long"),
    ],
)
def test_bad_names_are_refused_with_a_reason(name: str, reason: str) -> None:
    with pytest.raises(InvalidName, match=reason):
        check_name(name)


def test_names_are_nfc_and_may_hold_any_printable_text() -> None:
    decomposed = unicodedata.normalize("NFD", "échographie Müller.dcm")
    assert check_name(decomposed) == unicodedata.normalize("NFC", decomposed)
    assert check_name("é" * 127) == "é" * 127  # 254 bytes
    assert check_name("IRM (2026) #3 [J+1] ~ 50%.pdf")


def test_paths_split_on_slashes_only() -> None:
    assert split_path("") == []
    assert split_path("/") == []
    assert split_path("a//b/") == ["a", "b"]
    with pytest.raises(InvalidName):
        split_path("a/../b")


def test_slugs() -> None:
    assert check_slug(" Cardio-2 ") == "cardio-2"
    for bad in ("a", "-x", "with space", "dupont_jean", "x" * 64):
        with pytest.raises(Exception, match="space identifier"):
            check_slug(bad)


def test_case_insensitive_uniqueness(svc: Services, alice: Principal) -> None:
    svc.files.write(alice, "cardio", "Straße.txt", [b"1"])
    with pytest.raises(NameTaken):
        svc.nodes.mkdir(alice, "cardio", "STRASSE.TXT")
    # A write to the other spelling is a new version of the same file.
    svc.files.write(alice, "cardio", "STRASSE.TXT", [b"2"])
    listing = svc.nodes.list_folder(alice, "cardio")
    assert [n.name for n in listing] == ["Straße.txt"]
    assert len(svc.files.versions(alice, "cardio", "strasse.txt")) == 2


def test_nfd_and_nfc_spellings_are_one_name(svc: Services, alice: Principal) -> None:
    svc.nodes.mkdir(alice, "cardio", unicodedata.normalize("NFD", "Échographies"))
    with pytest.raises(NameTaken):
        svc.nodes.mkdir(alice, "cardio", unicodedata.normalize("NFC", "échographies"))


def test_names_and_titles_are_never_stored_in_clear(svc: Services, alice: Principal) -> None:
    svc.spaces.create(SYSTEM, "patient-42", title="Dossier MARTIN Sophie")
    svc.nodes.mkdir(alice, "cardio", "MARTIN Sophie")
    svc.files.write(alice, "cardio", "MARTIN Sophie/IRM MARTIN.pdf", [b"%PDF-1.7"])
    with svc.db.read() as session:
        tables = ["nodes", "spaces", "contents", "versions", "trash_items"]
        for table in tables:
            for row in session.execute(text(f"SELECT * FROM {table}")):  # noqa: S608 - fixed names
                dump = repr(tuple(row)).encode()
                assert b"MARTIN" not in dump, table
    assert [n.name for n in svc.nodes.list_folder(alice, "cardio")] == ["MARTIN Sophie"]
