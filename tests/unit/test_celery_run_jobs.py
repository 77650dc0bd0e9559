"""A Celery worker's message: each job is started by its own claim right before its own run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from saleor_app.domain.jobs import JobState
from saleor_app.queues.celery_worker import RunJobs, WorkerParts
from saleor_app.store.dispatch import JobTicket, StartedJob


class Clock:
    def now(self) -> datetime:
        return datetime(2026, 12, 1, tzinfo=UTC)


async def test_a_message_with_several_tickets_starts_each_job_as_it_runs_it() -> None:
    calls: list[tuple[str, list[int]]] = []

    async def start(tickets: Sequence[JobTicket], now: datetime, lease: timedelta) -> list[StartedJob]:
        calls.append(("start", [t.job_id for t in tickets]))
        return [StartedJob(t.job_id, now) for t in tickets if t.job_id != 3]  # 3 ran already: a stale ticket

    async def execute(job_ids: list[int]) -> dict[int, JobState]:
        calls.append(("run", list(job_ids)))
        return dict.fromkeys(job_ids, JobState.SUCCEEDED)

    async def close() -> None:
        pass

    run = RunJobs(WorkerParts(start, execute, Clock(), timedelta(minutes=5), close))
    states = await run([JobTicket(1, 0), JobTicket(2, 0), JobTicket(3, 1)])
    assert states == {1: JobState.SUCCEEDED, 2: JobState.SUCCEEDED}
    assert sorted(calls) == [("run", [1]), ("run", [2]), ("start", [1]), ("start", [2]), ("start", [3])]
    for job_id in (1, 2):  # started alone, and just before its own run
        assert calls.index(("start", [job_id])) < calls.index(("run", [job_id]))
