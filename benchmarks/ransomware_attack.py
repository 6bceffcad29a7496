"""Ransomware families and benign workloads against a live Égide, over HTTP (issue 8, item 6).

    python benchmarks/ransomware.py attack [--files 2000] [--folders 100] [--trials 5]
        [--benign-ops 5000] [--seed 8] [--dir PATH] [--smoke]

Starts Égide in this process on a free 127.0.0.1 port, with a real HTTP
server (uvicorn in a thread) and a `ManualClock`, so that simulated time
moves as the script says (the detector's windows use the services' clock).
Every simulated person drives it with httpx over loopback, through a session
(signed in with a password; `mfa_required = "none"`) or an API token.

1. **The space**: `--files` realistic files (fixed seed): office documents
   (.docx, .xlsx, .odt: zip containers with XML inside), PDF (header, objects
   with deflated streams, xref, trailer, `%%EOF`), JPEG and PNG (valid
   chunks), DICOM (preamble, `DICM`, meta and patient elements, pixel data),
   text (.txt, .csv, .hl7) and .zip archives, spread over `--folders`
   folders, from 2 KiB to about 1 MiB (most small). Written in-process by
   the local system (never scored), once.
2. **Families**, each `--trials` times, each trial by a fresh contributor
   signed in through the API, starting in another folder: the attacker walks
   the folders in order (a directory walk), reads each file and does its
   damage, until the server answers 423 (contained). The files it modified
   (overwrote, renamed, deleted) before that are counted. Families:
   `in-place` (AES-CTR over the whole file), `rename` (in place, then a new
   extension), `copy-delete` (an encrypted copy `.enc`, the original
   deleted), `head-4k` (only the first 4 KiB), `intermittent` (every other
   64 KiB block), `slow` (in place, one file per minute of simulated time),
   and two not in the issue's list, to check that the detection generalises:
   `notes-xor` (a ransom note in each folder first, then a 512-byte XOR key
   that keeps the first 16 bytes, the magic, intact) and `base64` (AES, then
   base64: printable, lower entropy).
3. **Roll-back** after each trial: `POST /api/v1/incidents/{id}/restore` by
   an administrator's token; then a reader compares every file of the space
   with the original through the API: each file's SHA-256 as the listing
   gives it, and the downloaded bytes of every file the attacker read; after
   the first and the last trial (every trial with `--full-verify`) every
   file is downloaded and hashed. Files not in the original (the attacker's
   copies and notes: the roll-back leaves what the user created) are counted
   as leftovers. Then the space is put back exactly in-process (anything the
   roll-back missed) and the incident released.
4. **Benign workloads**, `--benign-ops` changes in all (uploads, new
   folders, moves; the downloads that go with them are counted apart), each
   by a fresh user who must never be contained: editing documents (new
   versions of docx, odt, xlsx, txt, csv, hl7 with small changes, the same
   files again and again), saving new versions of PDFs (rewritten, or an
   incremental update appended), bulk uploads of already-compressed files
   (zip, JPEG, MP4-like, DICOM with JPEG pixel data) in new folders,
   reorganising (mass moves and renames into new folders), a sync client
   with an API token re-uploading whole folders (same and slightly changed
   content). False alarms: 423 answers and incidents opened for these
   users; the highest window scores they reached are printed too.

Prints a table with the targets of the issue (median files modified before
containment <= 3, max <= 10, every byte restored, zero false alarms) and
PASS/FAIL. The exit code is 0 whatever the result: this is a measurement.
`--smoke` runs tiny sizes (CI, tests/benchmarks).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import io
import os
import random
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import argon2
import httpx
import uvicorn
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy.orm import Session

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.core.ransomware.scoring import EventKind, ScoredEvent, score
from egide.services.access.policy import GlobalRole, Principal
from egide.services.registry import Services, build_services, initialise
from egide.web.app import create_app

SYSTEM = Principal.system()
PASSWORD = "correct horse battery staple 42"  # noqa: S105 - a throw-away vault
SPACE = "dossiers"
API = f"/api/v1/spaces/{SPACE}"
KIB = 1024
#: The issue's targets.
MEDIAN_TARGET, MAX_TARGET = 3, 10
FAMILIES = (
    "in-place",
    "rename",
    "copy-delete",
    "head-4k",
    "intermittent",
    "slow",
    "notes-xor",
    "base64",
)
#: Share of the benign operations per workload.
BENIGN = (
    ("editing documents", 0.24),
    ("new PDF versions", 0.16),
    ("bulk compressed uploads", 0.20),
    ("reorganising", 0.20),
    ("sync client re-upload", 0.20),
)

# Realistic content ---------------------------------------------------------------

WORDS = (  # noqa: SIM905 - a sentence reads better than a list of words
    "patient compte rendu consultation cardiologie tension artérielle fréquence "
    "cardiaque examen clinique antécédents traitement posologie mg ordonnance "
    "biologie glycémie créatinine hémoglobine radiographie thorax scanner IRM "
    "échographie conclusion suivi rendez-vous semaines service urgences médecin "
    "infirmier sortie hospitalisation allergie aucune normal stable amélioration "
    "le la les de du des et en au pour avec sans sur sous dans un une est sont"
).split()


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(6, 16))).capitalize() + ".\n"


#: Sentences drawn from once (drawing words for each line of 100 MiB is slow).
SENTENCES = [_sentence(random.Random(i)) for i in range(3000)]


def prose(rng: random.Random, size: int) -> str:
    lines = rng.choices(SENTENCES, k=size // 60 + 1)
    return "".join(lines)[:size]


def txt(rng: random.Random, size: int) -> bytes:
    return prose(rng, size).encode()


def csv_file(rng: random.Random, size: int) -> bytes:
    rows = ["date;service;acte;quantite;montant\n"]
    total = len(rows[0])
    while total < size:
        row = (
            f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d};"
            f"{rng.choice(WORDS)};{rng.randint(1000, 9999)};{rng.randint(1, 9)};"
            f"{rng.randint(10, 9999)},{rng.randint(0, 99):02d}\n"
        )
        rows.append(row)
        total += len(row)
    return "".join(rows).encode()


def hl7(rng: random.Random, size: int) -> bytes:
    out = [
        f"MSH|^~\\&|LAB|HOP|EGIDE|HOP|20260302||ORU^R01|{rng.randint(1, 10**8)}|P|2.5\r",
        f"PID|1||{rng.randint(1, 10**8):08d}^^^HOP||NOM^PRENOM\r",
    ]
    total = sum(map(len, out))
    i = 1
    while total < size:
        seg = f"OBX|{i}|NM|2345-7^GLUCOSE||{rng.uniform(3, 9):.1f}|mmol/L|3.9-5.8|N\r"
        out.append(seg)
        total += len(seg)
        i += 1
    return "".join(out).encode()


def jpeg(rng: random.Random, size: int) -> bytes:
    """SOI, APP0 JFIF, DQT, SOF0, DHT, SOS, entropy-coded data (no 0xFF), EOI."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = (
        b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes(rng.randint(1, 50) for _ in range(64))
    )
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, 480, 640, 3)
    sof += b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    dht = b"\xff\xc4" + struct.pack(">H", 31) + b"\x00" + bytes([0, 1, 5, 1, 1, 1, 1, 1, 1])
    dht += bytes(7) + bytes(range(12))
    sos = b"\xff\xda" + struct.pack(">HB", 12, 3) + b"\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
    head = b"\xff\xd8" + app0 + dqt + sof + dht + sos
    body = rng.randbytes(max(0, size - len(head) - 2)).replace(b"\xff", b"\xfe")
    return head + body + b"\xff\xd9"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(rng: random.Random, size: int) -> bytes:
    """A screenshot-like image: rows drawn from a few smooth, slightly noisy
    patterns (uniform areas, gradients), deflated."""
    width = 256
    noise = rng.randbytes(width * 3)
    patterns = []
    for _ in range(12):
        base = rng.randint(0, 200)
        step = rng.randint(0, 3)
        patterns.append(
            b"\x00"
            + bytes((base + step * (x // 24) + (noise[x] & 0x07)) & 0xFF for x in range(width * 3))
        )
    height = max(8, size // (width // 2))
    raw = b"".join(rng.choices(patterns, k=height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(raw, 6))
        + _png_chunk(b"IEND", b"")
    )


def _dicom_element(group: int, element: int, vr: bytes, value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\x00" if vr in (b"UI", b"OB", b"OW") else b" "
    if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT"):
        head = struct.pack("<HH", group, element) + vr + b"\x00\x00"
        return head + struct.pack("<I", len(value)) + value
    return struct.pack("<HH", group, element) + vr + struct.pack("<H", len(value)) + value


def dicom(rng: random.Random, size: int, *, compressed: bool = False) -> bytes:
    """Part 10: preamble, DICM, meta group, patient and image elements, pixel data
    (16-bit smooth noise; JPEG-like high-entropy bytes when `compressed`)."""
    syntax = b"1.2.840.10008.1.2.4.70" if compressed else b"1.2.840.10008.1.2.1"
    meta_body = (
        struct.pack("<HH", 2, 1)
        + b"OB\x00\x00"
        + struct.pack("<I", 2)
        + b"\x00\x01"
        + _dicom_element(0x0002, 0x0002, b"UI", b"1.2.840.10008.5.1.4.1.1.2")
        + _dicom_element(0x0002, 0x0003, b"UI", f"1.2.250.1.{rng.randint(1, 10**9)}".encode())
        + _dicom_element(0x0002, 0x0010, b"UI", syntax)
    )
    meta = _dicom_element(0x0002, 0x0000, b"UL", struct.pack("<I", len(meta_body))) + meta_body
    dataset = (
        _dicom_element(0x0008, 0x0060, b"CS", b"CT")
        + _dicom_element(0x0010, 0x0010, b"PN", b"ANONYME^PATIENT")
        + _dicom_element(0x0010, 0x0020, b"LO", str(rng.randint(1, 10**8)).encode())
        + _dicom_element(0x0028, 0x0010, b"US", struct.pack("<H", 256))
        + _dicom_element(0x0028, 0x0011, b"US", struct.pack("<H", 256))
    )
    head = b"\x00" * 128 + b"DICM" + meta + dataset
    pixels_len = max(64, size - len(head) - 12) & ~1
    if compressed:
        pixels = jpeg(rng, pixels_len)
        pixels += b"\x00" * (len(pixels) % 2)
    else:
        # A 12-bit random walk (one image line), repeated from random offsets.
        level = rng.randint(200, 1200)
        line = bytearray()
        for step in rng.randbytes(1024):
            level = max(0, min(4095, level + (step % 9) - 4))
            line += struct.pack("<H", level)
        walk = bytes(line) * 2
        lines = (
            walk[o : o + 2048] for o in rng.choices(range(0, 2048, 2), k=pixels_len // 2048 + 1)
        )
        pixels = b"".join(lines)[:pixels_len]
    pixel = struct.pack("<HH", 0x7FE0, 0x0010) + b"OW\x00\x00" + struct.pack("<I", len(pixels))
    return head + pixel + pixels


def _zip(files: list[tuple[str, bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, method in files:
            info = zipfile.ZipInfo(name, date_time=(2026, 3, 2, 9, 0, 0))
            info.compress_type = method
            z.writestr(info, data)
    return buf.getvalue()


def _word_xml(text: str) -> bytes:
    paragraphs = "".join(f"<w:p><w:r><w:t>{line}</w:t></w:r></w:p>" for line in text.splitlines())
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="'
        'http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
        f"{paragraphs}</w:body></w:document>"
    ).encode()


def docx(rng: random.Random, size: int, text: str | None = None) -> bytes:
    text = prose(rng, max(6000, size * 2)) if text is None else text
    files = [
        ("[Content_Types].xml", b'<?xml version="1.0"?><Types/>', zipfile.ZIP_DEFLATED),
        ("_rels/.rels", b'<?xml version="1.0"?><Relationships/>', zipfile.ZIP_DEFLATED),
        ("word/document.xml", _word_xml(text), zipfile.ZIP_DEFLATED),
    ]
    if size > 24 * KIB:  # a picture in the document, as reports have
        files.append(("word/media/image1.jpeg", jpeg(rng, size // 2), zipfile.ZIP_STORED))
    return _zip(files)


def xlsx(rng: random.Random, size: int) -> bytes:
    cells = []
    total = 0
    r = 1
    while total < size * 3:
        row = f'<row r="{r}">' + "".join(
            f'<c r="{col}{r}"><v>{rng.randint(0, 99999)}</v></c>' for col in "ABCDEF"
        )
        cells.append(row + "</row>")
        total += len(cells[-1])
        r += 1
    sheet = '<?xml version="1.0"?><worksheet><sheetData>' + "".join(cells)
    return _zip(
        [
            ("[Content_Types].xml", b'<?xml version="1.0"?><Types/>', zipfile.ZIP_DEFLATED),
            ("xl/workbook.xml", b'<?xml version="1.0"?><workbook/>', zipfile.ZIP_DEFLATED),
            ("xl/worksheets/sheet1.xml", (sheet + "</sheetData></worksheet>").encode(), 8),
        ]
    )


def odt(rng: random.Random, size: int, text: str | None = None) -> bytes:
    text = prose(rng, max(6000, size * 2)) if text is None else text
    body = "".join(f"<text:p>{line}</text:p>" for line in text.splitlines())
    content = f'<?xml version="1.0"?><office:document-content><office:body>{body}'
    return _zip(
        [
            ("mimetype", b"application/vnd.oasis.opendocument.text", zipfile.ZIP_STORED),
            ("META-INF/manifest.xml", b'<?xml version="1.0"?><manifest/>', 8),
            ("content.xml", (content + "</office:body></office:document-content>").encode(), 8),
        ]
    )


def pdf(rng: random.Random, size: int, text: str | None = None) -> bytes:
    """Header, catalog, pages, a deflated content stream (and an image stream for
    bigger ones), a correct xref table, trailer, startxref, %%EOF."""
    text = prose(rng, max(5000, size * 2)) if text is None else text
    content = zlib.compress(
        b"BT /F1 10 Tf 50 800 Td "
        + b" ".join(b"(" + line.encode() + b") Tj T*" for line in text.splitlines())
        + b" ET"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content)
        + content
        + b"\nendstream",
    ]
    if size > 32 * KIB:
        image = jpeg(rng, size // 2)
        objects.append(
            b"<< /Type /XObject /Subtype /Image /Width 640 /Height 480 /Length %d "
            b"/Filter /DCTDecode >>\nstream\n" % len(image) + image + b"\nendstream"
        )
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def pdf_incremental(rng: random.Random, data: bytes) -> bytes:
    """A new version as readers save it: an annotation appended, a new xref section."""
    annotation = b"<< /Type /Annot /Subtype /Text /Contents (%s) >>" % (
        " ".join(rng.choices(WORDS, k=8)).encode()
    )
    start = len(data)
    number = 90 + rng.randint(0, 9)
    added = b"%d 0 obj\n" % number + annotation + b"\nendobj\n"
    xref = start + len(added)
    return (
        data
        + added
        + b"xref\n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root 1 0 R >>\n"
        % (number, start, number + 1)
        + b"startxref\n%d\n%%%%EOF\n" % xref
    )


def archive(rng: random.Random, size: int) -> bytes:
    files: list[tuple[str, bytes, int]] = []
    total = 0
    i = 0
    while total < size:
        kind = i % 3
        if kind == 2:
            data = jpeg(rng, rng.randint(4 * KIB, 64 * KIB))
            files.append((f"photos/img_{i:03d}.jpg", data, zipfile.ZIP_STORED))
            total += len(data)
        else:
            data = txt(rng, rng.randint(8 * KIB, 96 * KIB))
            files.append((f"notes/note_{i:03d}.txt", data, zipfile.ZIP_DEFLATED))
            total += len(data) // 3
        i += 1
    return _zip(files)


def mp4(rng: random.Random, size: int) -> bytes:
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2"
    payload = rng.randbytes(max(0, size - 32))
    return ftyp + struct.pack(">I", len(payload) + 8) + b"mdat" + payload


#: extension -> (generator, share of the space, size class)
GENERATORS: dict[str, tuple[Callable[[random.Random, int], bytes], int]] = {
    "docx": (docx, 16),
    "xlsx": (xlsx, 6),
    "odt": (odt, 6),
    "pdf": (pdf, 18),
    "jpg": (jpeg, 10),
    "png": (png, 6),
    "dcm": (dicom, 10),
    "txt": (txt, 8),
    "csv": (csv_file, 6),
    "hl7": (hl7, 6),
    "zip": (archive, 8),
}
DEPARTMENTS = (
    "Cardiologie",
    "Urgences",
    "Radiologie",
    "Pediatrie",
    "Oncologie",
    "Pharmacie",
    "Direction",
    "Laboratoire",
    "Chirurgie",
    "Maternite",
)
TOPICS = (
    "Comptes-rendus",
    "Imagerie",
    "Protocoles",
    "Courriers",
    "Statistiques",
    "Qualite",
    "Archives-2024",
    "Archives-2025",
    "Staff",
    "Formation",
)


def file_size(rng: random.Random) -> int:
    """Most files small, a few large: 2 KiB to about 1 MiB."""
    draw = rng.random()
    if draw < 0.70:
        return rng.randint(2 * KIB, 32 * KIB)
    if draw < 0.95:
        return rng.randint(32 * KIB, 256 * KIB)
    return rng.randint(256 * KIB, 1000 * KIB)


def make_space(seed: int, files: int, folders: int) -> dict[str, bytes]:
    """path -> content, deterministic for a seed."""
    rng = random.Random(seed)
    names = [f"{d}/{t}" for d in DEPARTMENTS for t in TOPICS]
    while len(names) < folders:
        names.append(f"Divers/Lot-{len(names):03d}")
    names = names[:folders]
    kinds = [ext for ext, (_, share) in GENERATORS.items() for _ in range(share)]
    space: dict[str, bytes] = {}
    for i in range(files):
        ext = rng.choice(kinds)
        folder = names[i % len(names)] if i < len(names) else rng.choice(names)
        make, _ = GENERATORS[ext]
        space[f"{folder}/doc_{i:05d}.{ext}"] = make(rng, file_size(rng))
    return space


# Attacks ---------------------------------------------------------------------


def aes_ctr(data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(os.urandom(32)), modes.CTR(os.urandom(16))).encryptor()
    return enc.update(data) + enc.finalize()


def encrypt(family: str, data: bytes, xor_key: bytes) -> bytes:
    if family == "head-4k":
        return aes_ctr(data[: 4 * KIB]) + data[4 * KIB :]
    if family == "intermittent":
        block = 64 * KIB
        parts = [
            aes_ctr(data[i : i + block]) if (i // block) % 2 == 0 else data[i : i + block]
            for i in range(0, len(data), block)
        ]
        return b"".join(parts)
    if family == "notes-xor":
        keep = data[:16]
        rest = data[16:]
        key = (xor_key * (len(rest) // len(xor_key) + 1))[: len(rest)]
        return keep + bytes(a ^ b for a, b in zip(rest, key, strict=True))
    if family == "base64":
        return base64.b64encode(aes_ctr(data))
    return aes_ctr(data)


RANSOM_NOTE = (
    b"VOS FICHIERS SONT CHIFFRES. YOUR FILES ARE ENCRYPTED.\n"
    b"Pour les recuperer, contactez recover@example.invalid avec l'identifiant 7F3A-22.\n"
)


class Contained(Exception):
    """The server answered 423."""


def _ok(response: httpx.Response) -> httpx.Response:
    if response.status_code == 423:
        raise Contained
    response.raise_for_status()
    return response


@dataclass
class Trial:
    family: str
    modified: int = 0
    contained: bool = False
    notes: int = 0
    incident: str | None = None
    score: float = 0.0
    signals: dict[str, int] = field(default_factory=dict)
    restore: dict[str, int] | None = None
    identical: int = 0
    differing: int = 0
    missing: int = 0
    leftovers: int = 0
    downloaded: int = 0
    conflicts: dict[str, int] = field(default_factory=dict)
    #: Paths the attacker read (and perhaps changed), in order.
    touched: list[str] = field(default_factory=list)


def attack(
    family: str, client: httpx.Client, clock: ManualClock, walk: list[str], trial: Trial
) -> None:
    """Work through `walk` (at most its length: the caller cuts it where an
    attacker never contained gives up) until the server answers 423."""
    xor_key = os.urandom(512)
    noted: set[str] = set()
    try:
        for path in walk:
            folder = path.rsplit("/", 1)[0]
            if family == "notes-xor" and folder not in noted:
                clock.advance(seconds=0.2)
                _ok(
                    client.put(
                        f"{API}/content/{folder}/LISEZ-MOI-RESTAURATION.txt", content=RANSOM_NOTE
                    )
                )
                noted.add(folder)
                trial.notes += 1
            clock.advance(minutes=1) if family == "slow" else clock.advance(seconds=0.5)
            trial.touched.append(path)
            data = _ok(client.get(f"{API}/content/{path}")).content
            locked = encrypt(family, data, xor_key)
            if family == "copy-delete":
                _ok(client.put(f"{API}/content/{path}.enc", content=locked))
                trial.modified += 1
                _ok(client.delete(f"{API}/nodes/{path}"))
            elif family == "rename":
                _ok(client.put(f"{API}/content/{path}", content=locked))
                trial.modified += 1
                _ok(client.post(f"{API}/move", json={"from": path, "to": f"{path}.crpt7"}))
            else:
                _ok(client.put(f"{API}/content/{path}", content=locked))
                trial.modified += 1
    except Contained:
        trial.contained = True


# The live server ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def live_server(svc: Services) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(svc), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="egide-bench-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Égide server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class Bench:
    def __init__(self, root: Path, seed: int, overrides: dict[str, str] | None = None) -> None:
        self.clock = ManualClock(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC))
        self.settings = Settings(
            data_dir=root / "vault",
            mfa_required="none",
            ransomware_detection=True,
            session_idle_minutes=24 * 60,
            session_lifetime_hours=24 * 30,
        )
        if overrides:  # what-if runs: other thresholds or weights (--set)
            self.settings = self.settings.with_overrides(**overrides)
        initialise(self.settings)
        fast = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        self.svc = build_services(self.settings, clock=self.clock, hasher=fast)
        # The space's manager writes the space and puts it back between trials,
        # in-process (scored like anyone: it never looks like ransomware).
        owner = self.svc.accounts.create_user(SYSTEM, "bench-owner", password=PASSWORD)
        self.owner = self.svc.accounts.principal_for(owner.id)
        self.svc.spaces.create(SYSTEM, SPACE, title="Dossiers", managers=["bench-owner"])
        self.users = 0
        admin = self.svc.accounts.create_user(
            SYSTEM, "bench-admin", password=PASSWORD, roles=[GlobalRole.ADMIN]
        )
        _, self.admin_token = self.svc.accounts.create_token(
            self.svc.accounts.principal_for(admin.id), "bench", ["admin"]
        )
        reader = self.svc.accounts.principal_for(
            self.svc.accounts.create_user(SYSTEM, "bench-reader", password=PASSWORD).id
        )
        self.svc.spaces.grant(SYSTEM, SPACE, "", "user:bench-reader", "reader")
        _, self.reader_token = self.svc.accounts.create_token(reader, "verify", ["files:read"])
        self.base = ""
        self.seed = seed
        self.events: list[tuple[str | None, ScoredEvent, dt.datetime]] = []
        self._watch_events()

    def _watch_events(self) -> None:
        """Note every weighted event the detector records (user, kind, weight,
        instant), to report the highest window scores the benign users reached:
        an observation only, the detector runs unchanged."""
        detector = self.svc.files.detector
        record = getattr(detector, "_event", None)
        if record is None:  # no detector, or it records otherwise: nothing observed
            return

        def observed(
            session: Session,
            actor: Principal,
            event: tuple[str, EventKind, float],
            **kwargs: Any,
        ) -> None:
            _, kind, weight = event
            if weight > 0:
                self.events.append((actor.user_id, ScoredEvent(kind, weight), kwargs["now"]))
            record(session, actor, event, **kwargs)

        setattr(detector, "_event", observed)  # noqa: B010 - a method of this instance only

    def peak_scores(self, user_ids: list[str]) -> tuple[float, float, int]:
        """The highest short- and long-window scores of these users' events (what
        the detector compared with its thresholds), and their weighted events."""
        thresholds = self.svc.files.detector.config.thresholds if self.svc.files.detector else None
        short_s = thresholds.short_seconds if thresholds else 60
        long_s = thresholds.long_seconds if thresholds else 600
        mine = [(e, at) for user, e, at in self.events if user in user_ids]
        peak_short = peak_long = 0.0
        for _, now in mine:
            peak_short = max(
                peak_short,
                score(e for e, at in mine if now - dt.timedelta(seconds=short_s) <= at <= now),
            )
            peak_long = max(
                peak_long,
                score(e for e, at in mine if now - dt.timedelta(seconds=long_s) <= at <= now),
            )
        return peak_short, peak_long, len(mine)

    def user(self, prefix: str) -> tuple[str, str]:
        """A fresh contributor of the space: (username, user id)."""
        self.users += 1
        name = f"{prefix}-{self.users:03d}"
        user = self.svc.accounts.create_user(SYSTEM, name, password=PASSWORD)
        self.svc.spaces.grant(SYSTEM, SPACE, "", f"user:{name}", "contributor")
        return name, user.id

    def session_client(self, username: str) -> httpx.Client:
        client = httpx.Client(base_url=self.base, timeout=120, headers={"Accept-Language": "en"})
        signed = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
        signed.raise_for_status()
        client.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        return client

    def token_client(self, secret: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base,
            timeout=600,
            headers={"Authorization": f"Bearer {secret}", "Accept-Language": "en"},
        )

    def write_space(self, space: dict[str, bytes]) -> None:
        folders = sorted({p.rsplit("/", 1)[0] for p in space})
        for folder in folders:
            self.svc.nodes.mkdir(self.owner, SPACE, folder, parents=True)
        for path, data in space.items():
            self.svc.files.write(self.owner, SPACE, path, [data])

    def listing(self, client: httpx.Client) -> dict[str, tuple[str, str | None]]:
        """Every item of the space through the API: path -> (kind, SHA-256 of a file)."""
        found: dict[str, tuple[str, str | None]] = {}
        pending = [""]
        while pending:
            folder = pending.pop()
            page = _ok(client.get(f"{API}/nodes/{folder}", params={"limit": 10000})).json()
            for item in page["items"]:
                path = f"{folder}/{item['name']}" if folder else item["name"]
                found[path] = (item["kind"], item["sha256"])
                if item["kind"] == "folder":
                    pending.append(path)
        return found

    def download_check(
        self, client: httpx.Client, digests: dict[str, str], paths: list[str]
    ) -> list[str]:
        """Download `paths` through the API; returns those whose bytes differ from
        the original (or are missing)."""
        wrong = []
        for path in paths:
            got = client.get(f"{API}/content/{path}")
            if got.status_code != 200 or hashlib.sha256(got.content).hexdigest() != digests[path]:
                wrong.append(path)
        return wrong

    def verify(
        self, client: httpx.Client, digests: dict[str, str], trial: Trial, *, full: bool
    ) -> tuple[list[str], list[str]]:
        """Compare every file of the space with the original: its SHA-256 as the
        listing gives it, and the bytes downloaded of every file the attacker
        touched (of every file when `full`). Returns the files to put back and the
        extra files (leftovers)."""
        listed = {p: sha for p, (kind, sha) in self.listing(client).items() if kind == "file"}
        wrong = {p for p, digest in digests.items() if listed.get(p) != digest}
        to_download = sorted(digests) if full else [p for p in trial.touched if p in digests]
        wrong.update(self.download_check(client, digests, to_download))
        trial.downloaded = len(to_download)
        trial.missing = sum(1 for p in wrong if p not in listed)
        trial.differing = len(wrong) - trial.missing
        trial.identical = len(digests) - len(wrong)
        extra = sorted(listed.keys() - digests.keys())
        trial.leftovers = len(extra)
        return sorted(wrong), extra

    def reset(self, space: dict[str, bytes], wrong: list[str], extra: list[str]) -> None:
        """Put the space back exactly for the next trial (in-process, by the space's
        manager): what the roll-back left is fixed by hand."""
        for path in extra:
            self.svc.nodes.delete(self.owner, SPACE, path)
        for path in wrong:
            self.svc.files.write(self.owner, SPACE, path, [space[path]])


def _walk(paths: list[str], start: int) -> list[str]:
    """The attacker's order: folders sorted, from the `start`-th, files by name."""
    folders = sorted({p.rsplit("/", 1)[0] for p in paths})
    first = folders[start % len(folders)]
    return sorted(paths, key=lambda p: (p.rsplit("/", 1)[0] < first, p))


def run_trial(
    bench: Bench,
    *,
    family: str,
    number: int,
    space: dict[str, bytes],
    digests: dict[str, str],
    admin: httpx.Client,
    reader: httpx.Client,
    full: bool,
    give_up: int,
) -> Trial:
    trial = Trial(family)
    name, user_id = bench.user(f"attacker-{family}")
    walk = _walk(list(space), start=number * 7 + FAMILIES.index(family) * 13)[:give_up]
    with contextlib.closing(bench.session_client(name)) as client:
        attack(family, client, bench.clock, walk, trial)
    incidents = _ok(admin.get("/api/v1/incidents", params={"status": "open"})).json()
    mine = [i for i in incidents if i["user_id"] == user_id]
    if mine:
        incident = _ok(admin.get(f"/api/v1/incidents/{mine[0]['id']}")).json()
        trial.incident, trial.score = incident["id"], incident["score"]
        for event in incident["events"]:
            for signal in event["signals"] or [event["kind"]]:
                trial.signals[signal] = trial.signals.get(signal, 0) + 1
        restored = admin.post(f"/api/v1/incidents/{incident['id']}/restore")
        if restored.status_code in (404, 405):  # no roll-back endpoint in this version
            trial.restore = None
        else:
            body = _ok(restored).json()
            trial.restore = {k: body[k] for k in ("restored", "undeleted", "renamed_back")}
            trial.restore["skipped"] = body["skipped"]
            trial.restore["conflicts"] = len(body["conflicts"])
            for conflict in body["conflicts"]:
                trial.conflicts[conflict["reason"]] = trial.conflicts.get(conflict["reason"], 0) + 1
    wrong, extra = bench.verify(reader, digests, trial, full=full)
    bench.reset(space, wrong, extra)
    if trial.incident is not None:
        _ok(admin.post(f"/api/v1/incidents/{trial.incident}/release"))
    bench.clock.advance(minutes=30)  # the next attacker starts with empty windows
    return trial


# Benign workloads --------------------------------------------------------------


@dataclass
class Workload:
    name: str
    #: Changes (uploads, new folders, moves); the downloads that go with them apart.
    ops: int = 0
    reads: int = 0
    refused: int = 0
    errors: int = 0
    incidents: int = 0
    user_ids: list[str] = field(default_factory=list)
    first_error: str | None = None
    weighted: int = 0
    peak_short: float = 0.0
    peak_long: float = 0.0


def edit(rng: random.Random, path: str, data: bytes) -> bytes:
    ext = path.rsplit(".", 1)[-1]
    addition = " ".join(rng.choices(WORDS, k=rng.randint(3, 20))).capitalize() + "."
    if ext in ("docx", "odt", "xlsx"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = [(i, z.read(i)) for i in z.infolist()]
        out: list[tuple[str, bytes, int]] = []
        for info, content in members:
            changed = content
            if info.filename in ("word/document.xml", "content.xml"):
                marker = b"</w:body>" if b"</w:body>" in content else b"</office:body>"
                para = f"<w:p><w:r><w:t>{addition}</w:t></w:r></w:p>".encode()
                changed = content.replace(marker, para + marker)
            elif info.filename.endswith("sheet1.xml"):
                changed = content.replace(
                    b"</sheetData>",
                    f'<row r="99999"><c><v>{rng.randint(1, 9)}</v></c></row>'.encode()
                    + b"</sheetData>",
                )
            out.append((info.filename, changed, info.compress_type))
        return _zip(out)
    if ext in ("txt", "csv", "hl7"):
        cut = rng.randint(0, len(data))
        return data[:cut] + addition.encode() + b"\n" + data[cut:]
    return data


class Benign:
    """The benign workloads, each by a fresh user who must never be contained."""

    def __init__(self, bench: Bench, space: dict[str, bytes], seed: int) -> None:
        self.bench = bench
        self.rng = random.Random(seed + 1)
        self.paths = sorted(space)
        self.by_ext: dict[str, list[str]] = {}
        for p in self.paths:
            self.by_ext.setdefault(p.rsplit(".", 1)[-1], []).append(p)

    def run(self, total_ops: int) -> list[Workload]:
        steps: dict[str, Callable[[Workload, httpx.Client, int], None]] = {
            "editing documents": self.editing,
            "new PDF versions": self.pdf_versions,
            "bulk compressed uploads": self.bulk,
            "reorganising": self.reorganise,
            "sync client re-upload": self.sync,
        }
        results = []
        for name, share in BENIGN:
            budget = max(1, round(total_ops * share))
            work = Workload(name)
            username, user_id = self.bench.user("staff")
            work.user_ids.append(user_id)
            if name == "sync client re-upload":
                principal = self.bench.svc.accounts.principal_for(user_id)
                _, secret = self.bench.svc.accounts.create_token(
                    principal, "sync", ["files:read", "files:write"]
                )
                client = self.bench.token_client(secret)
            else:
                client = self.bench.session_client(username)
            with contextlib.closing(client):
                steps[name](work, client, budget)
            results.append(work)
        return results

    @staticmethod
    def counted(
        work: Workload, response: httpx.Response, *, read: bool = False
    ) -> httpx.Response | None:
        """Count a change (or a read) and its answer; None unless it succeeded."""
        if read:
            work.reads += 1
        else:
            work.ops += 1
        if response.status_code == 423:
            work.refused += 1
            return None
        if response.status_code >= 400:
            work.errors += 1
            if work.first_error is None:
                work.first_error = f"{response.status_code} {response.text[:200]}"
            return None
        return response

    def editing(self, work: Workload, client: httpx.Client, budget: int) -> None:
        """Open a document, change a few words, save; the same files again and again."""
        rng = self.rng
        docs = [
            p for e in ("docx", "odt", "xlsx", "txt", "csv", "hl7") for p in self.by_ext.get(e, [])
        ]
        pool = rng.sample(docs, min(len(docs), max(1, budget // 4)))
        current: dict[str, bytes] = {}
        while work.ops < budget:
            path = rng.choice(pool)
            self.bench.clock.advance(seconds=rng.uniform(1, 20))
            if path not in current:
                got = self.counted(work, client.get(f"{API}/content/{path}"), read=True)
                if got is not None:
                    current[path] = got.content
                continue
            current[path] = edit(rng, path, current[path])
            self.counted(work, client.put(f"{API}/content/{path}", content=current[path]))

    def pdf_versions(self, work: Workload, client: httpx.Client, budget: int) -> None:
        """Save PDFs again: an annotation appended (incremental update) or rewritten."""
        rng = self.rng
        pdfs = self.by_ext.get("pdf", [])
        pool = rng.sample(pdfs, min(len(pdfs), max(1, budget // 3)))
        while work.ops < budget:
            path = rng.choice(pool)
            self.bench.clock.advance(seconds=rng.uniform(1, 10))
            if rng.random() < 0.5:
                got = self.counted(work, client.get(f"{API}/content/{path}"), read=True)
                if got is None:
                    continue
                new = pdf_incremental(rng, got.content)
            else:
                new = pdf(rng, file_size(rng))
            self.counted(work, client.put(f"{API}/content/{path}", content=new))

    def bulk(self, work: Workload, client: httpx.Client, budget: int) -> None:
        """Folders of already-compressed files uploaded one after the other."""
        rng = self.rng
        makers: list[tuple[str, Callable[[random.Random, int], bytes]]] = [
            ("zip", archive),
            ("jpg", jpeg),
            ("mp4", mp4),
            ("dcm", lambda r, s: dicom(r, s, compressed=True)),
        ]
        batch = 0
        while work.ops < budget:
            folder = f"Import/2026-03-02/lot-{batch:03d}"
            if batch == 0:
                client.post(f"{API}/folders/Import")
                client.post(f"{API}/folders/Import/2026-03-02")
            self.counted(work, client.post(f"{API}/folders/{folder}"))
            for j in range(min(50, budget - work.ops)):
                ext, make = makers[j % len(makers)]
                self.bench.clock.advance(seconds=0.2)
                data = make(rng, rng.randint(16 * KIB, 200 * KIB))
                path = f"{API}/content/{folder}/f{j:03d}.{ext}"
                self.counted(work, client.put(path, content=data))
            batch += 1

    def reorganise(self, work: Workload, client: httpx.Client, budget: int) -> None:
        """Files moved into new folders by year, and renamed (same extension)."""
        rng = self.rng
        made: set[str] = set()
        for i, path in enumerate(rng.sample(self.paths, min(len(self.paths), budget))):
            if work.ops >= budget:
                break
            folder, base = path.rsplit("/", 1)
            year = 2020 + i % 5
            target = f"Classement/{year}/{folder.replace('/', '-')}"
            for level in ("Classement", f"Classement/{year}", target):
                if level not in made:  # a folder, then its sub-folders
                    self.counted(work, client.post(f"{API}/folders/{level}"))
                    made.add(level)
            stem, ext = base.rsplit(".", 1)
            new_name = f"{year}-{stem.replace('doc_', 'piece-')}.{ext}"
            self.bench.clock.advance(seconds=0.1)
            move = {"from": path, "to": f"{target}/{new_name}"}
            self.counted(work, client.post(f"{API}/move", json=move))

    def sync(self, work: Workload, client: httpx.Client, budget: int) -> None:
        """A sync client re-uploads whole folders: same content, some slightly changed."""
        rng = self.rng
        files = sorted(p for p, (k, _) in self.bench.listing(client).items() if k == "file")
        folders = sorted({p.rsplit("/", 1)[0] for p in files})
        rng.shuffle(folders)
        while work.ops < budget and folders:
            folder = folders.pop()
            for path in [p for p in files if p.rsplit("/", 1)[0] == folder]:
                if work.ops >= budget:
                    break
                got = self.counted(work, client.get(f"{API}/content/{path}"), read=True)
                if got is None:
                    continue
                data = got.content
                if rng.random() < 0.3:
                    data = edit(rng, path, data)
                self.bench.clock.advance(seconds=0.05)
                self.counted(work, client.put(f"{API}/content/{path}", content=data))


# Report ------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(trials: list[Trial], workloads: list[Workload], restore_available: bool) -> None:
    print()
    print(
        f"{'family':<14} {'trials':>6} {'contained':>9} {'median':>6} {'max':>4} "
        f"{'restored every byte':<22} {'leftovers':>9}  target"
    )
    for family in FAMILIES:
        rows = [t for t in trials if t.family == family]
        if not rows:
            continue
        counts = [t.modified for t in rows]
        contained = sum(t.contained for t in rows)
        median, worst = statistics.median(counts), max(counts)
        files = sum(t.identical + t.differing + t.missing for t in rows)
        identical = sum(t.identical for t in rows)
        every = all(t.differing == 0 and t.missing == 0 for t in rows)
        leftovers = sum(t.leftovers for t in rows)
        restored = f"{'yes' if every else 'no'} ({identical}/{files})"
        if contained == 0:
            restored = f"no incident ({identical}/{files})"
        ok = contained == len(rows) and median <= MEDIAN_TARGET and worst <= MAX_TARGET
        ok = ok and every
        print(
            f"{family:<14} {len(rows):>6} {contained:>9} {median:>6g} {worst:>4} "
            f"{restored:<22} {leftovers:>9}  {verdict(ok)}"
        )
    print()
    print(
        f"{'benign workload':<26} {'changes':>8} {'reads':>6} {'423':>5} {'incidents':>9} "
        f"{'errors':>6}  target"
    )
    for w in workloads:
        ok = w.refused == 0 and w.incidents == 0
        print(
            f"{w.name:<26} {w.ops:>8} {w.reads:>6} {w.refused:>5} {w.incidents:>9} "
            f"{w.errors:>6}  {verdict(ok)}"
        )
        if w.first_error:
            print(f"  first error: {w.first_error}")
    total = sum(w.ops for w in workloads)
    alarms = sum(w.incidents for w in workloads)
    reads, refused = sum(w.reads for w in workloads), sum(w.refused for w in workloads)
    print(f"{'all':<26} {total:>8} {reads:>6} {refused:>5} {alarms:>9}")
    if not restore_available:
        print("\nroll-back: not available")
    print(
        f"\ntargets: median <= {MEDIAN_TARGET}, max <= {MAX_TARGET} files modified before "
        "containment per family, every byte restored, zero false alarms"
    )
    print("\nsignals per family (events of the incidents; score of each trial)")
    for family in FAMILIES:
        rows = [t for t in trials if t.family == family]
        if not rows:
            continue
        merged: dict[str, int] = {}
        for t in rows:
            for k, v in t.signals.items():
                merged[k] = merged.get(k, 0) + v
        scores = " ".join(f"{t.score:g}" if t.contained else "-" for t in rows)
        notes = sum(t.notes for t in rows)
        extra = f", notes dropped {notes}" if family == "notes-xor" else ""
        print(f"  {family:<13} scores [{scores}] {dict(sorted(merged.items()))}{extra}")
    print("\nbenign workloads: weighted events, highest score of a short and of a long window")
    for w in workloads:
        print(
            f"  {w.name:<26} {w.weighted:>5} events, short {w.peak_short:g}, long {w.peak_long:g}"
        )


@dataclass
class Results:
    trials: list[Trial]
    workloads: list[Workload]
    restore_available: bool


def run(args: argparse.Namespace) -> Results:
    root = Path(tempfile.mkdtemp(prefix="egide-ransomware-attack-", dir=args.dir))
    try:
        started = time.perf_counter()
        space = make_space(args.seed, args.files, args.folders)
        digests = {p: hashlib.sha256(d).hexdigest() for p, d in space.items()}
        size = sum(map(len, space.values()))
        overrides = dict(item.split("=", 1) for item in args.set)
        bench = Bench(root, args.seed, overrides)
        if overrides:
            print(f"settings: {overrides}")
        bench.write_space(space)
        print(
            f"space: {len(space)} files, {size / 2**20:.1f} MiB, {args.folders} folders "
            f"(written in {time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        trials: list[Trial] = []
        restore_available = True
        with live_server(bench.svc) as base:
            bench.base = base
            with (
                bench.token_client(bench.admin_token) as admin,
                bench.token_client(bench.reader_token) as reader,
            ):
                runs = [(f, n) for f in args.families for n in range(args.trials)]
                for family, number in runs:
                    t0 = time.perf_counter()
                    trial = run_trial(
                        bench,
                        family=family,
                        number=number,
                        space=space,
                        digests=digests,
                        admin=admin,
                        reader=reader,
                        # Every file downloaded after the first and the last trial
                        # (and after each with --full-verify).
                        full=args.full_verify or (family, number) in (runs[0], runs[-1]),
                        give_up=args.give_up,
                    )
                    trials.append(trial)
                    restore_available = restore_available and (
                        trial.restore is not None or not trial.contained
                    )
                    print(
                        f"{family:<13} trial {number + 1}: modified {trial.modified}, "
                        f"contained {trial.contained}, restore {trial.restore}, "
                        f"conflicts {trial.conflicts}, identical {trial.identical}/{len(space)} "
                        f"({trial.downloaded} downloaded), leftovers {trial.leftovers} "
                        f"({time.perf_counter() - t0:.1f} s)",
                        flush=True,
                    )
                t0 = time.perf_counter()
                workloads = Benign(bench, space, args.seed).run(args.benign_ops)
                every = _ok(admin.get("/api/v1/incidents")).json()
                for w in workloads:
                    w.incidents = sum(1 for i in every if i["user_id"] in w.user_ids)
                    w.peak_short, w.peak_long, w.weighted = bench.peak_scores(w.user_ids)
                print(
                    f"benign: {sum(w.ops for w in workloads)} changes, "
                    f"{sum(w.reads for w in workloads)} reads "
                    f"({time.perf_counter() - t0:.0f} s)",
                    flush=True,
                )
        bench.svc.close()
        report(trials, workloads, restore_available)
        print(f"\ntotal {time.perf_counter() - started:.0f} s")
        return Results(trials, workloads, restore_available)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ransomware.py attack", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--folders", type=int, default=100)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--benign-ops", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    parser.add_argument(
        "--full-verify",
        action="store_true",
        help="download every file after each trial (default: the files the attacker "
        "touched, every file's digest from the listing, and every file once at the end)",
    )
    parser.add_argument(
        "--give-up",
        type=int,
        default=60,
        help="files an attacker never contained works through before stopping (a FAIL)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SETTING=VALUE",
        help="a setting of the vault, e.g. ransomware_long_threshold=3 (a what-if run)",
    )
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument(
        "--smoke", action="store_true", help="60 files, 1 trial, 300 operations, give up at 15"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.files, args.folders, args.trials, args.benign_ops = 60, 10, 1, 300
        args.give_up = 15
    return args


def main(argv: list[str] | None = None) -> None:
    run(parse(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
