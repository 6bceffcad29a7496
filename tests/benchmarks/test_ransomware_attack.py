"""The ransomware families benchmark at smoke size (issue 8, item 6), as CI runs it:
`python benchmarks/ransomware.py attack --smoke`, a live server over HTTP.

It must keep working, and what it measures must keep holding for the families
the detection is built for (containment within the issue's bounds, every byte
back after the roll-back) and for the benign workloads (no false alarm).
Families that the detection does not stop yet are reported by the benchmark
(docs/ransomware.md#benchmark), not asserted here.
"""

from __future__ import annotations

import importlib
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from egide.core.ransomware.filetypes import expected_kind
from egide.core.ransomware.signals import compare, fingerprint_of

ROOT = Path(__file__).resolve().parents[2]
#: Contained within the targets and fully restored today (docs/ransomware.md#benchmark).
HELD = ("in-place", "rename", "copy-delete", "head-4k", "intermittent", "notes-xor")
BENIGN = (
    "editing documents",
    "new PDF versions",
    "bulk compressed uploads",
    "reorganising",
    "sync client re-upload",
)


@pytest.mark.heavy
def test_the_smoke_run_contains_the_families_and_raises_no_false_alarm(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/ransomware.py", "attack", "--smoke", "--dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "space: 60 files" in out
    assert "roll-back: not available" not in out
    for family in HELD:
        row = re.search(
            rf"^{re.escape(family)} +1 +1 +(\d+) +(\d+) +yes \(60/60\) .* PASS$", out, re.M
        )
        assert row is not None, f"{family}:\n{out}"
        assert int(row.group(2)) <= 10
    for workload in BENIGN:
        row = re.search(rf"^{re.escape(workload)} +(\d+) +\d+ +0 +0 +0  PASS$", out, re.M)
        assert row is not None, f"{workload}:\n{out}"
        assert int(row.group(1)) >= 40
    total = re.search(r"^all +(\d+) +\d+ +0 +0$", out, re.M)
    assert total is not None
    assert int(total.group(1)) >= 300
    # The vault lived under --dir and is gone.
    assert list(tmp_path.iterdir()) == []


def _benchmark() -> Any:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module("ransomware_attack")
    finally:
        sys.path.pop(0)


@pytest.mark.parametrize("size", [2 * 1024, 40 * 1024, 300 * 1024])
def test_the_space_holds_what_its_names_promise(size: int) -> None:
    """Each generated file sniffs as the type its extension promises, still parses,
    and does not look encrypted: the families start from realistic files."""
    bench = _benchmark()
    rng = random.Random(size)
    for ext, (make, _) in bench.GENERATORS.items():
        data = make(rng, size)
        name = f"doc.{ext}"
        fp = fingerprint_of(data)
        assert fp.kind is expected_kind(name), ext
        assert fp.parses is not False, ext
        assert not fp.looks_encrypted, ext
        assert not compare(fp, fingerprint_of(make(rng, size)), name).suspicious_overwrite
    extra = [
        ("clip.mp4", bench.mp4(rng, size)),
        ("ct.dcm", bench.dicom(rng, size, compressed=True)),
    ]
    for name, data in extra:
        fp = fingerprint_of(data)
        assert fp.kind is expected_kind(name), name
        assert fp.parses is not False, name


def test_each_family_damages_every_kind_of_file() -> None:
    bench = _benchmark()
    rng = random.Random(1)
    key = bytes(range(256)) * 2
    for family in bench.FAMILIES:
        for ext, (make, _) in bench.GENERATORS.items():
            data = make(rng, 100 * 1024)
            locked = bench.encrypt(family, data, key)
            assert locked != data, (family, ext)
            if family == "notes-xor":
                assert locked[:16] == data[:16]
