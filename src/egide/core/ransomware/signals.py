"""What one version's content says, and what changed from the previous one
(issue 8, item 1): pure functions, no I/O.

`ContentSampler` is fed the plaintext chunks as they stream through the
write path and keeps bounded samples only: the first `HEAD` bytes, the last
`TAIL` bytes, and the first `hash_limit` bytes for a TLSH similarity digest. Its
`Fingerprint` is all the detector keeps of a version (never content), so the
next version is compared with it without reading the previous blob.

A version "looks encrypted" when its type is unknown (or no longer parses)
and its bytes are near-random (Shannon entropy close to 8 bits per byte);
an overwrite is suspicious when, on top of that, the previous version had a
type the new one lost and the two are no longer similar (TLSH distance).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Final

import tlsh

from egide.core.ransomware.filetypes import (
    FileKind,
    expected_kind,
    extension,
    is_known_extension,
    sniff,
    still_parses,
)

HEAD: Final = 64 * 1024
TAIL: Final = 64 * 1024
#: Bytes of the head, and of the tail, whose entropy is measured: 16 KiB in
#: all tells random from structured well (the estimator's bias is 0.01 bit)
#: and costs a few milliseconds in pure Python, where 128 KiB cost 20.
ENTROPY_SAMPLE: Final = 8 * 1024
#: TLSH needs at least 50 bytes (and some variety: it answers TNULL otherwise).
TLSH_MIN: Final = 50
#: The first block alone: a family that encrypts only the beginning of each
#: file (fast, and enough to destroy it) leaves the rest untouched.
FIRST_BLOCK: Final = 4096
#: Near-random: AES output of 4 KiB measures about 7.95 bits per byte, zlib
#: streams about 7.6 to 7.9 but carry a known magic.
HIGH_ENTROPY: Final = 7.2
#: Text this random is ciphertext armoured as text (base64: up to 6 bits per
#: byte), not prose, code or tables, which measure 4.3-5.2.
ARMOURED_ENTROPY: Final = 5.8
#: The least text measured for it: shorter samples read too low.
ARMOURED_MIN_SIZE: Final = 1024
#: Text up to this is prose, code or a table, whose next version may not
#: jump to `ARMOURED_ENTROPY` but by being replaced with armoured ciphertext.
PLAIN_TEXT_ENTROPY: Final = 5.3
#: TLSH distance from which two contents are unrelated (0: identical; TLSH
#: documents 100 to 200 as "likely different", random pairs score 200+).
DISSIMILAR: Final = 150


def shannon_entropy(sample: bytes) -> float:
    """Bits per byte, 0 for an empty sample."""
    n = len(sample)
    if n == 0:
        return 0.0
    total = 0.0
    for count in Counter(sample).values():
        p = count / n
        total -= p * math.log2(p)
    return total


@dataclass(frozen=True)
class Fingerprint:
    """What the detector keeps of one version's content: no byte of it."""

    size: int
    kind: FileKind | None
    #: Entropy of the first and last `ENTROPY_SAMPLE` bytes, and of the first block alone.
    entropy: float
    first_block_entropy: float
    #: Still whole as its type (None: no check for the type, or no type).
    parses: bool | None
    #: TLSH digest of the first `hash_limit` bytes; None when too short or uniform.
    tlsh: str | None

    @property
    def looks_encrypted(self) -> bool:
        unknown = self.kind is None or self.parses is False
        if not unknown or self.size < MIN_SIZE:
            return False
        whole = min(self.size, 2 * ENTROPY_SAMPLE)
        return self.entropy >= high_entropy(whole) or (
            self.first_block_entropy >= high_entropy(min(self.size, FIRST_BLOCK))
        )


#: Below this, a sample cannot tell random from text.
MIN_SIZE: Final = 64


def high_entropy(n: int) -> float:
    """The entropy from which `n` bytes count as near-random.

    n random bytes measure about 8 - 255 / (2 n ln 2) bits per byte (the
    estimator's bias, Miller 1955): 7.97 for 4 KiB, 6.2 for 100 bytes. The
    threshold stays 0.3 below that, and never above `HIGH_ENTROPY`.
    """
    if n <= 0:
        return 8.0
    return min(HIGH_ENTROPY, 8.0 - 255 / (2 * n * math.log(2)) - 0.3)


class ContentSampler:
    """Feed it the plaintext as it streams; memory stays bounded whatever the size
    (`HEAD` + 2 `TAIL` + `hash_limit` bytes at most)."""

    __slots__ = ("_hash_limit", "_hashed", "_head", "_size", "_tail")

    def __init__(self, hash_limit: int = 256 * 1024) -> None:
        self._head = bytearray()
        self._tail = bytearray()
        self._size = 0
        self._hash_limit = hash_limit
        # TLSH is hashed once at the end: its bindings cost much more per call
        # than per byte, and the first `hash_limit` bytes are what it sees.
        self._hashed = bytearray()

    def update(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._size += len(chunk)
        if len(self._head) < HEAD:
            self._head += chunk[: HEAD - len(self._head)]
        if len(chunk) >= TAIL:
            self._tail = bytearray(chunk[-TAIL:])
        else:
            self._tail += chunk
            if len(self._tail) > 2 * TAIL:  # trim now and then, not at every chunk
                del self._tail[:-TAIL]
        if len(self._hashed) < self._hash_limit:
            self._hashed += chunk[: self._hash_limit - len(self._hashed)]

    def fingerprint(self) -> Fingerprint:
        head = bytes(self._head)
        tail = bytes(self._tail[-TAIL:])
        # The tail sample without the bytes the head already holds.
        beyond = max(0, self._size - len(head))
        tail_only = tail[len(tail) - min(len(tail), beyond) :] if beyond else b""
        kind = sniff(head)
        parses = None if kind is None else still_parses(kind, head, tail, self._size)
        sample = head[:ENTROPY_SAMPLE] + tail_only[-ENTROPY_SAMPLE:]
        return Fingerprint(
            size=self._size,
            kind=kind,
            entropy=round(shannon_entropy(sample), 3),
            first_block_entropy=round(shannon_entropy(head[:FIRST_BLOCK]), 3),
            parses=parses,
            tlsh=self._digest(),
        )

    def _digest(self) -> str | None:
        if len(self._hashed) < TLSH_MIN:
            return None
        digest = str(tlsh.hash(bytes(self._hashed)))
        return None if not digest or digest == "TNULL" else digest


def fingerprint_of(data: bytes, hash_limit: int = 256 * 1024) -> Fingerprint:
    """The fingerprint of content held in memory (tests, the previous version's sample)."""
    sampler = ContentSampler(hash_limit)
    sampler.update(data)
    return sampler.fingerprint()


def distance(a: str | None, b: str | None) -> int | None:
    """TLSH distance of two digests, None when either is missing."""
    if a is None or b is None:
        return None
    return int(tlsh.diff(a, b))


@dataclass(frozen=True)
class OverwriteSignals:
    """The signals of one new version against the previous one (or none)."""

    looks_encrypted: bool
    #: The previous version had a type the new one lost (or no longer parses as).
    type_lost: bool
    #: Entropy went up by at least 0.5 bit per byte (or was already near-random).
    entropy_up: bool
    #: TLSH says unrelated (or cannot say: too short).
    similarity_gone: bool
    #: The name promises a type the content does not have.
    name_mismatch: bool

    @property
    def suspicious_overwrite(self) -> bool:
        """What an encryption in place looks like, and benign saves do not: the
        content looks encrypted, lost the previous type, and is either more
        random or unrelated (a family that encrypts only the first block keeps
        most bytes, hence the TLSH distance may stay low)."""
        return self.looks_encrypted and self.type_lost and (self.entropy_up or self.similarity_gone)

    @property
    def suspicious_new(self) -> bool:
        """A new file that looks encrypted where its name promises a type (or none known)."""
        return self.looks_encrypted and self.name_mismatch

    def names(self) -> list[str]:
        return [
            name
            for name, on in (
                ("looks-encrypted", self.looks_encrypted),
                ("type-lost", self.type_lost),
                ("entropy-up", self.entropy_up),
                ("similarity-gone", self.similarity_gone),
                ("name-mismatch", self.name_mismatch),
            )
            if on
        ]


def _armoured(new: Fingerprint, expected: FileKind | None) -> bool:
    """Ciphertext written as text (base64, base85) where the name still promises a
    binary type: text, but near the randomness its alphabet allows."""
    return (
        new.kind is FileKind.TEXT
        and expected is not None
        and expected is not FileKind.TEXT
        and new.size >= ARMOURED_MIN_SIZE
        and new.entropy >= ARMOURED_ENTROPY
    )


def compare(old: Fingerprint | None, new: Fingerprint, name: str) -> OverwriteSignals:
    """The signals of `new` (the content now written at `name`) against `old`."""
    expected = expected_kind(name)
    if expected is None:
        # No type promised: suspicious unless the extension is one people use on
        # purpose for opaque content (.bin, .kdbx, .gpg...), or there is none.
        name_mismatch = not is_known_extension(extension(name))
    else:
        name_mismatch = expected is not new.kind or new.parses is False
    looks_encrypted = new.looks_encrypted or _armoured(new, expected)
    if old is None:
        return OverwriteSignals(
            looks_encrypted=looks_encrypted,
            type_lost=False,
            entropy_up=False,
            similarity_gone=False,
            name_mismatch=name_mismatch,
        )
    broken = new.parses is False and old.parses is not False
    # Text re-encoded as base64 ciphertext stays text: what it lost is being prose.
    armoured_text = (
        old.kind is FileKind.TEXT
        and new.kind is FileKind.TEXT
        and expected in (None, FileKind.TEXT)
        and old.entropy <= PLAIN_TEXT_ENTROPY
        and new.size >= ARMOURED_MIN_SIZE
        and new.entropy >= ARMOURED_ENTROPY
    )
    looks_encrypted = looks_encrypted or armoured_text
    type_lost = old.kind is not None and (new.kind is not old.kind or broken or armoured_text)
    new_entropy = max(new.entropy, new.first_block_entropy)
    old_entropy = max(old.entropy, old.first_block_entropy)
    entropy_up = new_entropy - old_entropy >= 0.5 or new_entropy >= HIGH_ENTROPY
    gap = distance(old.tlsh, new.tlsh)
    similarity_gone = gap is None or gap >= DISSIMILAR
    return OverwriteSignals(
        looks_encrypted=looks_encrypted,
        type_lost=type_lost,
        entropy_up=entropy_up,
        similarity_gone=similarity_gone,
        name_mismatch=name_mismatch,
    )
