"""Scale-out benchmark on PostgreSQL (issue 8's "Done when").

1. Runner throughput with a zero-latency side effect (a no-op kind), through the whole execute path: the
   in-process runner, then the Celery runner with 1, 2 and 4 worker processes (prefork) and a dispatcher in this
   process. The ratio to the in-process figure is the tracked number.
2. Claim cost (the in-process claim of 8, the dispatcher's claim of 16), activity-log query time (newest page,
   filtered by state, by rule, by order, by several states, the page's poll) and the failure alerts' query, with
   10k and with --big jobs and activity rows in the tables.
3. Catch-up after a broker outage: --catch-up due jobs planned while the broker (a private redis-server) is down,
   then the broker starts; time until every job has run.

    .venv/bin/python bench/scale.py [--jobs 5000] [--processes 1,2,4] [--big 200000] [--catch-up 10000]
                                    [--broker redis://127.0.0.1:6379/0] [--database-url postgresql://…]
                                    [--queries-only]

Each run works in a fresh PostgreSQL schema (dropped afterwards) and its own broker queue.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet
from kombu import Connection
from sqlalchemy import text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.noop_worker import noop  # noqa: E402  (registers the no-op kind here too)
from saleor_app.domain.automation import ActivityFilter  # noqa: E402
from saleor_app.domain.ports import NewInstallation  # noqa: E402
from saleor_app.domain.rules import RuleSpec  # noqa: E402
from saleor_app.settings import AppEnv, Settings  # noqa: E402
from saleor_app.store.dispatch import SqlDispatchStore  # noqa: E402
from saleor_app.store.migrate import upgrade  # noqa: E402
from saleor_app.wiring import Container, build_container  # noqa: E402

POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def fresh_schema(base: str) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def settings_for(url: str, directory: Path, *, broker: str | None = None, **extra: object) -> Settings:
    values: dict[str, object] = {"app_env": AppEnv.TEST, "database_url": url, "data_dir": directory,
                                 "encryption_keys": [Fernet.generate_key().decode()], "log_level": "WARNING",
                                 "sync_webhooks_on_startup": False, "catch_up_interval_seconds": 0,
                                 "allow_loopback_targets": True}  # the fake Saleor listens on loopback
    if broker is not None:
        values |= {"job_runner": "celery", "celery_broker_url": broker, "dispatch_idle_seconds": 0.05,
                   "celery_queue": f"bench-{uuid.uuid4().hex[:10]}"}
    return Settings(_env_file=None, **(values | extra))  # type: ignore[call-arg]


async def tenant(container: Container) -> tuple[int, int]:
    """An installation with the default pipeline and an immediate no-op rule on New: (installation id, rule id)."""
    installation = await container.installations.upsert(NewInstallation(
        f"https://bench-{uuid.uuid4().hex[:6]}.example/graphql/", "QXBwOjE=", "token", {"keys": []},
        ("MANAGE_ORDERS",), "3.23.28"), datetime.now(UTC))
    await container.seed_installation(installation)
    rule = await container.configure.save_rule(installation.id, RuleSpec(
        key="noop", name="noop", stage="new", kind="bench_noop", config={}))
    return installation.id, rule.id


async def seed(container: Container, installation_id: int, count: int, *, state: str = "scheduled",
               due: str = "now() - interval '1 second'", rule_id: int | None = None) -> None:
    """Orders, open entries and jobs written by PostgreSQL itself (planning is not what is measured here)."""
    async with container.engine.begin() as connection:
        start = (await connection.execute(text("SELECT coalesce(max(id), 0) + 1 FROM orders"))).scalar_one()
        params = {"start": start, "n": count, "inst": installation_id, "rule": rule_id, "state": state}
        await connection.execute(text(
            "INSERT INTO orders (id, installation_id, order_id, number, snapshot, snapshot_at, stage_key, "
            "first_seen_at) SELECT :start + g, :inst, 'bench-' || (:start + g), g::text, "
            "'{\"status\": \"UNCONFIRMED\"}'::json, now(), 'new', now() FROM generate_series(0, :n - 1) g"), params)
        await connection.execute(text(
            "INSERT INTO stage_entries (id, installation_id, order_row_id, stage_key, entered_at, adopted, reason) "
            "SELECT :start + g, :inst, :start + g, 'new', now(), false, 'bench' FROM generate_series(0, :n - 1) g"),
            params)
        await connection.execute(text(
            "INSERT INTO jobs (installation_id, order_row_id, entry_id, rule_id, rule_key, kind, idempotency_key, "
            "state, due_at, attempts, reason, created_at, updated_at) SELECT :inst, :start + g, :start + g, :rule, "
            f"'noop', 'bench_noop', 'bench:' || (:start + g), :state, {due}, 0, '', now(), now() "
            "FROM generate_series(0, :n - 1) g"), params)
        for table in ("orders", "stage_entries"):
            await connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                          f"(SELECT max(id) FROM {table}))"))


async def unfinished(container: Container) -> int:
    async with container.engine.connect() as connection:
        return (await connection.execute(text(
            "SELECT count(*) FROM jobs WHERE state IN ('scheduled', 'retrying', 'running')"))).scalar_one()


async def inprocess_rate(base: str, jobs: int) -> float:
    with fresh_schema(base) as url, tempfile.TemporaryDirectory() as tmp:
        container = build_container(settings_for(url, Path(tmp)), extra_handlers={"bench_noop": noop})
        installation_id, rule_id = await tenant(container)
        await seed(container, installation_id, jobs, rule_id=rule_id)
        started = time.perf_counter()
        await container.runner.run_until_idle(max_rounds=jobs + 100)
        elapsed = time.perf_counter() - started
        assert await unfinished(container) == 0
        await container.aclose()
    return jobs / elapsed


def start_workers(settings: Settings, processes: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "APP_ENV": "test", "DATA_DIR": str(settings.data_dir),
           "ENCRYPTION_KEYS": ",".join(settings.encryption_keys), "JOB_RUNNER": "celery",
           "CELERY_BROKER_URL": settings.celery_broker_url or "", "CELERY_QUEUE": settings.celery_queue,
           "LOG_LEVEL": "WARNING", "SYNC_WEBHOOKS_ON_STARTUP": "false"}
    return subprocess.Popen([sys.executable, "-m", "bench.noop_worker", str(processes)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()  # a warm shutdown: the prefork children exit with the parent
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def drop_queue(settings: Settings) -> None:
    with contextlib.suppress(Exception), Connection(settings.celery_broker_url, connect_timeout=2) as connection:
        connection.default_channel.queue_delete(settings.celery_queue)


async def celery_rate(base: str, broker: str, jobs: int, processes: int, batch: int) -> float:
    with fresh_schema(base) as url, tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(url, Path(tmp), broker=broker, dispatch_batch_size=batch)
        container = build_container(settings, extra_handlers={"bench_noop": noop})
        workers = start_workers(settings, processes)
        try:
            installation_id, rule_id = await tenant(container)
            await seed(container, installation_id, processes * 4, rule_id=rule_id)  # warm-up: every process up
            await container.runner.run_until_idle(timeout=120)
            await seed(container, installation_id, jobs, rule_id=rule_id)
            started = time.perf_counter()
            await container.runner.run_until_idle(max_rounds=jobs + 100, timeout=600)
            elapsed = time.perf_counter() - started
            assert await unfinished(container) == 0
        finally:
            stop(workers)
            await container.aclose()
            drop_queue(settings)
    return jobs / elapsed


async def timed(work, prepare=None, repeat: int = 30) -> float:  # type: ignore[no-untyped-def]
    """Median milliseconds of `work`; `prepare` runs before each timing, untimed."""
    timings = []
    for _ in range(repeat):
        if prepare is not None:
            await prepare()
        started = time.perf_counter()
        await work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


async def fill_activity(container: Container, installation_id: int, count: int) -> None:
    """Activity like a busy shop's, one line for each of the newest `count` jobs (so the log's join to the job's
    state now and to its send is measured): mostly successes, one failure in a thousand, 50 rules."""
    async with container.engine.begin() as connection:
        await connection.execute(text(
            "INSERT INTO activity (installation_id, order_row_id, job_id, kind, state, rule_key, message, at) "
            "SELECT :inst, j.order_row_id, j.id, 'job', CASE WHEN j.id % 1000 = 7 THEN 'failed' ELSE 'succeeded' END, "
            "'rule-' || (j.id % 50), 'succeeded: note added', now() - (j.id % :n) * interval '1 second' "
            "FROM (SELECT id, order_row_id FROM jobs WHERE installation_id = :inst ORDER BY id DESC LIMIT :n) j"),
            {"inst": installation_id, "n": count})
        await connection.execute(text("ANALYZE activity"))


async def claims_and_activity(base: str, sizes: list[int]) -> list[tuple[int, dict[str, float]]]:
    results = []
    with fresh_schema(base) as url, tempfile.TemporaryDirectory() as tmp:
        container = build_container(settings_for(url, Path(tmp)))
        dispatch = SqlDispatchStore(container.engine)
        installation_id, rule_id = await tenant(container)
        in_tables = 0
        for size in sizes:
            while in_tables < size:  # 90% finished, 10% due in a month: what a running shop's table looks like
                chunk = min(200_000, size - in_tables)
                await seed(container, installation_id, chunk * 9 // 10, state="succeeded", rule_id=rule_id)
                await seed(container, installation_id, chunk - chunk * 9 // 10 - chunk // 1000,
                           due="now() + interval '30 days'", rule_id=rule_id)
                await seed(container, installation_id, chunk // 1000, state="dead", rule_id=rule_id)  # the alerts'
                await fill_activity(container, installation_id, chunk)
                in_tables += chunk
            async with container.engine.begin() as connection:
                await connection.execute(text("ANALYZE jobs"))

            async def claim() -> None:
                assert len(await container.automation.claim_due(datetime.now(UTC), timedelta(minutes=5), 8)) == 8

            async def claim_for_dispatch() -> None:
                assert len(await dispatch.claim_for_dispatch(datetime.now(UTC), timedelta(minutes=5), 16)) == 16

            def due(count: int):  # type: ignore[no-untyped-def]
                return lambda: seed(container, installation_id, count, rule_id=rule_id)

            async with container.automation.reading() as tx:
                newest = await tx.newest_activity_id(installation_id)

            def activity(**where: object):  # type: ignore[no-untyped-def]
                async def query() -> None:
                    async with container.automation.reading() as tx:
                        await tx.activity(installation_id, ActivityFilter(limit=100, **where))  # type: ignore[arg-type]
                return query

            figures = {
                "claim 8 (in-process)": await timed(claim, due(8)),
                "claim 16 (dispatcher)": await timed(claim_for_dispatch, due(16)),
                "activity: newest 100": await timed(activity()),
                "activity: state=failed": await timed(activity(state="failed")),
                "activity: one rule": await timed(activity(rule_key="rule-7")),
                "activity: one order": await timed(activity(order_row_id=size // 6)),
                "activity: state=dead,unknown": await timed(activity(states=("dead", "unknown"))),
                "activity: poll after the newest": await timed(activity(after_id=newest)),
                "alerts: dead and unknown in 24 h": await timed(
                    lambda: container.alerts.overview(installation_id)),
            }
            results.append((size, figures))
        await container.aclose()
    return results


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def catch_up(base: str, jobs: int, processes: int) -> tuple[float, float]:
    """Broker down while `jobs` fall due; seconds from the broker's start to the last job done, and jobs/s."""
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("the catch-up measure needs redis-server (apt-get install redis-server)")
    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    with fresh_schema(base) as url, tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(url, Path(tmp), broker=broker)
        container = build_container(settings, extra_handlers={"bench_noop": noop})
        installation_id, rule_id = await tenant(container)
        workers = start_workers(settings, processes)
        redis: subprocess.Popen[bytes] | None = None
        try:
            container.runner.start()  # the dispatcher runs; every publish fails while the broker is down
            await seed(container, installation_id, jobs, rule_id=rule_id)
            await asyncio.sleep(3.0)
            assert await unfinished(container) == jobs
            redis = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
            started = time.perf_counter()
            while await unfinished(container):
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
        finally:
            stop(workers)
            await container.aclose()
            if redis is not None:
                redis.kill()
                redis.wait()
    return elapsed, jobs / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--big", type=int, default=200_000)
    parser.add_argument("--catch-up", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=Settings.model_fields["dispatch_batch_size"].default,
                        help="job ids per broker message (DISPATCH_BATCH_SIZE)")
    parser.add_argument("--broker", default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--database-url", default=POSTGRES)
    parser.add_argument("--queries-only", action="store_true",
                        help="only the claim, activity-log and alerts query times (no runners, no broker)")
    args = parser.parse_args()
    base = args.database_url
    logging.basicConfig(level=logging.ERROR)  # the catch-up measure makes the dispatcher warn on purpose
    print(f"PostgreSQL {base.split('@')[-1]}, broker {args.broker}, {os.cpu_count()} CPUs")

    if args.queries_only:
        for size, figures in await claims_and_activity(base, [10_000, args.big]):
            print(f"with {size:>9,} jobs and {size:,} activity rows: "
                  + "; ".join(f"{name} {ms:.2f} ms" for name, ms in figures.items()))
        return
    reference = await inprocess_rate(base, args.jobs)
    print(f"in-process runner, zero-latency side effect ({args.jobs} jobs): {reference:.0f} jobs/s")
    for processes in (int(p) for p in args.processes.split(",")):
        rate = await celery_rate(base, args.broker, args.jobs, processes, args.batch)
        print(f"Celery runner, {processes} worker process(es), {args.batch} jobs per message: {rate:.0f} jobs/s "
              f"(ratio {rate / reference:.2f})")

    for size, figures in await claims_and_activity(base, [10_000, args.big]):
        print(f"with {size:>9,} jobs and {size:,} activity rows: "
              + "; ".join(f"{name} {ms:.2f} ms" for name, ms in figures.items()))

    seconds, rate = await catch_up(base, args.catch_up, 2)
    print(f"broker down → up with {args.catch_up} due jobs (2 worker processes): all done {seconds:.1f} s after "
          f"the broker started ({rate:.0f} jobs/s)")


if __name__ == "__main__":
    asyncio.run(main())
