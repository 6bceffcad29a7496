from __future__ import annotations

import os

import pytest

from egide.core.ransomware.filetypes import (
    FileKind,
    expected_kind,
    extension,
    is_known_extension,
    sniff,
    still_parses,
)
from tests.core.ransomware.samples import SAMPLES, aes_ctr, pdf, png

EXPECTED = {
    "compte-rendu.txt": FileKind.TEXT,
    "resultats.hl7": FileKind.TEXT,
    "export.csv": FileKind.TEXT,
    "ordonnance.pdf": FileKind.PDF,
    "courrier.docx": FileKind.ZIP,
    "ecg.png": FileKind.PNG,
    "photo.jpg": FileKind.JPEG,
    "scanner.dcm": FileKind.DICOM,
    "ancien.doc": FileKind.OLE2,
    "lettre.rtf": FileKind.RTF,
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_real_files_are_recognised_whole_and_as_their_name_says(name: str) -> None:
    data = SAMPLES[name]
    kind = sniff(data[:65536])
    assert kind is EXPECTED[name]
    assert expected_kind(name) is kind
    assert still_parses(kind, data[:65536], data[-65536:], len(data)) is not False


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_encrypted_bytes_have_no_type(name: str) -> None:
    assert sniff(aes_ctr(SAMPLES[name])) is None


def test_truncated_files_no_longer_parse() -> None:
    whole = pdf()
    cut = whole[: len(whole) // 2]
    assert still_parses(FileKind.PDF, cut, cut, len(cut)) is False
    image = png()
    cut = image[:-20]
    assert still_parses(FileKind.PNG, cut, cut, len(cut)) is False


def test_random_bytes_are_not_text_and_tiny_inputs_do_not_crash() -> None:
    assert sniff(os.urandom(4096)) is None
    assert sniff(b"") is None
    assert sniff(b"\x00") is None
    for kind in FileKind:
        assert still_parses(kind, b"", b"", 0) in (True, False, None)


@pytest.mark.parametrize(
    ("name", "ext", "known"),
    [
        ("rapport.docx", "docx", True),
        ("rapport.docx.locked", "locked", False),
        ("Rapport.PDF", "pdf", True),
        ("archive.tar.gz", "gz", True),
        ("notes.bak", "bak", True),
        ("README", None, True),
        (".bashrc", None, True),
        ("x.k3y9q", "k3y9q", False),
    ],
)
def test_extensions(name: str, ext: str | None, known: bool) -> None:
    assert extension(name) == ext
    assert is_known_extension(ext) is known
