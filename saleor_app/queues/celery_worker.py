"""A Celery worker process's side of the runner: start the message's jobs in the database, then execute them.

Celery calls tasks synchronously; the engine is async. Each worker process (prefork child) keeps one event loop
and one set of engine parts, built on the first message — after the fork, so no connection pool or socket is
shared between processes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from saleor_app import metrics
from saleor_app.domain.jobs import JobState
from saleor_app.domain.ports import Clock
from saleor_app.store.dispatch import JobTicket, StartedJob

log = logging.getLogger(__name__)


class StartJobs(Protocol):
    async def __call__(self, tickets: Sequence[JobTicket], now: datetime, lease: timedelta, *,
                       redelivered: bool = False) -> list[StartedJob]: ...


@dataclass(frozen=True, slots=True)
class WorkerParts:
    start: StartJobs
    execute: Callable[[list[int]], Awaitable[Mapping[int, JobState]]]
    clock: Clock
    lease: timedelta
    close: Callable[[], Awaitable[None]]


class RunJobs:
    """What one broker message does: start what is still waiting to run, execute it, count the outcome. The jobs
    start together because they run together: one batch, their side effects concurrent (engine/execute.py). A
    worker killed mid-message leaves them RUNNING; the broker's redelivery of the message takes over those that had
    handed nothing to a provider (store/dispatch.py `start`), the others are settled by recovery."""

    def __init__(self, parts: WorkerParts) -> None:
        self._parts = parts

    async def __call__(self, tickets: Sequence[JobTicket], redelivered: bool = False) -> dict[int, JobState]:
        parts = self._parts
        started = await parts.start(tickets, parts.clock.now(), parts.lease, redelivered=redelivered)
        if len(started) < len(tickets):
            metrics.JOBS_IGNORED.inc(len(tickets) - len(started))
            log.info("dropped messages for jobs no longer waiting to run",
                     extra={"job_ids": sorted({t.job_id for t in tickets} - {job.job_id for job in started})})
        if not started:
            return {}
        now = parts.clock.now()
        for job in started:
            if job.due_at is not None:
                metrics.JOB_START_DELAY.observe(max(0.0, (now - job.due_at).total_seconds()))
        return await counted(parts.execute)([job.job_id for job in started])


def counted(execute: Callable[[list[int]], Awaitable[Mapping[int, JobState]]],
            ) -> Callable[[list[int]], Coroutine[Any, Any, dict[int, JobState]]]:
    """The engine's batch execution, with its outcomes and duration counted (both runners use it)."""

    async def run(job_ids: list[int]) -> dict[int, JobState]:
        began = time.perf_counter()
        states = dict(await execute(job_ids))
        per_job = (time.perf_counter() - began) / max(1, len(job_ids))
        for state in states.values():
            metrics.JOB_OUTCOMES.labels(state=state.value).inc()
            metrics.JOB_RUN.observe(per_job)
        return states

    return run


class ProcessBridge:
    """One event loop per process, and the parts built lazily inside it."""

    def __init__(self, build: Callable[[], WorkerParts]) -> None:
        self._build = build
        self._loop: asyncio.AbstractEventLoop | None = None
        self._parts: WorkerParts | None = None
        self._run: RunJobs | None = None

    def __call__(self, tickets: Sequence[JobTicket], redelivered: bool = False) -> dict[int, JobState]:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self._handle(tickets, redelivered))

    async def _handle(self, tickets: Sequence[JobTicket], redelivered: bool) -> dict[int, JobState]:
        if self._run is None:
            self._parts = self._build()
            self._run = RunJobs(self._parts)
        return await self._run(tickets, redelivered)

    def close(self) -> None:
        if self._loop is None:
            return
        if self._parts is not None:
            self._loop.run_until_complete(self._parts.close())
        self._loop.close()
        self._loop = None
        self._parts = self._run = None
