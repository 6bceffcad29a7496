"""From a principal's recent events to a score (issue 8, item 1): pure.

Each write, rename or delete of a principal (a session, an API token; the
user when neither is known) becomes an event with a kind and a weight. The
score of a window is

    strong = sum of the weights of encrypted-looking overwrites, renames to
             an unknown extension and ransom notes
    weak   = sum of the weights of new files that look encrypted
    score  = strong + min(deletions, strong + weak)

so deletions alone never reach a threshold (people delete files), nor do
new files that look encrypted alone (people upload archives, encrypted
containers, odd formats); together ("write an encrypted copy, then delete
the original") they count like an encryption in place, and deletions add as
much as the evidence they come with. A canary touched is certain: the score
is infinite. The principal is contained when the score of the short window
reaches its threshold, or the long window's (a slow family).
docs/ransomware.md explains the choice of the defaults.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass


class EventKind(enum.StrEnum):
    WRITE = "write"  # a new version of an existing file
    CREATE = "create"  # a new file
    RENAME = "rename"  # a move or a rename
    DELETE = "delete"  # to the trash
    NOTE = "note"  # a new small file identical to ones just written in other folders
    CANARY = "canary"  # a decoy file touched


#: Events whose weight is evidence on its own.
STRONG = frozenset({EventKind.WRITE, EventKind.RENAME, EventKind.NOTE})


@dataclass(frozen=True)
class Weights:
    """How much each suspicious event counts (settings `ransomware_weight_*`)."""

    overwrite: float = 1.0
    new_encrypted: float = 1.0
    rename: float = 1.0
    note: float = 1.0
    delete: float = 1.0


@dataclass(frozen=True)
class Thresholds:
    """Windows and the scores that contain (settings `ransomware_window_*`...)."""

    short_seconds: int = 60
    short_score: float = 3.0
    long_seconds: int = 600
    long_score: float = 6.0
    #: A ransom note is a small file: at most this many bytes...
    note_max_size: int = 64 * 1024
    #: ... written identical in at least this many folders.
    note_folders: int = 3


@dataclass(frozen=True)
class ScoredEvent:
    kind: EventKind
    weight: float


def score(events: Iterable[ScoredEvent]) -> float:
    """The score of the events of one window (the formula above)."""
    strong = 0.0
    weak = 0.0
    deletions = 0.0
    for event in events:
        if event.kind is EventKind.CANARY:
            return math.inf
        if event.kind in STRONG:
            strong += event.weight
        elif event.kind is EventKind.CREATE:
            weak += event.weight
        elif event.kind is EventKind.DELETE:
            deletions += event.weight
    return strong + min(deletions, strong + weak)


def crosses(short: float, long: float, thresholds: Thresholds) -> bool:
    """Whether the scores of the two windows call for containment."""
    return short >= thresholds.short_score or long >= thresholds.long_score


def note_weight(folders: int, weights: Weights, thresholds: Thresholds) -> float:
    """The weight of a small file now present, identical, in `folders` folders."""
    return weights.note if folders >= thresholds.note_folders else 0.0
