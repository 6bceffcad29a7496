"""The cost of ransomware detection on the write path, detection on against off.

    python benchmarks/ransomware.py [--files 300] [--size 65536] [--big 4] [--big-size 8388608]

Builds two real vaults in a temporary directory (SQLite, local blobs, keys),
identical but for `ransomware_detection`, and writes the same files through
`FileService.write` as a user acting through a session: `--files` new files
of `--size` bytes (text, PDF-like and JPEG-like content), then a new version
of each (the comparison with the previous fingerprint), then `--big` files
of `--big-size` bytes. Prints files per second and MB/s for each phase, on
and off, side by side, and the ratio. The two vaults alternate in `--slices` slices of each phase
so that the machine's noise hits both. The exit code is 0 whatever the
result: this is a measurement.

    python benchmarks/ransomware.py attack [--files 2000] [--trials 5] [--smoke] ...

runs instead the attack and benign families of issue 8 item 6 against a
live server over HTTP, with the roll-back (benchmarks/ransomware_attack.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from egide.core.config import Settings
from egide.services.access.policy import Principal
from egide.services.registry import Services, build_services, initialise

SYSTEM = Principal.system()
PASSWORD = "correct horse battery staple 42"  # noqa: S105 - a throw-away test vault


def _vault(root: Path, name: str, *, detection: bool) -> tuple[Services, Principal]:
    settings = Settings(data_dir=root / name, mfa_required="none", ransomware_detection=detection)
    initialise(settings)
    svc = build_services(settings)
    svc.spaces.create(SYSTEM, "bench", title="Bench")
    user = svc.accounts.create_user(SYSTEM, "bench", password=PASSWORD)
    svc.spaces.grant(SYSTEM, "bench", "", "user:bench", "contributor")
    actor = dataclasses.replace(svc.accounts.principal_for(user.id), session_id="bench-session")
    return svc, actor


def _content(i: int, size: int, version: int) -> tuple[str, bytes]:
    kind = i % 3
    words = (f"Compte rendu {i}.{version}: tension {120 + i % 9}/80. " * (size // 40 + 1)).encode()
    if kind == 0:
        return f"f{i}.txt", words[:size]
    if kind == 1:
        body = zlib.compress(words)[: size - 20]
        return f"f{i}.pdf", b"%PDF-1.7\n" + body + b"\n%%EOF\n"
    body = os.urandom(size - 4).replace(b"\xff", b"\xfe")
    return f"f{i}.jpg", b"\xff\xd8\xff\xe0" + body[:-2] + b"\xff\xd9"


def _phase(svc: Services, actor: Principal, items: list[tuple[str, bytes]]) -> float:
    start = time.perf_counter()
    for path, data in items:
        svc.files.write(
            actor, "bench", path, [data[i : i + 65536] for i in range(0, len(data), 65536)]
        )
    return time.perf_counter() - start


def main() -> None:
    if sys.argv[1:2] == ["attack"]:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import ransomware_attack

        ransomware_attack.main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--size", type=int, default=65536)
    parser.add_argument("--big", type=int, default=4)
    parser.add_argument("--big-size", type=int, default=8 * 1024 * 1024)
    parser.add_argument("--slices", type=int, default=10, help="on/off alternations per phase")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="egide-ransomware-bench-", dir=args.dir))
    try:
        vaults = {
            "on": _vault(root, "on", detection=True),
            "off": _vault(root, "off", detection=False),
        }
        phases: list[tuple[str, Callable[[int], list[tuple[str, bytes]]]]] = [
            ("new files", lambda v: [_content(i, args.size, v) for i in range(args.files)]),
            ("new versions", lambda v: [_content(i, args.size, v) for i in range(args.files)]),
            (
                "big files",
                lambda _v: [(f"big{i}.bin", os.urandom(args.big_size)) for i in range(args.big)],
            ),
        ]
        print(f"{'phase':<14} {'detection':>9} {'files/s':>9} {'MB/s':>8}")
        for version, (label, make) in enumerate(phases):
            items = make(version)
            total = sum(len(d) for _, d in items)
            results = {"off": 0.0, "on": 0.0}
            # Alternate on and off in short slices, so that the machine's noise
            # (other processes, the disk) hits both alike.
            step = max(1, len(items) // args.slices)
            for start in range(0, len(items), step):
                for mode in ("off", "on") if start % (2 * step) == 0 else ("on", "off"):
                    svc, actor = vaults[mode]
                    results[mode] += _phase(svc, actor, items[start : start + step])
            for mode in ("off", "on"):
                seconds = results[mode]
                print(
                    f"{label:<14} {mode:>9} {len(items) / seconds:9.1f} "
                    f"{total / seconds / 1e6:8.1f}"
                )
            print(f"{'':<14} {'on/off':>9} {results['on'] / results['off']:9.2f}x time")
        for svc, _ in vaults.values():
            svc.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
