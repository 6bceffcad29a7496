"""notifications: follows, notifications, preferences

Revision ID: e2f4b6d8a0c1
Revises: d9e1a3b5c7f2
Create Date: 2026-11-30 06:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import egide.core.db.base

revision: str = "e2f4b6d8a0c1"
down_revision: str | None = "d9e1a3b5c7f2"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "notify_follows",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("space_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["nodes.id"],
            name=op.f("fk_notify_follows_node_id_nodes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["space_id"],
            ["spaces.id"],
            name=op.f("fk_notify_follows_space_id_spaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notify_follows_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_follows")),
        sa.UniqueConstraint("user_id", "node_id", name=op.f("uq_notify_follows_user_id_node_id")),
    )
    with op.batch_alter_table("notify_follows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notify_follows_node_id"), ["node_id"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("space_id", sa.String(length=36), nullable=True),
        sa.Column("node_id", sa.String(length=36), nullable=True),
        sa.Column("actor_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mailed_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("user_id", "event_id", name=op.f("uq_notifications_user_id_event_id")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_user_created", ["user_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_notifications_user_seq", ["user_id", "seq"], unique=False)
    op.create_table(
        "notify_preferences",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=16), nullable=False),
        sa.Column("privacy", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("last_digest_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notify_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notify_preferences")),
    )
    # The notification worker starts at the end of the log as it is now: an
    # existing deployment must not be told today about every share of its past
    # (ADR 26). A new database starts at 0, which is the same thing.
    op.execute(
        "INSERT INTO audit_cursors (name, next_seq, updated_at) "
        "SELECT 'notifications', COALESCE(MAX(seq) + 1, 0), CURRENT_TIMESTAMP FROM audit_events"
    )


def downgrade() -> None:
    op.execute("DELETE FROM audit_cursors WHERE name = 'notifications'")
    op.drop_table("notify_preferences")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user_seq")
        batch_op.drop_index("ix_notifications_user_created")
    op.drop_table("notifications")
    with op.batch_alter_table("notify_follows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_follows_node_id"))
    op.drop_table("notify_follows")
