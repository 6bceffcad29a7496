"""Database layer: SQLAlchemy 2 models, engine set-up, Alembic migrations."""

from egide.core.db.engine import Database

__all__ = ["Database"]
