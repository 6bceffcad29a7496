"""Alembic environment: runs against the engine handed over by egide.core.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from egide.core.db.models import Base

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):  # pragma: no cover - only via egide.core.db.migrate
    raise TypeError("run migrations through egide.core.db.migrate")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
