"""Migrations build exactly the models' schema, and upgrading keeps data."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from egide.core.db import Database
from egide.core.db.base import utcnow
from egide.core.db.migrate import current_revision, head_revision, is_up_to_date, upgrade
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
