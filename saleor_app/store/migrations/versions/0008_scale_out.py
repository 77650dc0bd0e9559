"""indexes and retention for scale-out on PostgreSQL

jobs.dispatched_until (a job sent to the Celery broker and not started yet; sent again after it), partial indexes
for the dispatcher's claims, and activity indexes for the filtered log views.

Safe while older processes still serve: the new column is nullable without a default (PostgreSQL only records
it in the catalogue) and older code never reads it; on PostgreSQL the indexes are built CONCURRENTLY, outside
the migration's transaction, so webhook inserts and claims are not blocked while they build.

Revision ID: 0008
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None

_UNDISPATCHED = "state IN ('scheduled', 'retrying') AND dispatched_until IS NULL"
_DISPATCHED = "state IN ('scheduled', 'retrying') AND dispatched_until IS NOT NULL"
_INDEXES: list[tuple[str, str, list[str], str | None]] = [
    ('ix_jobs_undispatched', 'jobs', ['due_at'], _UNDISPATCHED),
    ('ix_jobs_dispatched', 'jobs', ['dispatched_until'], _DISPATCHED),
    ('ix_activity_rule', 'activity', ['installation_id', 'rule_key', 'id'], None),
    ('ix_activity_state', 'activity', ['installation_id', 'state', 'id'], None),
]


def _postgres() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade() -> None:
    op.add_column('jobs', sa.Column('dispatched_until', sa.DateTime(timezone=True), nullable=True))
    if _postgres():
        with op.get_context().autocommit_block():
            for name, table, columns, where in _INDEXES:
                op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {name}')  # a build interrupted earlier is INVALID
                op.create_index(name, table, columns, postgresql_concurrently=True,
                                postgresql_where=sa.text(where) if where else None)
        return
    for name, table, columns, where in _INDEXES:
        op.create_index(name, table, columns, sqlite_where=sa.text(where) if where else None)


def downgrade() -> None:
    for name, table, _columns, _where in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('dispatched_until')
