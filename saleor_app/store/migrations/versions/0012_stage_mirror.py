"""stage mirror: what the app last wrote into the order's stage key in Saleor, for which stage entry, and when a
write under way was claimed (one write per stage change; saleor_app/domain/stage_mirror.py)

Safe while older processes still serve: nullable columns without defaults, which older code never reads.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('orders', sa.Column('mirror_value', sa.String(length=63), nullable=True))
    op.add_column('orders', sa.Column('mirror_entry_id', sa.Integer(), nullable=True))
    op.add_column('orders', sa.Column('mirror_pending_since', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('mirror_pending_since')
        batch.drop_column('mirror_entry_id')
        batch.drop_column('mirror_value')
