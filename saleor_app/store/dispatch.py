"""SqlDispatchStore: the job claims of the Celery runner — send due jobs to the broker, start them in a worker.

The database owns the schedule; a broker message only says "run job N now". Sending and starting are separate
claims so that no message can make a job run twice or get lost:

- The dispatcher marks due jobs as sent (`dispatched_until`, state unchanged) and publishes their ids, each with
  its `attempts` count as a token. A job the broker lost (or that waits in a backlog) is sent again once
  `dispatched_until` passes; a publish that failed clears the mark at once.
- A worker starts a job with one conditional `UPDATE`: still scheduled or retrying, the same `attempts` as in
  the message, installation active and not paused. A duplicate or stale message (redelivered after a worker was
  killed, sent again by the dispatcher, for a job cancelled or already retried since) matches nothing and is
  dropped; the job's state machine, not the broker, decides.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from saleor_app.domain.installations import InstallationStatus
from saleor_app.domain.jobs import CLAIMABLE, JobState
from saleor_app.store.database import aware
from saleor_app.store.tables import JOBS_DISPATCHED, JOBS_UNDISPATCHED, AutomationSettingsRow, InstallationRow, JobRow

JOBS = JobRow.__table__  # type: ignore[attr-defined]
INSTALLATIONS = InstallationRow.__table__  # type: ignore[attr-defined]
SETTINGS = AutomationSettingsRow.__table__  # type: ignore[attr-defined]
_CLAIMABLE = [state.value for state in CLAIMABLE]


@dataclass(frozen=True, slots=True)
class JobTicket:
    """What a broker message carries for one job: its id and the attempts count it was sent at."""

    job_id: int
    attempts: int


@dataclass(frozen=True, slots=True)
class StartedJob:
    job_id: int
    due_at: datetime | None


def _runnable() -> list[Any]:
    """The installation is active and not paused (as for the in-process runner's claims)."""
    active = exists().where(INSTALLATIONS.c.id == JOBS.c.installation_id,
                            INSTALLATIONS.c.status == InstallationStatus.ACTIVE.value)
    paused = exists().where(SETTINGS.c.installation_id == JOBS.c.installation_id, SETTINGS.c.paused.is_(True))
    return [active, ~paused]


class SqlDispatchStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        async with self._engine.connect() as connection:
            if not self._postgres:
                await connection.exec_driver_sql("BEGIN IMMEDIATE")  # SQLite: take the write lock up front
            else:
                await connection.begin()
            try:
                yield connection
            except BaseException:
                await connection.rollback()
                raise
            await connection.commit()

    async def claim_for_dispatch(self, now: datetime, resend_after: timedelta, limit: int) -> list[JobTicket]:
        """Due jobs not sent yet (oldest due first), then jobs sent before that were never started."""
        async with self._begin() as connection:
            # The predicates are spelled as the partial indexes' own (literal states), so PostgreSQL uses them
            # even for a prepared statement's generic plan.
            tickets = await self._mark(connection, [text(JOBS_UNDISPATCHED)], JOBS.c.due_at, now, resend_after,
                                       limit)
            if len(tickets) < limit:
                tickets += await self._mark(connection, [text(JOBS_DISPATCHED), JOBS.c.dispatched_until < now],
                                            JOBS.c.dispatched_until, now, resend_after, limit - len(tickets))
        return tickets

    async def _mark(self, connection: AsyncConnection, which: list[Any], order: Any, now: datetime,
                    resend_after: timedelta, limit: int) -> list[JobTicket]:
        candidates = (
            select(JOBS.c.id)
            .where(*which, JOBS.c.due_at <= now, *_runnable())
            .order_by(order)
            .limit(limit)
        )
        if self._postgres:  # several dispatchers share the work; none waits for another's rows
            candidates = candidates.with_for_update(skip_locked=True, of=JOBS)
        statement = (
            update(JOBS)
            .where(JOBS.c.id.in_(candidates.scalar_subquery()))
            .values(dispatched_until=now + resend_after)
            .returning(JOBS.c.id, JOBS.c.attempts)
        )
        rows = (await connection.execute(statement)).all()
        return sorted((JobTicket(row[0], row[1]) for row in rows), key=lambda ticket: ticket.job_id)

    async def unsend(self, tickets: Sequence[JobTicket]) -> None:
        """The broker did not take these: they are due again at once (they never reached a worker)."""
        if not tickets:
            return
        async with self._begin() as connection:
            await connection.execute(
                update(JOBS)
                .where(tuple_(JOBS.c.id, JOBS.c.attempts).in_([(t.job_id, t.attempts) for t in tickets]),
                       JOBS.c.state.in_(_CLAIMABLE))
                .values(dispatched_until=None)
            )

    async def start(self, tickets: Sequence[JobTicket], now: datetime, lease: timedelta, *,
                    redelivered: bool = False) -> list[StartedJob]:
        """The worker's claim: each job still waiting to run at the attempt it was sent at becomes RUNNING (the
        next attempt). A message the broker `redelivered` — it does so when the worker that had it died or lost
        the broker — also takes over what that worker's start of the same ticket had not handed over yet: that run
        was interrupted, and its jobs need not wait for their lease to expire. Should that run be alive after all,
        its hand-over is refused (store/hand_over.py): it stops, and nothing is sent twice."""
        if not tickets:
            return []
        which = and_(tuple_(JOBS.c.id, JOBS.c.attempts).in_([(t.job_id, t.attempts) for t in tickets]),
                     JOBS.c.state.in_(_CLAIMABLE))
        if redelivered:
            interrupted = and_(tuple_(JOBS.c.id, JOBS.c.attempts).in_([(t.job_id, t.attempts + 1) for t in tickets]),
                               JOBS.c.state == JobState.RUNNING.value, JOBS.c.handed_over_at.is_(None))
            which = or_(which, interrupted)
        statement = (
            update(JOBS)
            .where(which, *_runnable())
            .values(state=JobState.RUNNING.value, lease_until=now + lease, attempts=JOBS.c.attempts + 1,
                    first_attempt_at=func.coalesce(JOBS.c.first_attempt_at, now), dispatched_until=None,
                    handed_over_at=None, updated_at=now)
            .returning(JOBS.c.id, JOBS.c.due_at)
        )
        async with self._begin() as connection:
            rows = (await connection.execute(statement)).all()
        return sorted((StartedJob(row[0], aware(row[1])) for row in rows), key=lambda job: job.job_id)

    async def next_dispatch_at(self) -> datetime | None:
        """When the next job falls due or a sent one is due to be sent again (the dispatcher sleeps till then)."""
        async with self._engine.connect() as connection:
            due = (await connection.execute(select(func.min(JOBS.c.due_at)).where(text(JOBS_UNDISPATCHED)))).scalar()
            resend = (await connection.execute(
                select(func.min(JOBS.c.dispatched_until)).where(text(JOBS_DISPATCHED)))).scalar()
        times = [aware(value) for value in (due, resend) if value is not None]
        return min(t for t in times if t is not None) if times else None

    async def in_flight(self) -> int:
        """Jobs sent and not finished: waiting in the broker or running (tests and the bench wait for zero)."""
        async with self._engine.connect() as connection:
            return int((await connection.execute(
                select(func.count()).select_from(JOBS).where(or_(
                    JOBS.c.state == JobState.RUNNING.value,
                    and_(JOBS.c.state.in_(_CLAIMABLE), JOBS.c.dispatched_until.is_not(None)),
                ))
            )).scalar_one())
