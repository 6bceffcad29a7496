"""sharing: file requests (upload-only links)

Revision ID: d9e1a3b5c7f2
Revises: c4d8f2a6e1b3
Create Date: 2026-11-30 06:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "d9e1a3b5c7f2"
down_revision: str | None = "c4d8f2a6e1b3"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A file request is a share link of kind "request" (ADR 25): its limits and
    # counters are columns of share_links.
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_file_bytes", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("max_total_bytes", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("max_files", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "received_bytes", sa.BigInteger(), server_default=sa.text("0"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("received_files", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.drop_column("received_files")
        batch_op.drop_column("received_bytes")
        batch_op.drop_column("max_files")
        batch_op.drop_column("max_total_bytes")
        batch_op.drop_column("max_file_bytes")
