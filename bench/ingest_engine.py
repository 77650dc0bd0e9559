"""Webhook ingest while the engine works the same stream (`bench/ingest.py --engine`).

A fake Saleor that answers at once runs in this process: it holds the orders the webhooks name (created "after"
the installation, so the engine plans them rather than adopting them), and the app is installed into it with an
immediate note rule on Awaiting payment. wrk sends distinct signed ORDER_UPDATED webhooks naming those orders, so
the engine re-reads each order from the fake, plans it, mirrors its stage and adds the note while the web process
acknowledges the next ones. Each scenario (database × runner layout × connections) runs on a fresh database;
bare FastAPI is measured beside them in the same run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from cryptography.hazmat.primitives import serialization

from bench.ingest import REPO, WRK_SCRIPT, free_port, measure_bare, run_wrk

sys.path.insert(0, str(REPO))

from saleor_app.domain.rules import RuleSpec  # noqa: E402
from saleor_app.settings import Settings  # noqa: E402
from saleor_app.wiring import build_container  # noqa: E402
from tests.databases import schema_url  # noqa: E402
from tests.fakes.saleor import FakeSaleor  # noqa: E402
from tests.fakes.saleor_model import STAFF  # noqa: E402

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _sign_chunk(args: tuple[bytes, str, str, list[tuple[str, int]], int]) -> list[str]:
    pem, kid, api_url, orders, start = args
    key = serialization.load_pem_private_key(pem, password=None)
    import jwt

    lines = []
    for offset, (order_id, number) in enumerate(orders):
        body = (
            '{"__typename": "OrderUpdated", '
            f'"issuedAt": "2026-11-24T01:20:43.{start + offset:06d}+00:00", "version": "3.23.28", '
            '"issuingPrincipal": {"__typename": "User", "id": "VXNlcjoyMQ=="}, "recipient": {"id": "QXBwOjE="}, '
            f'"order": {{"id": "{order_id}", "number": "{number}", "status": "UNFULFILLED", '
            '"chargeStatus": "NONE", "authorizeStatus": "NONE", "origin": "CHECKOUT", '
            '"created": "2026-11-24T01:20:42.244915+00:00", "updatedAt": "2026-11-24T01:20:43.172760+00:00", '
            '"channel": {"slug": "default-channel"}, "metadata": [], "privateMetadata": []}}'
        ).encode()
        signature = jwt.api_jws.encode(body, key, algorithm="RS256", is_payload_detached=True,  # type: ignore[arg-type]
                                       headers={"kid": kid, "b64": False, "crit": ["b64"]})
        lines.append(f"{signature}\t{body.decode()}")
    return lines


def build_corpus(path: Path, saleor: FakeSaleor, size: int, orders: int) -> None:
    """`size` distinct webhooks over `orders` orders placed in the fake (each order named size/orders times)."""
    placed = []
    for _ in range(orders):
        order = saleor.create_order()
        saleor.actions.draft_order_complete(STAFF, order.id, True)  # UNFULFILLED, no webhook sent
        placed.append((order.id, order.number))
    pem = saleor.signer.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption())
    named = [placed[i % orders] for i in range(size)]
    chunks = [(pem, saleor.signer.kid, saleor.api_url, named[start:start + 1000], start)
              for start in range(0, size, 1000)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool, path.open("w") as out:
        for lines in pool.map(_sign_chunk, chunks):
            out.write("\n".join(lines) + "\n")


@asynccontextmanager
async def database(kind: str, directory: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'app.db'}"
        return
    schema = f"bench_ingest_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema_url(POSTGRES_URL, schema)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def count_handled(database_url: str) -> tuple[int, int]:
    """(stored webhooks, those the engine handled) after the run."""
    query = "SELECT count(*), count(*) FILTER (WHERE state != 'pending') FROM webhook_inbox"
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
            stored, handled = connection.execute(query).fetchone()
            return int(stored), int(handled)
    with psycopg.connect(database_url) as connection:
        row = connection.execute(query).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])


async def measure_app(saleor: FakeSaleor, work: Path, corpus: Path, script: Path, *, kind: str, mode: str,
                      connections: int, seconds: int) -> dict[str, float]:
    run_dir = work / f"{kind}-{mode}-{connections}-{uuid.uuid4().hex[:6]}"
    run_dir.mkdir()
    async with database(kind, run_dir) as database_url:
        port = free_port()
        app_url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(run_dir), "LOG_LEVEL": "WARNING",
               "SYNC_WEBHOOKS_ON_STARTUP": "false", "APP_ENV": "dev", "APP_URL": app_url, "RUNNER_MODE": mode,
               "CATCH_UP_INTERVAL_SECONDS": "0", "ALLOW_LOOPBACK_TARGETS": "true"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        subprocess.run([sys.executable, "-m", "saleor_app.cli", "migrate"], env=env, cwd=REPO, check=True,
                       capture_output=True)
        process = subprocess.Popen([sys.executable, "-m", "saleor_app.cli", "serve", "--port", str(port),
                                    "--no-migrate"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, start_new_session=True)
        settings = Settings(_env_file=None, database_url=database_url, data_dir=run_dir,  # type: ignore[call-arg]
                            app_url=app_url, allow_loopback_targets=True)
        observer = build_container(settings)
        try:
            await _wait_up(process, app_url)
            app = await saleor.install(f"{app_url}/api/manifest")
            installation = await observer.installations.get_by_url(saleor.api_url)
            assert installation is not None
            await observer.configure.save_rule(installation.id, RuleSpec(
                key="note", name="note", stage="awaiting-payment", kind="add_note", config={"message": "hello"}))
            # A warm-up order, noted before wrk starts: the runner (in either layout) is up and warm.
            notes_before = _notes(saleor)
            await saleor.place_order(auto_confirm=True)
            deadline = time.monotonic() + 60
            while _notes(saleor) == notes_before:
                if time.monotonic() > deadline:
                    raise SystemExit("the warm-up order got no note within 60 s")
                await asyncio.sleep(0.05)
            notes_before = _notes(saleor)
            figures = await asyncio.to_thread(run_wrk, port, corpus, script, connections, seconds)
            figures["notes"] = float(_notes(saleor) - notes_before)
            await saleor.delete_app(app)
        finally:
            os.killpg(process.pid, 15)
            await asyncio.to_thread(process.wait, 30)
            await observer.aclose()
        figures["stored"], figures["handled"] = map(float, count_handled(database_url))
        return figures


def _notes(saleor: FakeSaleor) -> int:
    return sum(1 for call in saleor.mutations if call.name == "orderNoteAdd")


async def _wait_up(process: subprocess.Popen[bytes], app_url: str) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{app_url}/health", timeout=0.5)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                stderr = process.stderr.read().decode() if process.stderr else ""
                raise SystemExit(f"server exited: {stderr}")
            await asyncio.sleep(0.2)
    raise SystemExit("server did not start within 60 s")


async def run(*, corpus_size: int, orders: int, seconds: int, connections: int, kinds: list[str],
              modes: list[str]) -> None:
    # Orders are "created" a day ahead, so each installation made during the run sees them as new (not adopted).
    logging.getLogger("saleor_app").setLevel(logging.ERROR)  # the observer's start-up warnings
    ahead = timedelta(days=1)
    async with FakeSaleor(validate_documents=False, clock=lambda: datetime.now(UTC) + ahead) as saleor:
        with tempfile.TemporaryDirectory(prefix="bench-ingest-engine-") as tmp:
            work = Path(tmp)
            corpus = work / "corpus.tsv"
            started = time.monotonic()
            build_corpus(corpus, saleor, corpus_size, orders)
            print(f"corpus: {corpus_size} distinct signed webhooks over {orders} orders in the fake Saleor "
                  f"({time.monotonic() - started:.1f} s to build); load average {os.getloadavg()[0]:.2f}",
                  flush=True)
            script = work / "webhooks.lua"
            script.write_text(WRK_SCRIPT.replace("https://bench.example.com/graphql/", saleor.api_url))
            rows = []
            for conns in (connections, 1):
                bare = await asyncio.to_thread(measure_bare, work, corpus, script, conns, seconds)
                for kind in kinds:
                    for mode in modes:
                        app = await measure_app(saleor, work, corpus, script, kind=kind, mode=mode,
                                                connections=conns, seconds=seconds)
                        rows.append((kind, mode, conns, bare, app, os.getloadavg()[0]))
                        print(f"  {kind} {mode} {conns} connections done", flush=True)
    print()
    print(f"{'database':<10}{'runner':<9}{'conns':>6}{'bare req/s':>12}{'app acked/s':>13}{'ratio':>7}"
          f"{'p50 ms':>8}{'p99 ms':>8}{'stored':>8}{'handled':>9}{'notes':>7}{'non-2xx':>9}{'load':>6}")
    for kind, mode, conns, bare, app, load in rows:
        print(f"{kind:<10}{mode:<9}{conns:>6}{bare['per_second']:>12.0f}{app['per_second']:>13.0f}"
              f"{app['per_second'] / bare['per_second']:>7.2f}{app['p50_ms']:>8.2f}{app['p99_ms']:>8.2f}"
              f"{app['stored']:>8.0f}{app['handled']:>9.0f}{app['notes']:>7.0f}{app['non_2xx']:>9.0f}{load:>6.2f}")
