"""`tools/verify_audit_bundle.py`: what an auditor runs, with no Égide code.

Each kind of bad bundle issue 4 names (a truncated export, a checkpoint
signed by another key or of another log, an altered entry) is made from a
real export and must be refused with a message that says exactly that.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from egide.core.audit.checkpoint import Checkpoint, parse_note, sign, sign_with, verifier_key
from egide.core.clock import ManualClock
from egide.core.crypto.provider import FileKeyProvider
from egide.core.db import Database
from egide.services.access.policy import Principal
from egide.services.audit import AuditService
from egide.services.audit.export import export_bundle
from tests.services.audit.bundles import SCRIPT, run_verifier
from tests.services.audit.conftest import RecordMany
from tests.services.audit.signing import ORIGIN, make_audit, new_provider


@pytest.fixture
def provider(tmp_path: Path) -> FileKeyProvider:
    return new_provider(tmp_path)


@pytest.fixture
def audit(db: Database, clock: ManualClock, provider: FileKeyProvider) -> AuditService:
    return make_audit(db, clock, provider)


@pytest.fixture
def bundle(audit: AuditService, record_many: RecordMany, tmp_path: Path) -> Path:
    """A bundle of entries 3 to 12 of a log of 13 (it holds a prefix.json)."""
    record_many(13)
    audit.checkpoint(force=True)
    out = tmp_path / "bundle"
    full = tmp_path / "full"
    export_bundle(audit, Principal.system(), full)
    lines = (full / "entries.jsonl").read_bytes().splitlines()
    since = json.loads(lines[3])["time"]
    from egide.services.audit.export import parse_time

    export_bundle(audit, Principal.system(), out, since=parse_time(since, option="--since"))
    return out


def refused(bundle: Path, audit: AuditService, *args: str) -> str:
    result = run_verifier(bundle, "--vkey", audit.verifier_key(), *args)
    assert result.returncode == 1, result.stdout
    assert result.stdout == ""
    assert result.stderr.startswith("FAILED: ")
    return " ".join(result.stderr.split())


def rewrite_line(path: Path, number: int, change: bytes | None) -> None:
    """Replace line `number` (1-based) of a file, or drop it (None)."""
    lines = path.read_bytes().splitlines(keepends=True)
    if change is None:
        del lines[number - 1]
    else:
        lines[number - 1] = change + b"\n"
    path.write_bytes(b"".join(lines))


def test_the_bundle_verifies(bundle: Path, audit: AuditService) -> None:
    result = run_verifier(bundle, "--vkey", audit.verifier_key())
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: entries 3 to 13 (11) proven in the signed checkpoint")
    assert "head recomputed from prefix.json and the entries matches" in result.stdout


def test_without_a_key_it_warns_that_the_bundle_key_proves_nothing(bundle: Path) -> None:
    result = run_verifier(bundle)
    assert result.returncode == 0
    assert "WARNING" in result.stderr
    assert "proves nothing" in result.stderr


def test_a_missing_line_is_named(bundle: Path, audit: AuditService) -> None:
    rewrite_line(bundle / "entries.jsonl", 4, None)  # entry 6
    assert "entries.jsonl lacks entry 6" in refused(bundle, audit)


def test_a_missing_proof_line_is_named(bundle: Path, audit: AuditService) -> None:
    rewrite_line(bundle / "proofs.jsonl", 2, None)
    assert "holds no proof of entry 4" in refused(bundle, audit)


def test_missing_first_lines_are_named(bundle: Path, audit: AuditService) -> None:
    rewrite_line(bundle / "entries.jsonl", 1, None)
    rewrite_line(bundle / "proofs.jsonl", 1, None)
    assert "entries.jsonl starts at entry 4, but prefix.json says the export starts at 3" in (
        refused(bundle, audit)
    )


def test_a_tail_cut_from_the_entries_is_named(bundle: Path, audit: AuditService) -> None:
    rewrite_line(bundle / "entries.jsonl", 11, None)
    rewrite_line(bundle / "entries.jsonl", 10, None)
    message = refused(bundle, audit)
    assert "proofs.jsonl has a proof (line 10) for an entry after 11" in message
    assert "entries.jsonl was truncated" in message


def test_a_last_line_cut_is_named(bundle: Path, audit: AuditService) -> None:
    path = bundle / "entries.jsonl"
    path.write_bytes(path.read_bytes()[:-40])
    assert "entries.jsonl ends in the middle of line 11: the bundle was truncated" in refused(
        bundle, audit
    )


@pytest.mark.parametrize("name", ["checkpoint.txt", "entries.jsonl", "proofs.jsonl", "prefix.json"])
def test_a_missing_file_is_named(bundle: Path, audit: AuditService, name: str) -> None:
    (bundle / name).unlink()
    assert f"{name} is missing: the bundle is incomplete" in refused(bundle, audit)


def test_an_interrupted_export_is_named(bundle: Path, audit: AuditService) -> None:
    (bundle / ".partial").mkdir()
    shutil.move(bundle / "checkpoint.txt", bundle / ".partial" / "checkpoint.txt")
    assert "the export was interrupted" in refused(bundle, audit)


def test_a_checkpoint_signed_by_another_key_is_named(bundle: Path, audit: AuditService) -> None:
    signed = parse_note((bundle / "checkpoint.txt").read_text()).checkpoint
    other = Ed25519PrivateKey.generate()
    (bundle / "checkpoint.txt").write_text(sign(signed, ORIGIN, other))
    (bundle / "vkey.txt").write_text(verifier_key(ORIGIN, other.public_key()) + "\n")
    message = refused(bundle, audit)
    assert "checkpoint.txt is signed by another key" in message
    assert f"not by the verifier key {ORIGIN}" in message
    # Trusting the bundle's own key, it verifies: why the key must come from elsewhere.
    assert run_verifier(bundle).returncode == 0


def test_an_altered_checkpoint_is_named(bundle: Path, audit: AuditService) -> None:
    text = (bundle / "checkpoint.txt").read_text()
    size = str(parse_note(text).checkpoint.size)
    (bundle / "checkpoint.txt").write_text(text.replace(f"\n{size}\n", f"\n{size}0\n", 1))
    assert "does not verify over checkpoint.txt" in refused(bundle, audit)


def test_a_checkpoint_of_another_log_is_named(
    bundle: Path, audit: AuditService, provider: FileKeyProvider
) -> None:
    assert "not of 'audit.other.fr/egide': this bundle comes from another log" in refused(
        bundle, audit, "--origin", "audit.other.fr/egide"
    )
    # Signed by this log's key, but naming another log.
    signed = parse_note((bundle / "checkpoint.txt").read_text()).checkpoint
    public = Ed25519PublicKey.from_public_bytes(provider.audit_public_key())
    renamed = Checkpoint("renamed.example/egide", signed.size, signed.root)
    (bundle / "checkpoint.txt").write_text(sign_with(renamed, ORIGIN, public, provider.sign_audit))
    assert "the checkpoint of the log 'renamed.example/egide', not of" in refused(bundle, audit)


def test_an_altered_entry_is_named_by_its_seq(bundle: Path, audit: AuditService) -> None:
    path = bundle / "entries.jsonl"
    line = path.read_bytes().splitlines()[4]  # entry 7
    event = json.loads(line)
    assert event["seq"] == 7
    rewrite_line(path, 5, line.replace(b'"outcome":"allowed"', b'"outcome":"denied"'))
    assert "Entry 7 was altered" in refused(bundle, audit)


def test_an_altered_proof_is_named(bundle: Path, audit: AuditService) -> None:
    path = bundle / "proofs.jsonl"
    record = json.loads(path.read_bytes().splitlines()[2])
    record["proof"][0] = "00" * 32
    rewrite_line(path, 3, json.dumps(record).encode())
    assert "Entry 5 was altered" in refused(bundle, audit)


def test_an_altered_prefix_is_named(bundle: Path, audit: AuditService) -> None:
    path = bundle / "prefix.json"
    prefix = json.loads(path.read_text())
    prefix["hashes"][0] = "11" * 32
    path.write_text(json.dumps(prefix))
    assert "prefix.json was altered" in refused(bundle, audit)


def test_a_wrong_verifier_key_is_named(bundle: Path, audit: AuditService) -> None:
    vkey = audit.verifier_key()
    name, key_hash, encoded = vkey.split("+", 2)
    result = run_verifier(bundle, "--vkey", f"{name}+00000000+{encoded}")
    assert result.returncode == 1
    assert "does not match its name and key" in result.stderr
    assert key_hash in result.stderr


def test_the_script_imports_nothing_from_egide(tmp_path: Path) -> None:
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__", "cryptography"}, imported
    # Run, the script loads no egide module either (egide is installed in this environment).
    probe = (
        "import runpy, sys; sys.argv = ['verify', sys.argv[1]]\n"
        "try:\n    runpy.run_path(sys.argv[1], run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "assert not [m for m in sys.modules if m == 'egide' or m.startswith('egide.')]\n"
        "print('clean')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(SCRIPT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.stdout.strip().endswith("clean"), result.stderr
