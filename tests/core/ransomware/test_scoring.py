from __future__ import annotations

import math

from egide.core.ransomware.scoring import (
    EventKind,
    ScoredEvent,
    Thresholds,
    Weights,
    crosses,
    note_weight,
    score,
)

W = Weights()
T = Thresholds()


def ev(kind: EventKind, weight: float) -> ScoredEvent:
    return ScoredEvent(kind, weight)


def test_deletions_alone_never_score() -> None:
    assert score([ev(EventKind.DELETE, W.delete)] * 500) == 0.0


def test_deletions_amplify_evidence_up_to_its_size() -> None:
    events = [ev(EventKind.CREATE, W.new_encrypted)] * 2 + [ev(EventKind.DELETE, W.delete)] * 9
    assert score(events) == 2.0
    events = [ev(EventKind.WRITE, W.overwrite)] + [ev(EventKind.DELETE, W.delete)] * 9
    assert score(events) == 2.0


def test_new_encrypted_looking_files_alone_never_score() -> None:
    assert score([ev(EventKind.CREATE, W.new_encrypted)] * 500) == 0.0


def test_an_encrypted_copy_and_a_deletion_count_like_an_overwrite() -> None:
    pair = [ev(EventKind.CREATE, W.new_encrypted), ev(EventKind.DELETE, W.delete)]
    assert score(pair * 3) == score([ev(EventKind.WRITE, W.overwrite)] * 3)


def test_three_encrypted_overwrites_cross_the_short_threshold() -> None:
    two = score([ev(EventKind.WRITE, W.overwrite)] * 2)
    three = score([ev(EventKind.WRITE, W.overwrite)] * 3)
    assert not crosses(two, two, T)
    assert crosses(three, three, T)


def test_benign_events_weigh_nothing() -> None:
    assert score([ev(EventKind.WRITE, 0.0)] * 1000 + [ev(EventKind.RENAME, 0.0)] * 1000) == 0.0


def test_a_canary_is_certain() -> None:
    assert score([ev(EventKind.CANARY, 0.0)]) == math.inf
    assert crosses(math.inf, 0.0, T)


def test_notes_count_from_the_third_folder() -> None:
    assert note_weight(2, W, T) == 0.0
    assert note_weight(3, W, T) == W.note


def test_the_long_window_catches_a_slow_family() -> None:
    short = score([ev(EventKind.WRITE, W.overwrite)])
    long = score([ev(EventKind.WRITE, W.overwrite)] * 6)
    assert crosses(short, long, T)
    assert not crosses(short, score([ev(EventKind.WRITE, W.overwrite)] * 5), T)
