"""Engine benchmark on the embedded default (SQLite, in-process runner).

1. Latency from a webhook being acknowledged to an immediate rule's side effect (an order note arriving in the
   fake Saleor), over real HTTP on loopback, with the app in its own process: p50/p99.
2. Runner throughput with a zero-latency side effect (a no-op kind): jobs/s through the whole execute path,
   beside the raw claim + commit cost measured in the same run (no Saleor call inside).
3. Claim cost with 10k and with 1M scheduled jobs in the table (it should stay flat: an index on state, due_at).

    .venv/bin/python bench/engine.py [--orders 200] [--jobs 5000] [--big 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from saleor_app.app import create_app  # noqa: E402
from saleor_app.domain import kinds  # noqa: E402
from saleor_app.domain.jobs import JobState  # noqa: E402
from saleor_app.domain.rules import RuleSpec  # noqa: E402
from saleor_app.engine.execute import ActionContext  # noqa: E402
from saleor_app.settings import AppEnv, Settings  # noqa: E402
from saleor_app.store.migrate import upgrade  # noqa: E402
from saleor_app.store.tables import JobRow, OrderRow, StageEntryRow  # noqa: E402
from saleor_app.wiring import build_container  # noqa: E402
from tests.fakes.loopback import LoopbackServer, free_port  # noqa: E402
from tests.fakes.saleor import FakeSaleor  # noqa: E402


class NoopConfig(kinds.KindConfig):
    pass


kinds.register(kinds.RuleKind("bench_noop", "Benchmark no-op", NoopConfig, idempotent=True))


async def noop(_ctx: ActionContext) -> str:
    return "nothing"


def settings_for(directory: Path, port: int) -> Settings:
    url = f"sqlite:///{directory / 'app.db'}"
    upgrade(url)
    return Settings(_env_file=None, app_env=AppEnv.TEST, app_url=f"http://127.0.0.1:{port}",  # type: ignore[call-arg]
                    database_url=url, data_dir=directory, encryption_keys=[Fernet.generate_key().decode()],
                    sync_webhooks_on_startup=False, log_level="WARNING",
                    allow_loopback_targets=True)  # the fake Saleor listens on loopback


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


async def latency(orders: int, mode: str = "process") -> tuple[float, float]:
    """The app runs as `serve` (as deployed; RUNNER_MODE `mode`); the fake Saleor runs here, on the other core."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        settings = settings_for(Path(tmp), port)
        env = {**os.environ, "DATABASE_URL": settings.database_url, "APP_URL": settings.app_url,
               "ENCRYPTION_KEYS": ",".join(settings.encryption_keys), "DATA_DIR": tmp, "LOG_LEVEL": "WARNING",
               "SYNC_WEBHOOKS_ON_STARTUP": "false", "APP_ENV": "test", "CATCH_UP_INTERVAL_SECONDS": "0",
               "ALLOW_LOOPBACK_TARGETS": "true", "RUNNER_MODE": mode}
        app = subprocess.Popen([sys.executable, "-m", "saleor_app.cli", "serve", "--port", str(port), "--no-migrate"],
                               cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # the runner process stops with it
        observer = build_container(settings)
        try:
            async with httpx.AsyncClient() as client:
                for _ in range(200):
                    try:
                        if (await client.get(f"{settings.app_url}/health")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        await asyncio.sleep(0.05)
            async with FakeSaleor(validate_documents=False) as saleor:
                await saleor.install(f"{settings.app_url}/api/manifest")
                installation = await observer.installations.get_by_url(saleor.api_url)
                assert installation is not None
                await observer.configure.save_rule(installation.id, RuleSpec(
                    key="note", name="note", stage="new", kind="add_note", config={"message": "hello"}))
                samples = []
                seen = 0  # scan only the mutations that arrived since the last look: the list keeps growing

                async def arrived(name: str) -> None:
                    nonlocal seen
                    while True:
                        calls = saleor.mutations
                        found = next((i for i in range(seen, len(calls)) if calls[i].name == name), None)
                        if found is not None:
                            seen = found + 1
                            return
                        seen = len(calls)
                        await asyncio.sleep(0.0002)

                # A warm-up order: the runner process has started and every code path is loaded.
                await saleor.place_order(auto_confirm=False)
                await arrived("orderNoteAdd")
                await arrived("updatePrivateMetadata")
                for _ in range(orders):
                    seen = len(saleor.mutations)
                    order = saleor.create_order()
                    await saleor.complete_draft(order, auto_confirm=False)  # returns once the webhook got its 200
                    acknowledged = time.perf_counter()
                    await arrived("orderNoteAdd")
                    samples.append((time.perf_counter() - acknowledged) * 1000)
                    # One order at a time: wait for its stage mirror (written after its jobs) and the echoes.
                    await arrived("updatePrivateMetadata")
                    await asyncio.sleep(0.05)
        finally:
            app.terminate()
            app.wait(timeout=30)
            await observer.aclose()
    return percentile(samples, 0.5), percentile(samples, 0.99)


async def seed_jobs(container, installation_id: int, count: int, *, due: datetime, state: str = "scheduled",
                    rule_id: int | None = None) -> None:
    """Orders, open entries and jobs written directly, in bulk (planning is not what is measured here)."""
    now = datetime.now(UTC)
    async with container.engine.begin() as connection:
        start = (await connection.execute(select(func.coalesce(func.max(OrderRow.__table__.c.id), 0)))).scalar_one() + 1  # type: ignore[attr-defined]
        await connection.execute(insert(OrderRow.__table__), [  # type: ignore[attr-defined]
            {"id": start + i, "installation_id": installation_id, "order_id": f"bench-{start + i}", "number": str(i),
             "snapshot": {"status": "UNCONFIRMED"}, "snapshot_at": now, "stage_key": "new", "first_seen_at": now}
            for i in range(count)])
        await connection.execute(insert(StageEntryRow.__table__), [  # type: ignore[attr-defined]
            {"id": start + i, "installation_id": installation_id, "order_row_id": start + i, "stage_key": "new",
             "entered_at": now, "adopted": False, "reason": "bench"} for i in range(count)])
        await connection.execute(insert(JobRow.__table__), [  # type: ignore[attr-defined]
            {"installation_id": installation_id, "order_row_id": start + i, "entry_id": start + i,
             "rule_id": rule_id, "rule_key": "noop", "kind": "bench_noop", "idempotency_key": f"bench:{start + i}",
             "state": state, "due_at": due, "attempts": 0, "reason": "", "created_at": now, "updated_at": now}
            for i in range(count)])


async def throughput(jobs: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        settings = settings_for(Path(tmp), port)
        container = build_container(settings, extra_handlers={"bench_noop": noop})
        served = LoopbackServer(create_app(settings, container), port=port, lifespan="off")
        async with FakeSaleor(validate_documents=False) as saleor, served:
            await saleor.install(f"http://127.0.0.1:{port}/api/manifest")
            installation = await container.installations.get_by_url(saleor.api_url)
            assert installation is not None
            rule = await container.configure.save_rule(installation.id, RuleSpec(
                key="noop", name="noop", stage="new", kind="bench_noop", config={}))
            past = datetime.now(UTC) - timedelta(seconds=1)
            await seed_jobs(container, installation.id, jobs, due=past, rule_id=rule.id)
            started = time.perf_counter()
            await container.runner.run_until_idle(max_rounds=jobs + 100)
            runner_rate = jobs / (time.perf_counter() - started)
            async with container.automation.transaction() as tx:
                done = sum(1 for _ in await tx.pending_jobs(installation.id))
            assert done == 0, f"{done} jobs left pending"

            # The raw cost: claim a batch and commit each job as succeeded, no handler and no checks.
            await seed_jobs(container, installation.id, jobs, due=past, rule_id=rule.id)
            started = time.perf_counter()
            claimed_total = 0
            while True:
                claimed = await container.automation.claim_due(datetime.now(UTC), timedelta(minutes=5), 8)
                if not claimed:
                    break
                claimed_total += len(claimed)
                for job_id in claimed:
                    async with container.automation.transaction() as tx:
                        await tx.update_job(job_id, datetime.now(UTC), state=JobState.SUCCEEDED, lease_until=None)
            raw_rate = claimed_total / (time.perf_counter() - started)
            await container.aclose()
    return runner_rate, raw_rate


async def claim_cost(sizes: list[int]) -> list[tuple[int, float]]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        settings = settings_for(Path(tmp), port)
        container = build_container(settings)
        served = LoopbackServer(create_app(settings, container), port=port, lifespan="off")
        async with FakeSaleor(validate_documents=False) as saleor, served:
            await saleor.install(f"http://127.0.0.1:{port}/api/manifest")
            installation = await container.installations.get_by_url(saleor.api_url)
            assert installation is not None
            in_table = 0
            future = datetime.now(UTC) + timedelta(days=30)
            for size in sizes:
                while in_table < size:
                    chunk = min(50_000, size - in_table)
                    await seed_jobs(container, installation.id, chunk, due=future)
                    in_table += chunk
                timings = []
                for _ in range(50):
                    await seed_jobs(container, installation.id, 8, due=datetime.now(UTC) - timedelta(seconds=1))
                    started = time.perf_counter()
                    claimed = await container.automation.claim_due(datetime.now(UTC), timedelta(minutes=5), 8)
                    timings.append((time.perf_counter() - started) * 1000)
                    assert len(claimed) == 8
                results.append((size, statistics.median(timings)))
            await container.aclose()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--modes", default="process", help="RUNNER_MODE values whose latency is measured")
    parser.add_argument("--latency-only", action="store_true")
    args = parser.parse_args()

    for mode in args.modes.split(","):
        p50, p99 = await latency(args.orders, mode)
        print(f"webhook acknowledged → immediate rule's side effect ({args.orders} orders, RUNNER_MODE={mode}): "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms; load average {os.getloadavg()[0]:.2f}", flush=True)
    if args.latency_only:
        return
    runner_rate, raw_rate = await throughput(args.jobs)
    print(f"runner throughput, zero-latency side effect ({args.jobs} jobs): {runner_rate:.0f} jobs/s; "
          f"raw claim + commit in the same run: {raw_rate:.0f} jobs/s")
    for size, median in await claim_cost([10_000, args.big]):
        print(f"claim of 8 due jobs with {size:>9,} scheduled jobs in the table: median {median:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
