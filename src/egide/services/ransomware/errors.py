"""Errors of ransomware containment.

EgideError
├── PrincipalContained (locked, 423)   writes and downloads refused
├── IncidentNotFound   (not_found)
└── IncidentClosed     (conflict)      released or confirmed already
"""

from __future__ import annotations

from typing import ClassVar

from egide.core.errors import Conflict, EgideError, ErrorKind, NotFound


class PrincipalContained(EgideError):
    kind: ClassVar[ErrorKind] = ErrorKind.LOCKED
    code: ClassVar[str] = "principal-contained"

    def __init__(self, incident_id: str) -> None:
        super().__init__(
            "Your account is suspended for writing and downloading: it behaved like "
            "ransomware (incident {incident}). Unplug the workstation from the network and "
            "call your IT security team, quoting this incident number.",
            incident=incident_id,
        )
        self.incident_id = incident_id


class IncidentNotFound(NotFound):
    code = "incident-not-found"

    def __init__(self) -> None:
        super().__init__("No such incident. List incidents with `egide incident list`.")


class IncidentClosed(Conflict):
    code = "incident-closed"

    def __init__(self, status: str) -> None:
        super().__init__("This incident is already {status}; nothing was changed.", status=status)
