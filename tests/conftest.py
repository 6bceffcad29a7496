"""Fixtures shared by the whole suite.

`db` gives each test a real, migrated database: a fresh SQLite file copied
from a template migrated once per session, or, when EGIDE_TEST_DATABASE_URL
names a PostgreSQL database (as `.ci/run` does), that database migrated once
and emptied after each test. Tests that use it are marked `db` automatically
so `.ci/run` can run exactly them again on PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import argon2
import pytest
from sqlalchemy import make_url, text

from egide.core.config import Settings
from egide.core.db.engine import Database
from egide.core.db.migrate import upgrade
from egide.core.db.models import Base

PG_URL = os.environ.get("EGIDE_TEST_DATABASE_URL")

# pytest-xdist workers inherit COLUMNS=80 and LINES=24; Rich would fix its
# consoles' width from them when egide.cli is imported, before any test can
# widen it, and fold long paths and ids in the CLI tests' output.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

pytest_plugins = ["tests.vault_fixtures", "tests.mail_fixtures"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture(autouse=True)
def _english_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests read English messages: the command line follows the locale (LANGUAGE
    first), so a developer's French desktop must not change them. Tests of the
    French text set their own environment."""
    monkeypatch.setenv("LANGUAGE", "en")


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    template = Database(f"sqlite:///{path}")
    upgrade(template)
    template.dispose()
    return path


def _worker_pg_url(url: str, worker: str) -> str:
    """Under pytest-xdist each worker gets its own database, `<name>_<worker>`,
    created on the same server (and dropped at the end): the tests of one
    worker empty the tables between tests, which must not touch another's."""
    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    admin = Database(url)
    try:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def _drop_pg(url: str, worker_url: str) -> None:
    name = make_url(worker_url).database
    admin = Database(url)
    try:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[Database | None]:
    if not PG_URL:
        yield None
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = _worker_pg_url(PG_URL, worker) if worker else PG_URL
    database = Database(url)
    upgrade(database)
    yield database
    database.dispose()
    if worker:
        _drop_pg(PG_URL, url)


def _empty_pg(database: Database) -> None:
    # DELETE, children first: for the few rows a test leaves, far cheaper than
    # TRUNCATE, which rewrites every table's files whatever they hold.
    with database.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def database_url(
    tmp_path: Path, _sqlite_template: Path, _pg_database: Database | None
) -> Iterator[str]:
    """URL of an empty, migrated database for this test."""
    if _pg_database is not None:
        _empty_pg(_pg_database)  # each test starts empty; the next one empties after this
        yield _pg_database.url
        return
    path = tmp_path / "egide.sqlite3"
    shutil.copyfile(_sqlite_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for a data directory under tmp_path, on this test's database.

    No second factor required (`mfa_required="none"`), so the suite signs in with
    a password as before; the MFA tests set the policy they test, and
    tests/web/test_mfa.py runs the default ("everyone") end to end.
    """
    return Settings(data_dir=tmp_path / "data", database_url=database_url, mfa_required="none")


@pytest.fixture
def insecure_fast_argon2() -> argon2.PasswordHasher:
    """argon2id with toy parameters: fast tests, never for real passwords."""
    return argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
