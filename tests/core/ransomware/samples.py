"""Small real files of the types hospitals store, built in memory, and the
bytes a ransomware writes in their place (AES-CTR, as most families use)."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def aes_ctr(data: bytes, key: bytes | None = None) -> bytes:
    cipher = Cipher(algorithms.AES(key or os.urandom(32)), modes.CTR(os.urandom(16)))
    enc = cipher.encryptor()
    return enc.update(data) + enc.finalize()


def text(seed: int = 0, lines: int = 400) -> bytes:
    return "".join(
        f"Compte rendu {seed}-{i}: tension {120 + i % 7}/80, fréquence {60 + i % 11}.\n"
        for i in range(lines)
    ).encode()


def hl7(seed: int = 0) -> bytes:
    return (
        f"MSH|^~\\&|LAB|HOP|EGIDE|HOP|20260302||ORU^R01|{seed}|P|2.5\r"
        f"PID|1||{seed:08d}^^^HOP||DUPONT^JEAN\r"
        "OBX|1|NM|2345-7^GLUCOSE||5.4|mmol/L|3.9-5.8|N\r" * 20
    ).encode()


def csv(seed: int = 0) -> bytes:
    return "".join(f"{seed},{i},{i * 3 % 17},ok\n" for i in range(300)).encode()


def pdf(seed: int = 0) -> bytes:
    stream = zlib.compress(text(seed))
    return (
        b"%PDF-1.7\n1 0 obj\n<< /Length "
        + str(len(stream)).encode()
        + b" /Filter /FlateDecode >>\nstream\n"
        + stream
        + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def docx(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"<w:document>" + text(seed) + b"</w:document>")
    return buf.getvalue()


def png(seed: int = 0, side: int = 32) -> bytes:
    rows = b"".join(b"\x00" + os.urandom(side * 3) for _ in range(side))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg(size: int = 20_000) -> bytes:
    # A JPEG's entropy-coded body is near-random; the markers make it a JPEG.
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + (
        os.urandom(size).replace(b"\xff", b"\xfe") + b"\xff\xd9"
    )


def dicom(seed: int = 0) -> bytes:
    meta = b"\x02\x00\x10\x00UI\x14\x001.2.840.10008.1.2.1\x00"
    return b"\x00" * 128 + b"DICM" + meta + os.urandom(8192)


def ole2() -> bytes:
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + b"\x3e\x00\x03\x00"
    header += b"\xfe\xff\x09\x00" + b"\x00" * (512 - 32)
    return header + text(3)[:4096]


def rtf() -> bytes:
    return b"{\\rtf1\\ansi " + text(1)[:2000].replace(b"\n", b"\\par ") + b"}"


SAMPLES: dict[str, bytes] = {
    "compte-rendu.txt": text(),
    "resultats.hl7": hl7(),
    "export.csv": csv(),
    "ordonnance.pdf": pdf(),
    "courrier.docx": docx(),
    "ecg.png": png(),
    "photo.jpg": jpeg(),
    "scanner.dcm": dicom(),
    "ancien.doc": ole2(),
    "lettre.rtf": rtf(),
}
