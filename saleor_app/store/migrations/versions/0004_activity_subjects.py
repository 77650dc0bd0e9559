"""activity: what each entry is about (stage, rule, trigger), for the log's filters

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage_key', sa.String(length=63), nullable=True))
        batch_op.add_column(sa.Column('rule_key', sa.String(length=72), nullable=True))
        batch_op.add_column(sa.Column('trigger_key', sa.String(length=63), nullable=True))
        batch_op.create_index('ix_activity_installation', ['installation_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_installation')
        batch_op.drop_column('trigger_key')
        batch_op.drop_column('rule_key')
        batch_op.drop_column('stage_key')
