"""Migrations build exactly the models' schema, and upgrading keeps data."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from egide.core.db import Database
from egide.core.db.base import utcnow
from egide.core.db.migrate import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    head_revision,
    is_up_to_date,
    upgrade,
)
from egide.core.db.models import Base, User


def test_migrated_schema_matches_the_models(db: Database) -> None:
    assert is_up_to_date(db)
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ; run tools/make_migration.py: {diff}"


def test_upgrade_is_idempotent_on_a_database_holding_data(db: Database) -> None:
    with db.write() as session:
        session.add(User(username="kept", display_name="Kept", created_at=utcnow()))
    upgrade(db)
    assert current_revision(db) == head_revision()
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1
        assert session.scalar(select(User.display_name)) == "Kept"


def _revisions_after_the_first() -> list[tuple[str, str]]:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    pairs = [
        (rev.revision, rev.down_revision)
        for rev in script.walk_revisions()
        if isinstance(rev.down_revision, str)
    ]
    return sorted(pairs)


@pytest.mark.parametrize(("revision", "previous"), _revisions_after_the_first())
def test_each_migration_upgrades_a_database_holding_data(
    db: Database, revision: str, previous: str
) -> None:
    """Step back to just before `revision`, add data, then upgrade to head."""
    command.downgrade(alembic_config(db), previous)
    assert current_revision(db) == previous
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, display_name, is_disabled, created_at) "
                "VALUES (:id, :name, :display, :disabled, :created)"
            ),
            {
                "id": "00000000-0000-4000-8000-000000000001",
                "name": "before-upgrade",
                "display": "Before",
                "disabled": False,
                "created": "2026-01-01 00:00:00",
            },
        )
    upgrade(db)
    assert is_up_to_date(db)
    with db.read() as session:
        assert session.scalar(select(User.display_name)) == "Before"
