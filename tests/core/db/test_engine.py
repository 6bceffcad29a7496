"""Engine set-up: SQLite durability and locking, clear errors when the database is down."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from egide.core.db import Database
from egide.core.db.base import utcnow
from egide.core.db.engine import DatabaseUnavailable
from egide.core.db.models import User


def test_sqlite_pragmas(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    db.dispose()


def test_write_transactions_serialise_without_deadlock(db: Database) -> None:
    """Two writers that read then write the same row both succeed, one after the other."""
    with db.write() as session:
        session.add(User(username="counter", display_name="0", created_at=utcnow()))
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(20):
                with db.write() as session:
                    user = session.query(User).filter_by(username="counter").with_for_update().one()
                    value = int(user.display_name)
                    time.sleep(0.001)
                    user.display_name = str(value + 1)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.read() as session:
        assert session.query(User).filter_by(username="counter").one().display_name == "60"


def test_rollback_on_error_leaves_nothing(db: Database) -> None:
    def failing_action() -> None:
        with db.write() as session:
            session.add(User(username="ghost", created_at=utcnow()))
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing_action()
    with db.read() as session:
        assert session.query(User).filter_by(username="ghost").count() == 0


def test_unreachable_database_gives_a_clear_error() -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(DatabaseUnavailable, match="running and reachable"):
        db.ping()
    with pytest.raises(DatabaseUnavailable, match="cannot be reached"), db.read() as session:
        session.execute(text("SELECT 1"))
    db.dispose()
