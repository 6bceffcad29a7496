"""Autogenerate an Alembic migration from the models: `python tools/make_migration.py "message"`.

Runs against a scratch SQLite database brought to head first; review the result.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from egide.core.db.engine import Database
from egide.core.db.migrate import alembic_config, upgrade


def main() -> None:
    message = sys.argv[1] if len(sys.argv) > 1 else "change"
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'scratch.sqlite3'}")
        upgrade(db)
        command.revision(alembic_config(db), message=message, autogenerate=True)
        db.dispose()


if __name__ == "__main__":
    main()
