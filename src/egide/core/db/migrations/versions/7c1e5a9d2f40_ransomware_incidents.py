"""ransomware: write signals, incidents, suspensions, canaries

Revision ID: 7c1e5a9d2f40
Revises: d47c7f3832a6
Create Date: 2026-11-30 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import egide.core.db.base  # noqa: F401

revision: str = "7c1e5a9d2f40"
down_revision: str | None = "d47c7f3832a6"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
