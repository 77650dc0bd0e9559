"""Installations and the webhook inbox.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "installations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("saleor_api_url", sa.String(2048), nullable=False, unique=True),
        sa.Column("app_id", sa.String(255), nullable=False),
        sa.Column("token_encrypted", sa.String(4096), nullable=True),
        sa.Column("jwks", sa.JSON(), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("saleor_version", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uninstalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("personal_data_purged_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "webhook_inbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "installation_id",
            sa.Integer(),
            sa.ForeignKey("installations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("order_id", sa.String(255), nullable=True),
        sa.Column("issued_at", sa.String(64), nullable=True),
        sa.Column("self_caused", sa.Boolean(), nullable=False),
        sa.Column("parse_error", sa.String(1024), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("installation_id", "event", "body_sha256", name="uq_webhook_inbox_dedupe"),
    )
    op.create_index("ix_webhook_inbox_pending", "webhook_inbox", ["state", "id"])


def downgrade() -> None:
    op.drop_table("webhook_inbox")
    op.drop_table("installations")
