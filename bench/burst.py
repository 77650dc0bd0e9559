"""Sale-day burst: N orders arrive as fast as the fake Saleor can send their webhooks, and the app drains them.

The app runs as its own `serve` process (SQLite with the in-process runner, or PostgreSQL with Celery: a
dispatcher in `serve` and a `worker` process); the fake Saleor runs here, answering GraphQL after --latency
seconds. Each order is placed unconfirmed (ORDER_CREATED), and New has an immediate note rule (the "message").
Both ways of draining run in the same run: the old serial one (INBOX_CONCURRENCY=1, INBOX_BATCH_SIZE=1,
INBOX_SETTLE_MS=0, on fewer orders: it is slow) and the current settings. Printed per run: time until every order
is in its stage and until every note arrived (from the first webhook), orders drained per second, webhook
delivery time p50/p99 during the burst, Saleor calls, and webhook → note p50/p99 and for the last order.

    .venv/bin/python bench/burst.py [--orders 1000] [--old-orders 200] [--latency 0,0.025,0.1]
                                    [--backends sqlite,postgres] [--placers 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.scale import drop_queue, fresh_schema, settings_for  # noqa: E402
from saleor_app.domain.rules import RuleSpec  # noqa: E402
from saleor_app.settings import Settings  # noqa: E402
from saleor_app.store.migrate import upgrade  # noqa: E402
from saleor_app.wiring import build_container  # noqa: E402
from tests.fakes.loopback import free_port  # noqa: E402
from tests.fakes.saleor import FakeSaleor  # noqa: E402

POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
OLD = {"INBOX_CONCURRENCY": "1", "INBOX_BATCH_SIZE": "1", "INBOX_SETTLE_MS": "0"}


def environment(settings: Settings, port: int, drain: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "APP_URL": f"http://127.0.0.1:{port}",
           "ENCRYPTION_KEYS": ",".join(settings.encryption_keys), "DATA_DIR": str(settings.data_dir),
           "LOG_LEVEL": "WARNING", "SYNC_WEBHOOKS_ON_STARTUP": "false", "APP_ENV": "test",
           "CATCH_UP_INTERVAL_SECONDS": "0", "ALLOW_LOOPBACK_TARGETS": "true", **drain}
    if settings.job_runner == "celery":
        env |= {"JOB_RUNNER": "celery", "CELERY_BROKER_URL": settings.celery_broker_url or "",
                "CELERY_QUEUE": settings.celery_queue, "DISPATCH_IDLE_SECONDS": "0.05"}
    return env


@contextlib.contextmanager
def database(backend: str) -> Iterator[tuple[str, Path]]:
    with tempfile.TemporaryDirectory() as tmp:
        if backend == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'app.db'}"
            upgrade(url)
            yield url, Path(tmp)
        else:
            with fresh_schema(POSTGRES) as url:
                yield url, Path(tmp)


async def run(backend: str, orders: int, latency: float, drain: dict[str, str], placers: int) -> dict[str, Any]:
    with database(backend) as (url, directory):
        port = free_port()
        broker = {"broker": BROKER} if backend == "postgres" else {}
        settings = settings_for(url, directory, **broker)
        env = environment(settings, port, drain)
        processes = [subprocess.Popen([sys.executable, "-m", "saleor_app.cli", "serve", "--port", str(port),
                                       "--no-migrate"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)]
        if backend == "postgres":
            processes.append(subprocess.Popen([sys.executable, "-m", "saleor_app.cli", "worker", "--concurrency",
                                               "2"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL))
        observer = build_container(settings)
        try:
            return await measure(observer, port, orders, latency, placers)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
            await observer.aclose()
            if backend == "postgres":
                drop_queue(settings)


async def measure(observer: Any, port: int, orders: int, latency: float,
                  placers: int) -> dict[str, Any]:
    app_url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(400):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{app_url}/health")).status_code == 200:
                    break
            await asyncio.sleep(0.05)
    async with FakeSaleor(validate_documents=False) as saleor:
        await saleor.install(f"{app_url}/api/manifest")
        installation = await observer.installations.get_by_url(saleor.api_url)
        assert installation is not None
        await observer.configure.save_rule(installation.id, RuleSpec(
            key="note", name="note", stage="new", kind="add_note", config={"message": "hello"}))
        deliveries: list[float] = []

        async def sent(request: httpx.Request) -> None:
            request.extensions["sent_at"] = time.perf_counter()

        async def answered(response: httpx.Response) -> None:
            deliveries.append(time.perf_counter() - response.request.extensions["sent_at"])

        saleor.http.event_hooks = {"request": [sent], "response": [answered]}
        saleor.graphql_delay(latency)
        calls_before = len(saleor.calls)
        drafts = [saleor.create_order() for _ in range(orders)]
        acknowledged: dict[str, float] = {}
        queue: asyncio.Queue[Any] = asyncio.Queue()
        for draft in drafts:
            queue.put_nowait(draft)

        async def place() -> None:
            while not queue.empty():
                draft = queue.get_nowait()
                await saleor.complete_draft(draft, auto_confirm=False)  # returns once its webhooks got their 200
                acknowledged[draft.id] = time.perf_counter()

        started = time.perf_counter()
        await asyncio.gather(*(place() for _ in range(placers)))
        arrived = time.perf_counter() - started
        ingest = list(deliveries)
        in_stage = await until(lambda: staged(observer, installation.id, orders), 600)
        noted = await until(lambda: len(notes(saleor)) >= orders, 600)
        first_note: dict[str, float] = {}
        for call in notes(saleor):
            first_note.setdefault(call.variables["order"], call.arrived)
        # the fake stamps calls with time.monotonic(); acknowledged is perf_counter: both monotonic, one origin
        offset = time.monotonic() - time.perf_counter()
        waits = [(first_note[order] - offset - at) * 1000 for order, at in acknowledged.items()]
        last = max(acknowledged, key=acknowledged.__getitem__)
        calls = len(saleor.calls) - calls_before
        seen = -1
        while seen != len(saleor.calls):  # the app's last writes (stage mirrors) and their echoes, before leaving
            seen = len(saleor.calls)
            await asyncio.sleep(0.5 + latency * 2)
        return {"orders": orders, "arrived_s": arrived, "in_stage_s": in_stage - started,
                "noted_s": noted - started, "rate": orders / (in_stage - started),
                "ingest_p50_ms": percentile(ingest, 0.5) * 1000, "ingest_p99_ms": percentile(ingest, 0.99) * 1000,
                "saleor_calls": calls,
                "reads": sum(1 for call in saleor.calls[calls_before:] if call.name in ("OrderById",
                                                                                        "OrdersFullByIds")),
                "wait_p50_ms": percentile(waits, 0.5), "wait_p99_ms": percentile(waits, 0.99),
                "wait_last_ms": (first_note[last] - offset - acknowledged[last]) * 1000}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else float("nan")


def notes(saleor: FakeSaleor) -> list[Any]:
    return [call for call in saleor.calls if call.name == "OrderNoteAdd"]


async def staged(observer: Any, installation_id: int, orders: int) -> bool:
    async with observer.engine.connect() as connection:
        count = (await connection.execute(text(
            "SELECT count(*) FROM orders WHERE installation_id = :id AND stage_key IS NOT NULL"),
            {"id": installation_id})).scalar_one()
    return bool(count >= orders)


async def until(check: Any, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise TimeoutError("the burst did not drain in time")
        await asyncio.sleep(0.005)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--old-orders", type=int, default=200, help="orders for the old serial drain")
    parser.add_argument("--latency", default="0,0.025,0.1", help="the fake's GraphQL latency, seconds")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--placers", type=int, default=16, help="orders placed at once")
    parser.add_argument("--modes", default="old,new")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for backend in args.backends.split(","):
        for latency in (float(value) for value in args.latency.split(",")):
            for mode in args.modes.split(","):
                drain = OLD if mode == "old" else {}
                orders = args.old_orders if mode == "old" else args.orders
                result = await run(backend, orders, latency, drain, args.placers)
                label = f"{backend:8} latency {latency * 1000:5.0f} ms {mode:3}"
                print(f"{label}: {result['orders']} orders arrived in {result['arrived_s']:.2f} s; in stage "
                      f"{result['in_stage_s']:.2f} s ({result['rate']:.0f} orders/s), notes {result['noted_s']:.2f} s;"
                      f" webhook delivery p50 {result['ingest_p50_ms']:.1f} ms p99 {result['ingest_p99_ms']:.1f} ms;"
                      f" Saleor calls {result['saleor_calls']} ({result['reads']} re-reads); webhook → note p50 "
                      f"{result['wait_p50_ms']:.0f} ms p99 {result['wait_p99_ms']:.0f} ms, last order "
                      f"{result['wait_last_ms']:.0f} ms; load {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
