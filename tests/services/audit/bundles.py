"""Running the standalone bundle verifier (`tools/verify_audit_bundle.py`) as an auditor would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from egide.services.audit import AuditService

SCRIPT = Path(__file__).resolve().parents[3] / "tools" / "verify_audit_bundle.py"


def run_verifier(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The script in a process of its own, from another working directory."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(directory), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=directory.parent,
    )


def verified(directory: Path, audit: AuditService) -> str:
    """The verifier's summary line, given this log's key; fails the test unless it verifies."""
    result = run_verifier(directory, "--vkey", audit.verifier_key())
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout
