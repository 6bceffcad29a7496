"""Errors of antivirus scanning (docs/antivirus.md).

EgideError
├── FileInfected        (rejected, 422)    an upload carried a known signature
├── ScannerUnavailable  (unavailable, 503) clamd is down and the upload may not wait
├── TooLargeToScan      (too_large, 413)   longer than the scanner accepts, may not wait
├── FileAwaitingScan    (locked, 423)      held until a scan passes (uploader only)
└── FileQuarantined     (locked, 423)      a rescan found it infected: nobody reads it
"""

from __future__ import annotations

from typing import ClassVar

from egide.core.errors import EgideError, ErrorKind

_PENDING_HELD = (
    "This file has not been scanned by the antivirus yet: only the person who uploaded it "
    "can download it until then. Try again later."
)
_TOO_LARGE_HELD = (
    "This file is too large for the antivirus to scan: only the person who uploaded it can "
    "download it until an administrator has it checked."
)


class FileInfected(EgideError):
    kind: ClassVar[ErrorKind] = ErrorKind.REJECTED
    code: ClassVar[str] = "file-infected"

    def __init__(self, signature: str) -> None:
        super().__init__(
            "The antivirus found a threat in this file ({signature}); it was not saved. "
            "Clean the workstation it came from and call your IT support.",
            signature=signature,
        )
        self.signature = signature


class ScannerUnavailable(EgideError):
    kind: ClassVar[ErrorKind] = ErrorKind.UNAVAILABLE
    code: ClassVar[str] = "antivirus-unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The antivirus cannot be reached, so this file was not accepted. Try again in a "
            "few minutes; if it persists, tell the vault's administrators."
        )


class TooLargeToScan(EgideError):
    kind: ClassVar[ErrorKind] = ErrorKind.TOO_LARGE
    code: ClassVar[str] = "too-large-to-scan"

    def __init__(self, limit: int) -> None:
        super().__init__(
            "This file is larger than the antivirus can scan ({limit} MiB), so it was not "
            "accepted here. Split it, or ask a member of the team to store it for you.",
            limit=limit // (1024 * 1024),
        )


class FileAwaitingScan(EgideError):
    kind: ClassVar[ErrorKind] = ErrorKind.LOCKED
    code: ClassVar[str] = "file-awaiting-scan"

    def __init__(self, status: str) -> None:
        super().__init__(_TOO_LARGE_HELD if status == "too_large" else _PENDING_HELD)
        self.status = status


class FileQuarantined(EgideError):
    kind: ClassVar[ErrorKind] = ErrorKind.LOCKED
    code: ClassVar[str] = "file-quarantined"

    def __init__(self, signature: str) -> None:
        super().__init__(
            "The antivirus found a threat in this file ({signature}): nobody can download "
            "it. Restore an earlier version, or ask your IT security team.",
            signature=signature,
        )
