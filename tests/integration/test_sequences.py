"""Sequence numbers under concurrency: two workers (two engines, their own connection pools) allocate for many
jobs at once, and jobs retried meanwhile ask again — no number twice, none skipped, each job keeps its own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import insert

from saleor_app.domain.jobs import JobState
from saleor_app.domain.sequences import SequenceSpec
from saleor_app.store.database import create_engine
from saleor_app.store.employee_work import SqlEmployeeWorkStore
from saleor_app.store.tables import InstallationRow, JobRow, OrderRow

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
JOBS = 60


async def _jobs(engine, count: int) -> tuple[int, list[int]]:  # type: ignore[no-untyped-def]
    async with engine.begin() as connection:
        installation = (await connection.execute(insert(InstallationRow.__table__).values(
            saleor_api_url="https://shop.example.com/graphql/", app_id="QXBwOjE=", jwks={}, permissions=[],
            status="active", installed_at=NOW, updated_at=NOW).returning(InstallationRow.__table__.c.id))).scalar_one()
        order = (await connection.execute(insert(OrderRow.__table__).values(
            installation_id=installation, order_id="T3JkZXI6MQ==", snapshot={}, snapshot_at=NOW, first_seen_at=NOW,
        ).returning(OrderRow.__table__.c.id))).scalar_one()
        ids = []
        for index in range(count):
            ids.append((await connection.execute(insert(JobRow.__table__).values(
                installation_id=installation, order_row_id=order, rule_key="number", kind="update_order",
                idempotency_key=f"job-{index}", state=JobState.RUNNING.value, created_at=NOW, updated_at=NOW,
            ).returning(JobRow.__table__.c.id))).scalar_one())
    return installation, ids


async def test_concurrent_allocations_never_repeat_or_skip_a_number(database_url: str) -> None:
    engines = [create_engine(database_url, pool_size=8) if "postgresql" in database_url else
               create_engine(database_url) for _ in range(2)]
    try:
        installation, jobs = await _jobs(engines[0], JOBS)
        workers = [SqlEmployeeWorkStore(engine, encrypt=str, decrypt=str) for engine in engines]
        await workers[0].save_sequence(installation, SequenceSpec(key="order-number", prefix="A-", padding=4,
                                                                  start=100), NOW)
        # Every job asks twice (a retry racing its first attempt), from alternating workers, all at once.
        asks = [(job, workers[(job + attempt) % 2]) for attempt in range(2) for job in jobs]
        numbers = await asyncio.gather(*(worker.allocate(installation, "order-number", job, NOW)
                                         for job, worker in asks))
        by_job: dict[int, set[str]] = {}
        for (job, _), number in zip(asks, numbers, strict=True):
            by_job.setdefault(job, set()).add(number)
        assert all(len(found) == 1 for found in by_job.values()), "a retried job got another number"
        handed_out = sorted(next(iter(found)) for found in by_job.values())
        assert handed_out == [f"A-{value:04d}" for value in range(100, 100 + JOBS)]  # contiguous, no repeats
        assert await workers[1].peek(installation, "order-number") == f"A-{100 + JOBS:04d}"
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_sequence_never_goes_back(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        installation, jobs = await _jobs(engine, 2)
        store = SqlEmployeeWorkStore(engine, encrypt=str, decrypt=str)
        assert await store.allocate(installation, "invoice", jobs[0], NOW) == "1"  # created on first use
        await store.save_sequence(installation, SequenceSpec(key="invoice", prefix="INV", padding=3, start=1), NOW)
        assert await store.allocate(installation, "invoice", jobs[1], NOW) == "INV002"
    finally:
        await engine.dispose()
