"""One `Database` per process: the engine, its session factory, transactions.

SQLite is the embedded default and PostgreSQL the scale-out one; both get the
same models and migrations. On SQLite every connection enables WAL, foreign
keys and FULL synchronous commits (an acknowledged write survives a power
loss), and write transactions start with `BEGIN IMMEDIATE` so two writers
never deadlock on a lock upgrade: the second simply waits (busy timeout).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from egide.core.errors import InvalidInput, Unavailable

_SQLITE_BUSY_TIMEOUT_MS = 30_000


class DatabaseUnavailable(Unavailable):
    code = "database-unavailable"


class InvalidDatabaseUrl(InvalidInput):
    code = "invalid-database-url"


def _setup_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take control of transactions: pysqlite's implicit BEGIN is deferred and
        # would let two writers deadlock on upgrade (SQLAlchemy docs, "Serializable
        # isolation / Savepoints / Transactional DDL" for pysqlite).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("egide_sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


_BAD_URL = (
    "EGIDE_DATABASE_URL is not a database URL Égide can use (SQLite or PostgreSQL). Use for "
    "example postgresql+psycopg://egide@db.example/egide or sqlite:////var/lib/egide/egide.sqlite3."
)


def create_db_engine(url: str, *, echo: bool = False) -> Engine:
    # The URL may hold a password: no message here ever repeats it.
    try:
        backend = make_url(url).get_backend_name()
        if backend == "sqlite":
            engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
            _setup_sqlite(engine)
            return engine
        if backend == "postgresql":
            return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except ArgumentError as exc:
        raise InvalidDatabaseUrl(_BAD_URL, field="database_url") from exc
    raise InvalidDatabaseUrl(_BAD_URL, field="database_url")


class Database:
    """Sessions for reads and for writes.

    `write()` yields a session inside a transaction that commits when the block
    ends and rolls back on any exception; on SQLite it holds the write lock from
    the start. `read()` yields a session for queries only.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = create_db_engine(url, echo=echo)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        write_engine = (
            self.engine.execution_options(egide_sqlite_begin="IMMEDIATE")
            if self.is_sqlite
            else self.engine
        )
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(write_engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._translate_errors(), self._write() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._translate_errors(), self._read() as session, session.begin():
            yield session

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise DatabaseUnavailable(
                "The database cannot be reached or is locked ({reason}). Check that it is "
                "running and reachable, then try again.",
                reason=type(exc.orig).__name__ if exc.orig else "error",
            ) from exc

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise DatabaseUnavailable(
                "The database does not answer. Check that it is running and reachable."
            ) from exc

    def dispose(self) -> None:
        self.engine.dispose()
