"""sharing: file grants, external links, recipients, one-time codes

Revision ID: 8d2f6b0e3a51
Revises: 7c1e5a9d2f40
Create Date: 2026-11-30 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import egide.core.db.base

revision: str = "8d2f6b0e3a51"
down_revision: str | None = "7c1e5a9d2f40"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "space_link_policies",
        sa.Column("space_id", sa.String(length=36), nullable=False),
        sa.Column("links_allowed", sa.Boolean(), nullable=False),
        sa.Column("max_days", sa.Integer(), nullable=True),
        sa.Column("verification_required", sa.Boolean(), nullable=False),
        sa.Column("updated_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["space_id"], ["spaces.id"], name=op.f("fk_space_link_policies_space_id_spaces")
        ),
        sa.PrimaryKeyConstraint("space_id", name=op.f("pk_space_link_policies")),
    )
    op.create_table(
        "share_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("space_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("require_verification", sa.Boolean(), nullable=False),
        sa.Column("max_downloads", sa.Integer(), nullable=True),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.Column("opens", sa.Integer(), nullable=False),
        sa.Column("last_used_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_share_links_node_id_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["space_id"], ["spaces.id"], name=op.f("fk_share_links_space_id_spaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_share_links_token_hash")),
    )
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_links_created_by"), ["created_by"], unique=False)
        batch_op.create_index(batch_op.f("ix_share_links_node_id"), ["node_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_share_links_space_id"), ["space_id"], unique=False)

    op.create_table(
        "share_link_recipients",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("link_id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("code_hash", sa.String(length=200), nullable=True),
        sa.Column("code_expires_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("code_attempts", sa.Integer(), nullable=False),
        sa.Column("code_sent_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verified_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["share_links.id"],
            name=op.f("fk_share_link_recipients_link_id_share_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_link_recipients")),
    )
    with op.batch_alter_table("share_link_recipients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_share_link_recipients_link_id"), ["link_id"], unique=False
        )

    op.create_table(
        "share_link_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("link_id", sa.String(length=36), nullable=False),
        sa.Column("password_ok", sa.Boolean(), nullable=False),
        sa.Column("recipient_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", egide.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["share_links.id"],
            name=op.f("fk_share_link_sessions_link_id_share_links"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["share_link_recipients.id"],
            name=op.f("fk_share_link_sessions_recipient_id_share_link_recipients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_link_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_share_link_sessions_token_hash")),
    )
    with op.batch_alter_table("share_link_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_share_link_sessions_link_id"), ["link_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("share_link_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_link_sessions_link_id"))

    op.drop_table("share_link_sessions")
    with op.batch_alter_table("share_link_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_link_recipients_link_id"))

    op.drop_table("share_link_recipients")
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_links_space_id"))
        batch_op.drop_index(batch_op.f("ix_share_links_node_id"))
        batch_op.drop_index(batch_op.f("ix_share_links_created_by"))

    op.drop_table("share_links")
    op.drop_table("space_link_policies")
