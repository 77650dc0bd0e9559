"""The hand-over mark, fenced by the attempt: only the run that holds a job may record that its provider call is
about to start.

A run holds its job while the job is RUNNING at the attempt the run started (each start counts one more). If the
lease expired and recovery took the job back, or a redelivered broker message took over a start that was
interrupted, the job has moved on and the old run — perhaps merely slow, not dead — must not send as well: the
mark is refused and the run stops before calling the provider (engine/execute.py, RunTakenOver).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncConnection

from saleor_app.domain.jobs import JobState
from saleor_app.store.tables import JobRow

JOBS = JobRow.__table__  # type: ignore[attr-defined]


async def mark_handed_over(connection: AsyncConnection, job_id: int, attempt: int, now: datetime) -> bool:
    """Whether this run still holds the job; if so its hand-over is recorded (the first one of the attempt counts:
    a kind that sends several messages hands over before the first)."""
    result = await connection.execute(
        update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.attempts == attempt, JOBS.c.state == JobState.RUNNING.value)
        .values(handed_over_at=func.coalesce(JOBS.c.handed_over_at, now))
    )
    return result.rowcount == 1
