"""roll-back: history of node moves and renames, restore runs

Revision ID: c4d8f2a6e1b3
Revises: b7c3e9a1d2f4
Create Date: 2026-11-30 06:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import egide.core.db.base

revision: str = "c4d8f2a6e1b3"
down_revision: str | None = "b7c3e9a1d2f4"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "node_history",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("space_id", sa.String(length=36), nullable=False),
        sa.Column("at", egide.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=36), nullable=True),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.String(length=36), nullable=True),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("name_key_id", sa.String(length=80), nullable=False),
        sa.Column("by_restore", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node_history")),
    )
    with op.batch_alter_table("node_history", schema=None) as batch_op:
        batch_op.create_index("ix_node_history_node_at", ["node_id", "at"], unique=False)
        batch_op.create_index("ix_node_history_space_at", ["space_id", "at"], unique=False)
        batch_op.create_index("ix_node_history_changed_by_at", ["changed_by", "at"], unique=False)
    with op.batch_alter_table("ransomware_incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("restored_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("restored_by", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ransomware_incidents", schema=None) as batch_op:
        batch_op.drop_column("restored_by")
        batch_op.drop_column("restored_at")
    with op.batch_alter_table("node_history", schema=None) as batch_op:
        batch_op.drop_index("ix_node_history_changed_by_at")
        batch_op.drop_index("ix_node_history_space_at")
        batch_op.drop_index("ix_node_history_node_at")
    op.drop_table("node_history")
