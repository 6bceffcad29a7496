"""File types from magic bytes, the type a name's extension promises, and
whether content still parses as its type (issue 8, item 1).

A table of the signatures that matter in hospitals (PDF, DICOM, office
documents old and new, images, archives, text/HL7/CSV), in pure Python: no
libmagic, so the same answer everywhere. Structural checks are cheap and work
on the first and last bytes only (`head`, `tail`), never on a whole file.
"""

from __future__ import annotations

import enum
from typing import Final


class FileKind(enum.StrEnum):
    PDF = "pdf"
    DICOM = "dicom"
    JPEG = "jpeg"
    PNG = "png"
    GIF = "gif"
    TIFF = "tiff"
    BMP = "bmp"
    WEBP = "webp"
    ZIP = "zip"  # also OOXML (docx, xlsx, pptx), ODF, jar, epub
    OLE2 = "ole2"  # old Office (doc, xls, ppt), msg
    RTF = "rtf"
    GZIP = "gzip"
    BZIP2 = "bzip2"
    XZ = "xz"
    ZSTD = "zstd"
    SEVENZIP = "7z"
    RAR = "rar"
    MP4 = "mp4"  # ISO base media: mp4, mov, m4a, heic
    RIFF = "riff"  # wav, avi
    MATROSKA = "mkv"
    MP3 = "mp3"
    OGG = "ogg"
    FLAC = "flac"
    SQLITE = "sqlite"
    PGP = "pgp"  # an OpenPGP message: encrypted on purpose
    TEXT = "text"  # plain text, CSV, HL7 v2, XML, HTML, JSON


#: (offset, magic, kind), longest first where prefixes overlap.
_SIGNATURES: Final[tuple[tuple[int, bytes, FileKind], ...]] = (
    (0, b"%PDF-", FileKind.PDF),
    (128, b"DICM", FileKind.DICOM),
    (0, b"\xff\xd8\xff", FileKind.JPEG),
    (0, b"\x89PNG\r\n\x1a\n", FileKind.PNG),
    (0, b"GIF87a", FileKind.GIF),
    (0, b"GIF89a", FileKind.GIF),
    (0, b"II*\x00", FileKind.TIFF),
    (0, b"MM\x00*", FileKind.TIFF),
    (0, b"PK\x03\x04", FileKind.ZIP),
    (0, b"PK\x05\x06", FileKind.ZIP),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", FileKind.OLE2),
    (0, b"{\\rtf", FileKind.RTF),
    (0, b"\x1f\x8b", FileKind.GZIP),
    (0, b"BZh", FileKind.BZIP2),
    (0, b"\xfd7zXZ\x00", FileKind.XZ),
    (0, b"\x28\xb5\x2f\xfd", FileKind.ZSTD),
    (0, b"7z\xbc\xaf\x27\x1c", FileKind.SEVENZIP),
    (0, b"Rar!\x1a\x07", FileKind.RAR),
    (4, b"ftyp", FileKind.MP4),
    (0, b"RIFF", FileKind.RIFF),
    (0, b"\x1a\x45\xdf\xa3", FileKind.MATROSKA),
    (0, b"ID3", FileKind.MP3),
    (0, b"OggS", FileKind.OGG),
    (0, b"fLaC", FileKind.FLAC),
    (0, b"SQLite format 3\x00", FileKind.SQLITE),
    (0, b"-----BEGIN PGP MESSAGE", FileKind.PGP),
)

_BY_EXTENSION: Final[dict[str, FileKind]] = {
    **dict.fromkeys(("pdf",), FileKind.PDF),
    **dict.fromkeys(("dcm", "dicom"), FileKind.DICOM),
    **dict.fromkeys(("jpg", "jpeg", "jpe", "jfif"), FileKind.JPEG),
    "png": FileKind.PNG,
    "gif": FileKind.GIF,
    **dict.fromkeys(("tif", "tiff"), FileKind.TIFF),
    "bmp": FileKind.BMP,
    "webp": FileKind.WEBP,
    **dict.fromkeys(
        (
            "zip",
            "docx",
            "docm",
            "dotx",
            "xlsx",
            "xlsm",
            "xltx",
            "pptx",
            "pptm",
            "odt",
            "ods",
            "odp",
            "odg",
            "epub",
            "jar",
            "apk",
            "vsdx",
        ),
        FileKind.ZIP,
    ),
    **dict.fromkeys(("doc", "dot", "xls", "xlt", "ppt", "pps", "msg", "vsd"), FileKind.OLE2),
    "rtf": FileKind.RTF,
    **dict.fromkeys(("gz", "tgz"), FileKind.GZIP),
    "bz2": FileKind.BZIP2,
    "xz": FileKind.XZ,
    "zst": FileKind.ZSTD,
    "7z": FileKind.SEVENZIP,
    "rar": FileKind.RAR,
    **dict.fromkeys(("mp4", "m4v", "m4a", "mov", "heic", "heif", "3gp"), FileKind.MP4),
    **dict.fromkeys(("wav", "avi"), FileKind.RIFF),
    **dict.fromkeys(("mkv", "webm"), FileKind.MATROSKA),
    "mp3": FileKind.MP3,
    **dict.fromkeys(("ogg", "oga", "opus"), FileKind.OGG),
    "flac": FileKind.FLAC,
    **dict.fromkeys(("sqlite", "sqlite3", "db"), FileKind.SQLITE),
    **dict.fromkeys(
        (
            "txt",
            "csv",
            "tsv",
            "hl7",
            "xml",
            "html",
            "htm",
            "json",
            "md",
            "log",
            "ini",
            "cfg",
            "conf",
            "yaml",
            "yml",
            "css",
            "js",
            "py",
            "sql",
            "svg",
            "eml",
            "ics",
            "vcf",
            "tex",
            "rst",
        ),
        FileKind.TEXT,
    ),
}

#: Extensions people use on purpose for content with no recognisable magic,
#: or for back-ups and temporary copies: renaming to them is not suspicious.
_USUAL_OTHER_EXTENSIONS: Final = frozenset(
    {
        "bak",
        "old",
        "orig",
        "tmp",
        "temp",
        "swp",
        "part",
        "crdownload",
        "bin",
        "dat",
        "iso",
        "img",
        "exe",
        "dll",
        "msi",
        "lnk",
        "url",
        "kdbx",
        "gpg",
        "pgp",
        "asc",
        "age",
        "p7m",
        "p7s",
        "p12",
        "pfx",
        "cer",
        "crt",
        "pem",
        "key",
        "ttf",
        "otf",
        "woff",
        "woff2",
        "ico",
        "psd",
        "ai",
        "eps",
        "one",
        "pub",
        "mdb",
        "accdb",
        "nii",
        "raw",
        "dwg",
    }
)

#: The name's extensions that are neither a known type nor usual: what a
#: ransomware appends (.locked, .crypt, .xyz123, a victim id...).
MAX_EXTENSION = 16


def extension(name: str) -> str | None:
    """The lower-case extension of `name` without its dot, None when it has none."""
    base = name.rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem or not ext:
        return None
    return ext.lower()


def expected_kind(name: str) -> FileKind | None:
    """The type the name's extension promises, None when it promises none."""
    ext = extension(name)
    return None if ext is None else _BY_EXTENSION.get(ext)


def is_known_extension(ext: str | None) -> bool:
    """A type's extension or one people use on purpose (back-ups, keys...)."""
    return ext is None or ext in _BY_EXTENSION or ext in _USUAL_OTHER_EXTENSIONS


def sniff(head: bytes) -> FileKind | None:
    """The type `head` (the first bytes of a file) shows, None when it shows none."""
    for offset, magic, kind in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if kind is FileKind.RIFF and head[8:12] == b"WEBP":
                return FileKind.WEBP
            return kind
    if head[:2] == b"BM" and len(head) >= 14:
        return FileKind.BMP
    if is_text(head):
        return FileKind.TEXT
    return None


def is_text(sample: bytes) -> bool:
    """Mostly printable text: UTF-8 (a character cut at the end is allowed) or a
    single-byte encoding with no control characters but tabs and line breaks.
    HL7 v2 separates segments with a carriage return, which counts as text."""
    if not sample:
        return False
    if b"\x00" in sample:
        # UTF-16 text is rare in the vault; a NUL byte means binary here.
        return False
    # Bytes >= 0x80 (UTF-8 or Latin-1 letters) are allowed: only control
    # characters tell binary from text, and random bytes hold about 11 %.
    return _mostly_printable(sample)


_CONTROL: Final = bytes(c for c in range(32) if c not in (9, 10, 12, 13)) + b"\x7f"


def _mostly_printable(sample: bytes) -> bool:
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    return controls * 100 <= len(sample)


def still_parses(kind: FileKind, head: bytes, tail: bytes, size: int) -> bool | None:
    """Whether content of type `kind` still looks whole, from its first and last
    bytes; None when no cheap check exists for the type."""
    check = _CHECKS.get(kind)
    return None if check is None else check(head, tail, size)


def _pdf(head: bytes, tail: bytes, _size: int) -> bool:
    return head.startswith(b"%PDF-") and b"%%EOF" in tail[-2048:]


def _png(head: bytes, tail: bytes, _size: int) -> bool:
    return head[12:16] == b"IHDR" and tail.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82")


def _jpeg(head: bytes, tail: bytes, _size: int) -> bool:
    # Cameras may pad after the end-of-image marker; look near the end.
    return head.startswith(b"\xff\xd8\xff") and b"\xff\xd9" in tail[-1024:]


def _zip(_head: bytes, tail: bytes, _size: int) -> bool:
    # The end-of-central-directory record sits in the last 22 + 65,535 bytes.
    return b"PK\x05\x06" in tail[-(22 + 65_535) :]


def _ole2(head: bytes, _tail: bytes, _size: int) -> bool:
    # Byte-order mark FFFE at offset 28, sectors of 512 or 4,096 bytes.
    return head[28:30] == b"\xfe\xff" and head[30:32] in (b"\x09\x00", b"\x0c\x00")


def _dicom(head: bytes, _tail: bytes, _size: int) -> bool:
    # The file meta information group (0002,xxxx) follows the DICM prefix.
    return head[132:134] == b"\x02\x00"


def _gif(_head: bytes, tail: bytes, _size: int) -> bool:
    return tail.rstrip(b"\x00").endswith(b";")


def _rtf(_head: bytes, tail: bytes, _size: int) -> bool:
    return b"}" in tail[-64:]


def _text(head: bytes, tail: bytes, _size: int) -> bool:
    return is_text(head) and (not tail or is_text(tail[-4096:]))


_CHECKS: Final = {
    FileKind.PDF: _pdf,
    FileKind.PNG: _png,
    FileKind.JPEG: _jpeg,
    FileKind.ZIP: _zip,
    FileKind.OLE2: _ole2,
    FileKind.DICOM: _dicom,
    FileKind.GIF: _gif,
    FileKind.RTF: _rtf,
    FileKind.TEXT: _text,
}
