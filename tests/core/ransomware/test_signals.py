from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egide.core.ransomware.signals import (
    HEAD,
    ContentSampler,
    compare,
    fingerprint_of,
    high_entropy,
    shannon_entropy,
)
from tests.core.ransomware.samples import SAMPLES, aes_ctr, docx, pdf, text


def test_entropy_bounds() -> None:
    assert shannon_entropy(b"") == 0.0
    assert shannon_entropy(b"aaaa") == 0.0
    assert shannon_entropy(bytes(range(256))) == pytest.approx(8.0)
    assert shannon_entropy(os.urandom(65536)) > 7.99
    assert shannon_entropy(text()) < 5.5


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_encryption_in_place_is_suspicious(name: str) -> None:
    data = SAMPLES[name]
    old, new = fingerprint_of(data), fingerprint_of(aes_ctr(data))
    assert new.looks_encrypted
    signals = compare(old, new, name)
    assert signals.suspicious_overwrite, signals


BINARY = sorted(n for n in SAMPLES if not n.endswith((".txt", ".csv", ".hl7")))


@pytest.mark.parametrize("name", BINARY)
def test_ciphertext_armoured_as_text_over_a_binary_type_is_suspicious(name: str) -> None:
    """Base64 of ciphertext is printable text (6 bits per byte): it parses as text,
    so only its entropy, where the name promises a binary type, tells."""
    data = SAMPLES[name]
    armoured = base64.b64encode(aes_ctr(data))
    signals = compare(fingerprint_of(data), fingerprint_of(armoured), name)
    assert signals.looks_encrypted, signals
    assert signals.suspicious_overwrite, signals


def test_text_stays_text_even_when_dense() -> None:
    """A new text file of base64 (an attachment, a key) is not armoured ciphertext:
    the name promises text and nothing was lost. Nor is a base64 file saved again,
    nor prose over a PDF."""
    dense = base64.b64encode(os.urandom(6000))
    again = base64.b64encode(os.urandom(6000))
    assert not compare(None, fingerprint_of(dense), "cle.txt").looks_encrypted
    signals = compare(fingerprint_of(dense), fingerprint_of(again), "cle.txt")
    assert not signals.suspicious_overwrite, signals
    assert not compare(None, fingerprint_of(text()), "rapport.pdf").looks_encrypted


@pytest.mark.parametrize("name", sorted(n for n in SAMPLES if n not in BINARY))
def test_prose_replaced_by_armoured_ciphertext_is_suspicious(name: str) -> None:
    """A .txt, .csv or .hl7 re-encoded as base64 ciphertext stays text where text is
    promised; its jump from prose to near the base64 alphabet's randomness tells."""
    data = SAMPLES[name]
    signals = compare(fingerprint_of(data), fingerprint_of(base64.b64encode(aes_ctr(data))), name)
    assert signals.suspicious_overwrite, signals


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_encrypting_only_the_first_block_is_suspicious(name: str) -> None:
    data = SAMPLES[name]
    partial = aes_ctr(data[:4096]) + data[4096:]
    signals = compare(fingerprint_of(data), fingerprint_of(partial), name)
    assert signals.suspicious_overwrite, signals


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_new_encrypted_copy_is_suspicious_and_a_real_file_is_not(name: str) -> None:
    assert compare(None, fingerprint_of(aes_ctr(SAMPLES[name])), name + ".locked").suspicious_new
    assert compare(None, fingerprint_of(aes_ctr(SAMPLES[name])), name).suspicious_new
    assert not compare(None, fingerprint_of(SAMPLES[name]), name).suspicious_new


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("courrier.docx", docx),
        ("ordonnance.pdf", pdf),
        ("compte-rendu.txt", text),
    ],
)
def test_saving_a_document_again_is_not_suspicious(name: str, make: object) -> None:
    assert callable(make)
    old = fingerprint_of(make(1))
    for seed in range(2, 8):
        new = fingerprint_of(make(seed))
        signals = compare(old, new, name)
        assert not signals.suspicious_overwrite, signals
        assert not signals.suspicious_new
        old = new


def test_replacing_a_photo_by_another_is_not_suspicious() -> None:
    photo = SAMPLES["photo.jpg"]
    other = SAMPLES["photo.jpg"][:30] + os.urandom(5000) + b"\xff\xd9"
    assert not compare(
        fingerprint_of(photo), fingerprint_of(other), "photo.jpg"
    ).suspicious_overwrite


def test_sampler_is_bounded_and_chunking_does_not_matter() -> None:
    data = os.urandom(3 * HEAD) + text()
    whole = fingerprint_of(data)
    sampler = ContentSampler()
    for i in range(0, len(data), 1000):
        sampler.update(data[i : i + 1000])
    assert sampler.fingerprint() == whole
    assert len(sampler._head) <= HEAD
    assert len(sampler._tail) <= 2 * HEAD


def test_short_and_empty_content() -> None:
    empty = fingerprint_of(b"")
    assert empty.size == 0
    assert empty.tlsh is None
    assert not empty.looks_encrypted
    tiny = fingerprint_of(os.urandom(20))
    assert not tiny.looks_encrypted  # too short to tell
    assert compare(empty, tiny, "a.txt") is not None
    assert high_entropy(100) < high_entropy(4096) <= 7.2


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=20_000), st.text(max_size=30))
def test_any_bytes_and_name_never_crash(data: bytes, name: str) -> None:
    fp = fingerprint_of(data)
    compare(fp, fingerprint_of(data[::-1]), name)
    compare(None, fp, name)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=512, max_value=100_000))
def test_aes_output_of_any_length_looks_encrypted(size: int) -> None:
    assert fingerprint_of(aes_ctr(b"\x00" * size)).looks_encrypted
