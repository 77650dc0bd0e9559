"""triggers, event rules, write-back intents, system job payloads, catch-up checkpoints

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('triggers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('installation_id', sa.Integer(), nullable=False),
    sa.Column('stage_key', sa.String(length=63), nullable=False),
    sa.Column('key', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('condition', sa.JSON(), nullable=True),
    sa.Column('allow_back', sa.Boolean(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('secret_encrypted', sa.String(length=512), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('installation_id', 'key', name='uq_triggers_key')
    )
    with op.batch_alter_table('triggers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_triggers_installation_id'), ['installation_id'], unique=False)

    op.create_table('catch_up',
    sa.Column('installation_id', sa.Integer(), nullable=False),
    sa.Column('updated_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_recheck_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('installation_id')
    )
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.alter_column('stage_key', existing_type=sa.String(length=63), nullable=True)
        batch_op.add_column(sa.Column('event', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('event_params', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('cancel_on_move', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('moving_to', sa.String(length=63), nullable=True))
        batch_op.add_column(sa.Column('moving_since', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('payload')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('moving_since')
        batch_op.drop_column('moving_to')
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.drop_column('cancel_on_move')
        batch_op.drop_column('event_params')
        batch_op.drop_column('event')
        batch_op.alter_column('stage_key', existing_type=sa.String(length=63), nullable=False)
    op.drop_table('catch_up')
    with op.batch_alter_table('triggers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_triggers_installation_id'))
    op.drop_table('triggers')
