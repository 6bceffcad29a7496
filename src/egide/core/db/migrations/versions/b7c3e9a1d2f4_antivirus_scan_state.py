"""antivirus: scan state of contents

Revision ID: b7c3e9a1d2f4
Revises: 8d2f6b0e3a51
Create Date: 2026-11-30 06:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import egide.core.db.base

revision: str = "b7c3e9a1d2f4"
down_revision: str | None = "8d2f6b0e3a51"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Contents written before scanning existed are `unscanned` (docs/adr/0023).
    with op.batch_alter_table("contents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "scan_status",
                sa.String(length=16),
                server_default=sa.text("'unscanned'"),
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("scan_signature", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("scanned_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("scan_db_version", sa.String(length=80), nullable=True))
        batch_op.create_index(batch_op.f("ix_contents_scan_status"), ["scan_status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contents_scan_status"))
        batch_op.drop_column("scan_db_version")
        batch_op.drop_column("scanned_at")
        batch_op.drop_column("scan_signature")
        batch_op.drop_column("scan_status")
