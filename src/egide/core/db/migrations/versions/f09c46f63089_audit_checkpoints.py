"""audit checkpoints: signed C2SP checkpoints of the audit log, one per tree size

Revision ID: f09c46f63089
Revises: d3dbd74bc166
Create Date: 2026-11-29 22:47:27.873361
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import egide.core.db.base

revision: str = "f09c46f63089"
down_revision: str | None = "d3dbd74bc166"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_audit_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
