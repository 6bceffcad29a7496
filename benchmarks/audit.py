"""The audit log at scale: appending, verifying, proving, beside references from the same run.

    python benchmarks/audit.py [--entries 1000000] [--chunk 1000] [--proofs 1000] [--dir PATH]

Builds a real audit log in a temporary SQLite database (migrated; WAL and
FULL synchronous commits, as `egide` runs it) and measures (issue 4, item 9):

1. recording: `record` of `--chunk` events per write transaction into the
   outbox (what an audited action adds to its own transaction);
2. appending: the sequencer (`Sequencer.run_pending`, batches of 500) giving
   each chunk its `seq`, storing leaf bytes and tree nodes: entries/s over
   the whole log, and the cost of one append in the chunk that starts at
   1,000 entries against the last chunk (near `--entries`). An append writes
   1 + (trailing one bits of the size) nodes and reads nothing, so the ratio
   must stay within the growth of log2(n): 20 / 10 = 2 from 10^3 to 10^6;
3. the same appends on the in-memory `Frontier` alone (no database): the
   algorithm's own cost at both sizes;
4. full verification (`verify_log`: every leaf re-hashed, every node
   recomputed, the checkpoint checked), after one signed checkpoint;
5. proofs: `--proofs` inclusion proofs of random entries in the whole tree,
   and as many consistency proofs between random sizes, read from the stored
   nodes: time per proof.

References, measured in the same run on the same leaves, so that ratios hold
on a noisy machine: SHA-256 of every leaf (the hashing floor of an append and
of verification), and a plain INSERT of the same (seq, leaf) rows into a
scratch table, `--chunk` rows per transaction (the database floor of an
append). Times are wall clock. The exit code is 0 whatever the result: this
is a measurement.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import math
import random
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, text

from egide.core.audit import merkle
from egide.core.clock import SystemClock
from egide.core.crypto.provider import FileKeyProvider
from egide.core.db import Database
from egide.core.db.base import new_id
from egide.core.db.migrate import upgrade
from egide.core.db.models import AuditLeaf
from egide.services.access.policy import Action, Principal, PrincipalKind
from egide.services.audit import ALLOWED, AuditService, record, tree
from egide.services.audit.checkpoints import CheckpointPolicy

ORIGIN = "bench.egide.example/audit"
#: The size at which the small-log append cost is measured (issue 4: 10^3 vs 10^6).
SMALL = 1000


@dataclass
class Figures:
    record_seconds: float = 0.0
    append_seconds: float = 0.0
    #: (size at the start of the chunk, seconds per append in that chunk).
    chunk_costs: list[tuple[int, float]] = field(default_factory=list)


def progress(message: str) -> None:
    print(f"  .. {message}", flush=True)


def record_chunk(db: Database, actor: Principal, start: int, count: int) -> None:
    """`count` file.read events in one write transaction, as actions would add them."""
    with db.write() as session:
        for i in range(start, start + count):
            record(
                session,
                actor=actor,
                action=Action.FILE_READ,
                target={"space": "s-bench", "node": f"n-{i % 5000}", "version": None},
                outcome=ALLOWED,
                details={"bytes": i},
            )


def build_log(db: Database, audit: AuditService, entries: int, chunk: int) -> Figures:
    figures = Figures()
    actor = Principal(kind=PrincipalKind.USER, user_id=new_id(), username="bench")
    done = 0
    report_every = max(chunk, entries // 10)
    while done < entries:
        count = min(chunk, entries - done)
        started = time.perf_counter()
        record_chunk(db, actor, done, count)
        recorded = time.perf_counter()
        appended = audit.sequencer.run_pending()
        finished = time.perf_counter()
        if appended != count:
            raise RuntimeError(f"sequenced {appended} entries, not {count}")
        figures.record_seconds += recorded - started
        figures.append_seconds += finished - recorded
        figures.chunk_costs.append((done, (finished - recorded) / count))
        done += count
        if done % report_every == 0:
            progress(f"{done:,} entries appended")
    return figures


def stored_leaves(db: Database) -> list[bytes]:
    with db.read() as session:
        return [
            bytes(leaf) for leaf in session.scalars(select(AuditLeaf.leaf).order_by(AuditLeaf.seq))
        ]


def sha256_reference(leaves: list[bytes]) -> float:
    """Seconds to compute every leaf hash (0x00 | leaf), nothing else."""
    started = time.perf_counter()
    for leaf in leaves:
        hashlib.sha256(b"\x00" + leaf).digest()
    return time.perf_counter() - started


def insert_reference(db: Database, leaves: list[bytes], chunk: int) -> float:
    """Seconds to INSERT the same (seq, leaf) rows, `chunk` per transaction, in a scratch table."""
    with db.write() as session:
        session.execute(text("CREATE TABLE bench_leaves (seq BIGINT PRIMARY KEY, leaf BLOB)"))
    started = time.perf_counter()
    for first in range(0, len(leaves), chunk):
        rows = [
            {"seq": first + i, "leaf": leaf} for i, leaf in enumerate(leaves[first : first + chunk])
        ]
        with db.write() as session:
            session.execute(text("INSERT INTO bench_leaves (seq, leaf) VALUES (:seq, :leaf)"), rows)
    seconds = time.perf_counter() - started
    with db.write() as session:
        session.execute(text("DROP TABLE bench_leaves"))
    return seconds


def frontier_costs(leaves: list[bytes], chunk: int) -> tuple[float, float]:
    """Seconds per in-memory append in the chunk at SMALL and in the last chunk.

    The cyclic garbage collector is off while timing (as `timeit` does): with
    a million leaves alive in this process, its full passes would be charged
    to whichever append triggers them, and they grow with the heap, not the tree.
    """
    frontier = merkle.Frontier()
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    costs: dict[int, float] = {}
    gc.disable()
    try:
        for first in range(0, len(hashes), chunk):
            batch = hashes[first : first + chunk]
            started = time.perf_counter()
            for value in batch:
                frontier.append(value)
            costs[first] = (time.perf_counter() - started) / len(batch)
    finally:
        gc.enable()
    small = costs.get(SMALL, costs[0])
    return small, costs[max(costs)]


def proof_costs(db: Database, size: int, count: int, rng: random.Random) -> tuple[float, float]:
    """Seconds per inclusion proof and per consistency proof, from the stored nodes."""
    started = time.perf_counter()
    for _ in range(count):
        tree.inclusion_proof(db, rng.randrange(size), size)
    inclusion = (time.perf_counter() - started) / count
    started = time.perf_counter()
    for _ in range(count):
        tree.consistency_proof(db, rng.randrange(1, size + 1), size)
    consistency = (time.perf_counter() - started) / count
    return inclusion, consistency


def chunk_cost_at(figures: Figures, size: int) -> float:
    """Seconds per append in the chunk starting at `size` (or the nearest one below)."""
    starts = [start for start, _ in figures.chunk_costs if start <= size]
    wanted = max(starts) if starts else 0
    return next(cost for start, cost in figures.chunk_costs if start == wanted)


def report(
    args: argparse.Namespace,
    figures: Figures,
    *,
    frontier: tuple[float, float],
    sha_seconds: float,
    insert_seconds: float,
    verify_seconds: float,
    proofs: tuple[float, float],
) -> None:
    n = args.entries
    last_start = figures.chunk_costs[-1][0]
    small_cost = chunk_cost_at(figures, SMALL)
    large_cost = figures.chunk_costs[-1][1]
    tenth = max(1, len(figures.chunk_costs) // 10)
    first_tenth = statistics.median(cost for _, cost in figures.chunk_costs[:tenth])
    last_tenth = statistics.median(cost for _, cost in figures.chunk_costs[-tenth:])
    log_bound = math.log2(max(last_start + args.chunk, 2)) / math.log2(SMALL + args.chunk)
    print()
    print(f"Audit log, {n:,} entries, SQLite in {args.dir}, chunks of {args.chunk}")
    print(f"{'measure':<58}{'value':>14}  unit")
    rows = [
        ("record (outbox insert), per entry", figures.record_seconds / n * 1e6, "us"),
        ("append (sequencer), entries/s", n / figures.append_seconds, "entries/s"),
        ("append, per entry, whole log", figures.append_seconds / n * 1e6, "us"),
        (f"append, per entry, chunk at {SMALL:,}", small_cost * 1e6, "us"),
        (f"append, per entry, last chunk (at {last_start:,})", large_cost * 1e6, "us"),
        (f"append, per entry, median of the first {tenth} chunks", first_tenth * 1e6, "us"),
        (f"append, per entry, median of the last {tenth} chunks", last_tenth * 1e6, "us"),
        (f"Frontier.append in memory, at {SMALL:,}", frontier[0] * 1e6, "us"),
        (f"Frontier.append in memory, at {last_start:,}", frontier[1] * 1e6, "us"),
        ("reference: SHA-256 of every leaf, entries/s", n / sha_seconds, "entries/s"),
        ("reference: plain INSERT of the leaf rows, entries/s", n / insert_seconds, "entries/s"),
        ("full verification (verify_log)", verify_seconds, "s"),
        ("full verification, entries/s", n / verify_seconds, "entries/s"),
        ("inclusion proof, per proof", proofs[0] * 1e3, "ms"),
        ("consistency proof, per proof", proofs[1] * 1e3, "ms"),
    ]
    for label, value, unit in rows:
        print(f"{label:<58}{value:>14,.1f}  {unit}")
    print()
    growth = large_cost / small_cost
    memory_growth = frontier[1] / frontier[0]
    print(f"{'ratio':<58}{'value':>8}  {'bound':>8}  result")
    print(
        f"{'append cost, last chunk / chunk at 1,000':<58}{growth:>8.2f}  {log_bound:>8.2f}  "
        f"{'PASS' if growth <= log_bound else 'ABOVE'}"
    )
    for label, value in (
        ("append cost, median last tenth / median first tenth", last_tenth / first_tenth),
        ("Frontier.append, last chunk / chunk at 1,000", memory_growth),
        ("append / plain INSERT (time per entry)", figures.append_seconds / insert_seconds),
        ("verification / SHA-256 of the leaves (time)", verify_seconds / sha_seconds),
    ):
        print(f"{label:<58}{value:>8.2f}")
    print(
        "(bound: log2 of the last chunk's end over log2 of 2,000, the end of the chunk at 1,000; "
        "on a shared machine, rerun an ABOVE before reading anything into it)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=1_000_000, help="log size (2,000 for CI)")
    parser.add_argument("--chunk", type=int, default=1000, help="events per recording transaction")
    parser.add_argument("--proofs", type=int, default=1000, help="proofs of each kind")
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()), help="where the database goes"
    )
    args = parser.parse_args()
    if args.entries < 2 * args.chunk:
        parser.error("--entries must be at least twice --chunk")
    workdir = Path(tempfile.mkdtemp(prefix="egide-audit-bench-", dir=args.dir))
    db = Database(f"sqlite:///{workdir / 'egide.sqlite3'}")
    try:
        upgrade(db)
        keys, _ = FileKeyProvider.create(workdir / "keys" / "egide.keys", workdir / "escrow.json")
        keys.ensure_audit_key()
        audit = AuditService(db, SystemClock(), signer=keys, policy=CheckpointPolicy(ORIGIN))
        progress(f"building a log of {args.entries:,} entries")
        figures = build_log(db, audit, args.entries, args.chunk)
        leaves = stored_leaves(db)
        progress("references: SHA-256 and plain INSERT of the same leaves")
        sha_seconds = sha256_reference(leaves)
        insert_seconds = insert_reference(db, leaves, args.chunk)
        frontier = frontier_costs(leaves, args.chunk)
        del leaves
        audit.checkpoint(force=True)
        progress("full verification")
        started = time.perf_counter()
        verdict = audit.verify()
        verify_seconds = time.perf_counter() - started
        if not verdict.clean or verdict.entries != args.entries:
            raise RuntimeError(f"the log does not verify: {verdict}")
        progress("proofs")
        proofs = proof_costs(db, args.entries, args.proofs, random.Random(20261130))
        report(
            args,
            figures,
            frontier=frontier,
            sha_seconds=sha_seconds,
            insert_seconds=insert_seconds,
            verify_seconds=verify_seconds,
            proofs=proofs,
        )
    finally:
        db.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
