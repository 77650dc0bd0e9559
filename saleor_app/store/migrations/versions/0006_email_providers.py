"""providers, mailboxes, messages and suppressions (client email)

Channel-neutral: provider accounts of every kind (postmark, smtp, twilio), their senders (mailboxes, numbers,
messaging services), one row per message sent, and suppressed addresses.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('provider_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('installation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('credentials_encrypted', sa.String(length=8192), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('registered', sa.JSON(), nullable=False),
    sa.Column('callback_secret_encrypted', sa.String(length=512), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_message', sa.String(length=1000), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('installation_id', 'key', name='uq_provider_accounts_key')
    )
    op.create_index(op.f('ix_provider_accounts_installation_id'), 'provider_accounts', ['installation_id'], unique=False)
    op.create_table('suppressions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('installation_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('installation_id', 'channel', 'address', name='uq_suppressions_address')
    )
    op.create_table('senders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_account_id', sa.Integer(), nullable=False),
    sa.Column('installation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('last_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_account_id'], ['provider_accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_account_id', 'kind', 'address', name='uq_senders_address')
    )
    op.create_index('ix_senders_installation', 'senders', ['installation_id', 'kind'], unique=False)
    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('installation_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('order_row_id', sa.Integer(), nullable=True),
    sa.Column('provider_account_id', sa.Integer(), nullable=True),
    sa.Column('sender_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('provider_message_id', sa.String(length=255), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('last_event', sa.String(length=40), nullable=True),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_test', sa.Boolean(), nullable=False),
    sa.Column('excerpt', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_row_id'], ['orders.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['provider_account_id'], ['provider_accounts.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sender_id'], ['senders.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_messages_installation', 'messages', ['installation_id', 'id'], unique=False)
    op.create_index('ix_messages_job', 'messages', ['job_id'], unique=False)
    op.create_index('ix_messages_provider_message_id', 'messages', ['provider_message_id'], unique=False)


def downgrade() -> None:

    op.drop_index('ix_messages_provider_message_id', table_name='messages')
    op.drop_index('ix_messages_job', table_name='messages')
    op.drop_index('ix_messages_installation', table_name='messages')
    op.drop_table('messages')
    op.drop_index('ix_senders_installation', table_name='senders')
    op.drop_table('senders')
    op.drop_table('suppressions')
    op.drop_index(op.f('ix_provider_accounts_installation_id'), table_name='provider_accounts')
    op.drop_table('provider_accounts')
