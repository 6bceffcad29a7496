"""Roll-backs at scale: an incident's roll-back and a point-in-time restore of
`--files` files, beside the ordinary write path measured in the same run.

    python benchmarks/rollback.py [--files 100000] [--smoke] [--dir PATH]

Builds a real vault (SQLite, migrated, WAL, as `egide` runs it) and, in a
space of `--files` files spread over folders of 1,000, simulates an attack
by one user (issue 8, item 3): a third of the files overwritten with a new
version, half of those also renamed to `.locked`, a tenth deleted; then
another user saves one file in a hundred of those attacked (conflicts the
incident's roll-back must keep). The setup writes rows the way the write,
move and delete paths do (names sealed, history rows, versions, trash items)
but skips the blob bytes, which a roll-back never reads: contents are shared
references, as `restore_version` makes them.

The database is then copied twice, and on each copy one roll-back runs as
`egide` would (batches of 500, one transaction each): `RollbackService.
restore_incident` on the first, `RollbackService.restore_at` (the instant
before the attack) on the second. Each is checked: every file's current
content and place are those of before the attack (but the conflicts). The
reference is `FileService.write` of tiny bodies through the ordinary write
path (encryption, blob, fsync, version, audit) on the same machine, in
versions per second. The exit code is 0 whatever the result: a measurement;
1 if a check fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from egide.core.clock import ManualClock
from egide.core.config import Settings
from egide.core.db.base import new_id
from egide.core.db.models import Content, Node, Space, TrashItem, Version
from egide.core.db.models.history import DELETE, MOVE
from egide.core.db.models.ransomware import RansomwareIncident
from egide.services.access.policy import Principal
from egide.services.ransomware.rollback import RollbackReport
from egide.services.registry import Services, build_services, initialise
from egide.services.vault.history import record_place
from egide.services.vault.tree import FILE, FOLDER

SYSTEM = Principal.system()
PASSWORD = "correct horse battery staple 42"  # noqa: S105 - a throw-away vault
SPACE = "bench"
PER_FOLDER = 1000
CHUNK = 2000
T0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


def progress(message: str) -> None:
    print(f"  .. {message}", flush=True)


def _services(data_dir: Path, clock: ManualClock) -> Services:
    settings = Settings(data_dir=data_dir, mfa_required="none", ransomware_detection=False)
    return build_services(settings, clock=clock)


def _content(space: Space, now: dt.datetime) -> Content:
    return Content(
        id=new_id(),
        space_id=space.id,
        blob_key=new_id(),
        size=10,
        blob_size=60,
        segment_size=65536,
        sha256=new_id().replace("-", "").ljust(64, "0"),
        wrapped_dek=b"-",
        dek_key_id=space.current_key_id,
        created_at=now,
    )


def _new_version(
    session: Session, space: Space, node: Node, number: int, *, by: str, now: dt.datetime
) -> Content:
    """Version `number` of `node`, current from `now` on a content of its own (as the
    write path adds one, blob aside); the version it replaces, if any, superseded."""
    if node.current_version_id is not None:
        previous = session.get(Version, node.current_version_id)
        assert previous is not None  # noqa: S101
        previous.superseded_at = now
    content = _content(space, now)
    session.add(content)
    version = Version(
        id=new_id(),
        node_id=node.id,
        number=number,
        content_id=content.id,
        size=10,
        created_at=now,
        created_by=by,
        retain_days=30,
    )
    session.add(version)
    node.current_version_id = version.id
    return content


def _node(session: Session, node_id: str) -> Node:
    node = session.get(Node, node_id)
    assert node is not None  # noqa: S101 - just written
    return node


def setup(svc: Services, files: int, clock: ManualClock) -> dict[str, str]:
    """The space, its files, the attack and another user's saves; node -> content
    expected back ("" for the conflicts)."""
    svc.spaces.create(SYSTEM, SPACE, title="Bench")
    ids = []
    for name in ("mallory", "bob"):
        user = svc.accounts.create_user(SYSTEM, name, password=PASSWORD)
        svc.spaces.grant(SYSTEM, SPACE, "", f"user:{name}", "contributor")
        ids.append(user.id)
    attacker, other = ids
    with svc.db.read() as session:
        space_id = session.scalars(select(Space.id).where(Space.slug == SPACE)).one()
    original = _create(svc, space_id, attacker, files, clock)
    clock.advance(hours=1)
    nodes = sorted(original)
    overwritten = nodes[: files // 3]
    _overwrite(svc, space_id, attacker, overwritten, clock)
    _delete(svc, space_id, attacker, nodes[files // 3 : files // 3 + files // 10], clock)
    clock.advance(hours=1)
    _others(
        svc,
        space_id,
        attacker=attacker,
        other=other,
        saved=overwritten[::100],
        clock=clock,
        original=original,
    )
    clock.advance(hours=1)
    return original


def _create(
    svc: Services, space_id: str, attacker: str, files: int, clock: ManualClock
) -> dict[str, str]:
    original: dict[str, str] = {}
    tree = svc.nodes.tree
    # The files, by chunks (the way the write path inserts them, blobs aside).
    folders: list[str] = []
    for start in range(0, files, CHUNK):
        with svc.db.write() as session:
            space = session.get(Space, space_id)
            assert space is not None  # noqa: S101
            root = session.get(Node, space.root_node_id)
            assert root is not None  # noqa: S101
            for i in range(start, min(files, start + CHUNK)):
                if i % PER_FOLDER == 0:
                    folder = tree.add_node(
                        session,
                        space,
                        root,
                        f"dossier-{i // PER_FOLDER:04d}",
                        kind=FOLDER,
                        created_by=attacker,
                        now=clock.now(),
                    )
                    folders.append(folder.id)
                node = tree.add_node(
                    session,
                    space,
                    _node(session, folders[-1]),
                    f"compte-rendu-{i:06d}.docx",
                    kind=FILE,
                    created_by=attacker,
                    now=clock.now(),
                )
                content = _new_version(session, space, node, 1, by=attacker, now=clock.now())
                original[node.id] = content.id
            space.used_bytes += 10 * (min(files, start + CHUNK) - start)
        progress(f"{min(files, start + CHUNK)} files")
    return original


def _overwrite(
    svc: Services, space_id: str, attacker: str, overwritten: list[str], clock: ManualClock
) -> None:
    """The attack: each file overwritten by a new version, one in two renamed."""
    tree = svc.nodes.tree
    for start in range(0, len(overwritten), CHUNK):
        with svc.db.write() as session:
            space = session.get(Space, space_id)
            assert space is not None  # noqa: S101
            for k, node_id in enumerate(overwritten[start : start + CHUNK], start=start):
                clock.advance(microseconds=1)
                node = _node(session, node_id)
                _new_version(session, space, node, 2, by=attacker, now=clock.now())
                if k % 2 == 0:
                    record_place(session, node, MOVE, by=attacker, at=clock.now())
                    name = tree.name_of(session, node) + ".locked"
                    sealed = tree.seal(session, space, node.id, node.parent_id or "", name)
                    node.name_enc, node.name_index = sealed.name_enc, sealed.name_index
                    node.name_key_id = sealed.key_id
        progress(f"attack: {min(len(overwritten), start + CHUNK)} overwritten")


def _delete(
    svc: Services, space_id: str, attacker: str, deleted: list[str], clock: ManualClock
) -> None:
    for start in range(0, len(deleted), CHUNK):
        with svc.db.write() as session:
            for node_id in deleted[start : start + CHUNK]:
                clock.advance(microseconds=1)
                node = _node(session, node_id)
                item = TrashItem(
                    id=new_id(),
                    space_id=space_id,
                    node_id=node.id,
                    original_parent_id=node.parent_id or "",
                    deleted_at=clock.now(),
                    deleted_by=attacker,
                    protected_until=clock.now() + dt.timedelta(days=30),
                    size_bytes=10,
                )
                session.add(item)
                session.flush()
                record_place(session, node, DELETE, by=attacker, at=clock.now())
                node.parent_id, node.trash_id = None, item.id
            session.execute(
                update(Space)
                .where(Space.id == space_id)
                .values(used_bytes=Space.used_bytes - 10 * len(deleted[start : start + CHUNK]))
            )
        progress(f"attack: {min(len(deleted), start + CHUNK)} deleted")


def _others(
    svc: Services,
    space_id: str,
    *,
    attacker: str,
    other: str,
    saved: list[str],
    clock: ManualClock,
    original: dict[str, str],
) -> None:
    """Another user saves some attacked files afterwards (conflicts); the incident."""
    with svc.db.write() as session:
        space = session.get(Space, space_id)
        assert space is not None  # noqa: S101
        for node_id in saved:
            _new_version(session, space, _node(session, node_id), 3, by=other, now=clock.now())
            original[node_id] = ""  # no longer expected back
        session.add(
            RansomwareIncident(
                id="bench-incident",
                user_id=attacker,
                principal=f"user:{attacker}",
                status="confirmed",
                reason="score",
                score=3.0,
                opened_at=T0 + dt.timedelta(hours=1, minutes=30),
                first_suspicious_at=T0 + dt.timedelta(hours=1),
            )
        )


def check(svc: Services, original: dict[str, str], *, point_in_time: bool) -> list[str]:
    """What differs from before the attack (the conflicts aside for an incident)."""
    problems = []
    with svc.db.read() as session:
        for batch_start in range(0, len(original), CHUNK):
            batch = sorted(original)[batch_start : batch_start + CHUNK]
            rows = session.execute(
                select(Node, Version.content_id)
                .join(Version, Version.id == Node.current_version_id)
                .where(Node.id.in_(batch))
            ).all()
            for node, content_id in rows:
                expected = original[node.id]
                if not expected and not point_in_time:
                    continue
                if node.trash_id is not None or node.parent_id is None:
                    problems.append(f"{node.id}: still in the trash")
                elif svc.nodes.tree.name_of(session, node).endswith(".locked"):
                    problems.append(f"{node.id}: still renamed")
                elif expected and content_id != expected:
                    problems.append(f"{node.id}: content not restored")
    return problems


def reference(root: Path, count: int) -> float:
    """Versions per second through the ordinary write path (tiny bodies)."""
    settings = Settings(data_dir=root / "reference", mfa_required="none")
    initialise(settings)
    svc = build_services(settings)
    try:
        svc.spaces.create(SYSTEM, "ref", title="Ref")
        user = svc.accounts.create_user(SYSTEM, "writer", password=PASSWORD)
        svc.spaces.grant(SYSTEM, "ref", "", "user:writer", "contributor")
        actor = svc.accounts.principal_for(user.id)
        started = time.perf_counter()
        for i in range(count):
            svc.files.write(actor, "ref", f"f{i % 100}.txt", [b"version %d" % i])
        return count / (time.perf_counter() - started)
    finally:
        svc.close()


Result = tuple[str, float, RollbackReport, list[str]]


def run(base: Path, root: Path, now: dt.datetime, original: dict[str, str]) -> list[Result]:
    """Each roll-back on its own copy of the attacked vault."""
    results = []
    for name in ("incident", "point-in-time"):
        data_dir = root / name
        shutil.copytree(base, data_dir)
        svc = _services(data_dir, ManualClock(now))
        try:
            started = time.perf_counter()
            if name == "incident":
                report = svc.rollback.restore_incident(SYSTEM, "bench-incident")
            else:
                report = svc.rollback.restore_at(SYSTEM, SPACE, T0 + dt.timedelta(minutes=30))
            seconds = time.perf_counter() - started
            problems = check(svc, original, point_in_time=name != "incident")
        finally:
            svc.close()
        results.append((name, seconds, report, problems))
    return results


def show(results: list[Result], attacked: int, writes: int, ref: float) -> None:
    print()
    print(
        f"{'':14} {'files':>7} {'seconds':>8} {'files/s':>8}  restored undeleted renamed "
        "trashed conflicts  check"
    )
    for name, seconds, report, problems in results:
        verdict = "ok" if not problems else f"{len(problems)} wrong, e.g. {problems[0]}"
        print(
            f"{name:14} {attacked:7d} {seconds:8.1f} {attacked / seconds:8.0f}  "
            f"{report.restored:8d} {report.undeleted:9d} {report.renamed_back:7d} "
            f"{report.trashed:7d} {len(report.conflicts):9d}  {verdict}"
        )
    print(
        f"{'write path':14} {writes:7d} {writes / ref:8.1f} {ref:8.0f}  "
        "(reference: FileService.write of tiny bodies, versions/s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--reference-writes", type=int, default=1000)
    parser.add_argument("--smoke", action="store_true", help="2,000 files (under a minute)")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    files = 2000 if args.smoke else args.files
    writes = 100 if args.smoke else args.reference_writes
    root = Path(tempfile.mkdtemp(prefix="egide-rollback-", dir=args.dir))
    try:
        print(f"Roll-back benchmark: {files} files, in {root}")
        base = root / "vault"
        clock = ManualClock(T0)
        initialise(Settings(data_dir=base, mfa_required="none", ransomware_detection=False))
        svc = _services(base, clock)
        started = time.perf_counter()
        original = setup(svc, files, clock)
        svc.close()
        print(f"  setup: {time.perf_counter() - started:.1f} s")
        results = run(base, root, clock.now(), original)
        ref = reference(root, writes)
        attacked = files // 3 + files // 10
        show(results, attacked, writes, ref)
        print(
            f"  {files} files; {attacked} attacked: 1 in 3 overwritten (half of them renamed),"
            " 1 in 10 deleted; 1 in 100 overwritten saved again by another user afterwards"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if any(problems for *_, problems in results) else 0


if __name__ == "__main__":
    sys.exit(main())
