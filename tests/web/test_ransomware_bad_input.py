"""Bad input on the ransomware scorer's path (issue 8, "Bad input"): a malformed
or truncated file of a known type, a zero-byte file, an archive bomb, a large
file, uploaded through the HTTP API, are stored byte for byte and scored
(their fingerprint is kept), without any scorer error and without containing
the user who uploads them."""

from __future__ import annotations

import io
import logging
import zipfile
import zlib

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from egide.core.clock import ManualClock
from egide.core.db.models import Version
from egide.core.db.models.ransomware import RansomwareFingerprint
from egide.services.registry import Services
from tests.core.ransomware.samples import SAMPLES
from tests.vault_fixtures import SYSTEM

BASE = "/api/v1/spaces/cardio"
MIB = 1 << 20


def archive_bomb(expanded: int = 256 * MIB) -> bytes:
    """A small zip whose one member expands to `expanded` zero bytes (deflated
    by hand, chunk by chunk, so the test never holds the expansion)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(MIB)
    body = b"".join(deflate.compress(chunk) for _ in range(expanded // MIB)) + deflate.flush()
    crc = 0
    for _ in range(expanded // MIB):
        crc = zlib.crc32(chunk, crc)
    info = zipfile.ZipInfo("zeros.bin", date_time=(2026, 3, 2, 9, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.CRC, info.compress_size, info.file_size = crc, len(body), expanded
    local = info.FileHeader()
    central = _central(info, len(body))
    end = (
        b"PK\x05\x06"
        + (0).to_bytes(4, "little")
        + (1).to_bytes(2, "little") * 2
        + len(central).to_bytes(4, "little")
        + (len(local) + len(body)).to_bytes(4, "little")
        + b"\x00\x00"
    )
    return local + body + central + end


def _central(info: zipfile.ZipInfo, compressed: int) -> bytes:
    name = info.filename.encode()
    return (
        b"PK\x01\x02"
        + bytes([20, 0, 20, 0, 0, 0, 8, 0])
        + bytes(4)  # time and date
        + info.CRC.to_bytes(4, "little")
        + compressed.to_bytes(4, "little")
        + info.file_size.to_bytes(4, "little")
        + len(name).to_bytes(2, "little")
        + bytes(12)  # extra, comment, disk, attributes
        + (0).to_bytes(4, "little")  # offset of the local header
        + name
    )


def bad_inputs() -> dict[str, bytes]:
    docx, pdf, png = SAMPLES["courrier.docx"], SAMPLES["ordonnance.pdf"], SAMPLES["ecg.png"]
    return {
        "tronque.docx": docx[: len(docx) // 2],
        "tronque.pdf": pdf[: len(pdf) // 3],
        "entete-seule.pdf": b"%PDF-1.7\n",
        "tronque.png": png[:40],
        "soi-seul.jpg": b"\xff\xd8",
        "preambule.dcm": bytes(128) + b"DICM",
        "entete-seul.dcm": bytes(100),
        "faux.docx": b"PK\x03\x04" + bytes(10),
        "controle.txt": bytes(range(32)) * 100,
        "vide.docx": b"",
        "vide.txt": b"",
        "bombe.zip": archive_bomb(),
        "gros.txt": SAMPLES["compte-rendu.txt"] * (3 * MIB // len(SAMPLES["compte-rendu.txt"])),
    }


def test_bad_input_is_stored_and_scored_without_a_scorer_error(
    svc: Services,
    alice_client: TestClient,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="egide.services.ransomware")
    inputs = bad_inputs()
    assert len(inputs["bombe.zip"]) < 512 * 1024  # small, expanding to 256 MiB
    with zipfile.ZipFile(io.BytesIO(inputs["bombe.zip"])) as z:
        assert z.infolist()[0].file_size == 256 * MIB
    for name, data in inputs.items():
        clock.advance(seconds=1)
        written = alice_client.put(f"{BASE}/content/{name}", content=data)
        assert written.status_code == 201, (name, written.text)
    # Overwrites of good files by bad versions of their own type, and back.
    for name in ("courrier.docx", "ordonnance.pdf", "ecg.png"):
        assert alice_client.put(f"{BASE}/content/{name}", content=SAMPLES[name]).status_code == 201
    for name, bad in (
        ("courrier.docx", inputs["tronque.docx"]),
        ("ordonnance.pdf", b""),
        ("ecg.png", inputs["tronque.png"]),
    ):
        clock.advance(seconds=30)
        assert alice_client.put(f"{BASE}/content/{name}", content=bad).status_code == 200
        clock.advance(seconds=30)
        assert alice_client.put(f"{BASE}/content/{name}", content=SAMPLES[name]).status_code == 200
    for name, data in inputs.items():
        got = alice_client.get(f"{BASE}/content/{name}")
        assert got.status_code == 200, name
        assert got.content == data, name
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    with svc.db.read() as session:
        contents = session.scalar(select(func.count(func.distinct(Version.content_id))))
        scored = session.scalar(select(func.count()).select_from(RansomwareFingerprint))
    assert scored == contents
    assert svc.incidents.list(SYSTEM) == []
