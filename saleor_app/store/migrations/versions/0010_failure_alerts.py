"""failure alerts: digest settings and state per installation, and a partial index of dead and unknown jobs

Safe while older processes still serve: a new table older code never reads; on PostgreSQL the index is built
CONCURRENTLY, outside the migration's transaction, so job writes are not blocked while it builds.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_FAILED = "state IN ('dead', 'unknown')"


def upgrade() -> None:
    op.create_table('failure_alerts',
    sa.Column('installation_id', sa.Integer(), nullable=False),
    sa.Column('digest_enabled', sa.Boolean(), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('digest_hour', sa.Integer(), nullable=False),
    sa.Column('dashboard_url', sa.String(length=500), nullable=True),
    sa.Column('digest_day', sa.String(length=10), nullable=True),
    sa.Column('digest_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('digest_outcome', sa.String(length=1000), nullable=False),
    sa.Column('digest_failed', sa.Boolean(), nullable=False),
    sa.Column('problems', sa.JSON(), nullable=False),
    sa.Column('problems_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('problems_error', sa.String(length=1000), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['installations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('installation_id')
    )
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.execute('DROP INDEX CONCURRENTLY IF EXISTS ix_jobs_failed')  # a build interrupted earlier is INVALID
            op.create_index('ix_jobs_failed', 'jobs', ['installation_id', 'updated_at'], postgresql_concurrently=True,
                            postgresql_where=sa.text(_FAILED))
        return
    op.create_index('ix_jobs_failed', 'jobs', ['installation_id', 'updated_at'], sqlite_where=sa.text(_FAILED))


def downgrade() -> None:
    op.drop_index('ix_jobs_failed', table_name='jobs')
    op.drop_table('failure_alerts')
