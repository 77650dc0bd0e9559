"""jobs.handed_over_at: when a running job's provider call was about to start (committed before the call)

Crash recovery reads it: a job interrupted before its hand-over never reached a provider and is run again; one
interrupted after it may have been sent. Cleared by every claim, so it always belongs to the current attempt.

Jobs running when it migrates count as handed over (the conservative reading: unknown if interrupted, as before).
The new column is nullable without a default (PostgreSQL only records it in the catalogue) and older code never
reads it; but older workers' claims leave it empty, so stop them before new ones recover their jobs.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('jobs', sa.Column('handed_over_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE jobs SET handed_over_at = updated_at WHERE state = 'running'")


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('handed_over_at')
