"""Sequence allocation benchmark: numbers/s with concurrent jobs, on SQLite and on PostgreSQL (two engines, as two
workers would have), and a check that the numbers handed out are exactly start..start+N-1.

    .venv/bin/python bench/sequences.py [--jobs 2000] [--concurrency 16] [--postgres postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy import insert

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from saleor_app.store.database import create_engine  # noqa: E402
from saleor_app.store.employee_work import SqlEmployeeWorkStore  # noqa: E402
from saleor_app.store.migrate import upgrade  # noqa: E402
from saleor_app.store.tables import InstallationRow, JobRow, OrderRow  # noqa: E402

NOW = datetime.now(UTC)


async def _rows(url: str, jobs: int) -> tuple[int, list[int]]:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            installation = (await connection.execute(insert(InstallationRow.__table__).values(  # type: ignore[attr-defined]
                saleor_api_url="https://bench.example/graphql/", app_id="A", jwks={}, permissions=[],
                status="active", installed_at=NOW, updated_at=NOW).returning(InstallationRow.id))).scalar_one()
            order = (await connection.execute(insert(OrderRow.__table__).values(  # type: ignore[attr-defined]
                installation_id=installation, order_id="O", snapshot={}, snapshot_at=NOW, first_seen_at=NOW,
            ).returning(OrderRow.id))).scalar_one()
            result = await connection.execute(insert(JobRow.__table__).returning(JobRow.id), [  # type: ignore[attr-defined]
                {"installation_id": installation, "order_row_id": order, "rule_key": "n", "kind": "update_order",
                 "idempotency_key": f"j{i}", "state": "running", "created_at": NOW, "updated_at": NOW}
                for i in range(jobs)])
            return installation, [row[0] for row in result]
    finally:
        await engine.dispose()


async def run(url: str, label: str, jobs: int, concurrency: int) -> None:
    installation, ids = await _rows(url, jobs)
    engines = [create_engine(url) for _ in range(2)]
    stores = [SqlEmployeeWorkStore(engine, encrypt=str, decrypt=str) for engine in engines]
    gate = asyncio.Semaphore(concurrency)
    numbers: list[str] = []

    async def one(index: int, job: int) -> None:
        async with gate:
            numbers.append(await stores[index % 2].allocate(installation, "bench", job, NOW))

    started = time.perf_counter()
    await asyncio.gather(*(one(index, job) for index, job in enumerate(ids)))
    elapsed = time.perf_counter() - started
    for engine in engines:
        await engine.dispose()
    exact = sorted(map(int, numbers)) == list(range(1, jobs + 1))
    print(f"{label:10} {jobs} numbers, {concurrency} concurrent, 2 engines: {jobs / elapsed:,.0f} numbers/s "  # noqa: T201
          f"({elapsed * 1000 / jobs:.2f} ms each); exactly 1..{jobs}: {exact}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/bench.db"
        upgrade(url)
        await run(url, "SQLite", args.jobs, args.concurrency)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.postgres, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = f"{args.postgres}?options=-csearch_path%3D{schema}"
        upgrade(url)
        await run(url, "PostgreSQL", args.jobs, args.concurrency)
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    asyncio.run(main())
