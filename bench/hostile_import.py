"""Everyone else during a maximal configuration import: /health and webhook ingest latency while PUT /api/v1/config
parses the largest documents the limits let through, one after another.

Starts the app (`serve`, SQLite) on a seeded installation, then for each document shape runs three loops at once
for a fixed time: imports of that document (dry run) back to back, GET /health every 10 ms, and signed webhooks
every 10 ms. The first row has no imports: the same loops alone, for comparison on the same machine. Prints
p50/p99/max of /health and of the webhooks' acknowledgement, and how many imports finished.
The goal: p99 under 100 ms while imports run.

    .venv/bin/python bench/hostile_import.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ingest import free_port  # noqa: E402
from tests.fakes.signing import SaleorSigner  # noqa: E402

API_URL = "https://bench.example.com/graphql/"
APP_ID = "QXBwOjE="
MAX_BYTES = 1_000_000  # web/request_guard.py's cap for /api/v1/config


def wide_document() -> bytes:
    """As many values as documents.MAX_NODES allows, padded to just under the size cap (refused as a
    configuration only after it is parsed: every key is unknown)."""
    from saleor_app.domain.documents import MAX_NODES

    keys = (MAX_NODES - 1) // 2  # each key and each value is a node, the root mapping one more
    pad = (MAX_BYTES - 100) // keys - len("k00000: \n")
    return "".join(f"k{i:05d}: {'x' * pad}\n" for i in range(keys)).encode()


def rules_document() -> bytes:
    """A valid configuration near the node limit: one stage with as many note rules as fit."""
    from saleor_app.domain.documents import MAX_NODES

    head = ("version: 1\nstages:\n  - key: paid\n    name: Paid\n"
            "    match: {status: [UNFULFILLED], charge_status: [FULL, OVERCHARGED]}\n    rules:\n")
    rule = "      - {{key: r{0}, name: Rule {0}, kind: add_note, message: \"Order {{{{ order.number }}}} {0}\"}}\n"
    count = (MAX_NODES - 40) // 9  # a rule is 9 nodes: its mapping and four keys with their values
    return (head + "".join(rule.format(i) for i in range(count))).encode()


def deep_document() -> bytes:
    """Lists nested to the depth limit, repeated up to the node limit."""
    from saleor_app.domain.documents import MAX_DEPTH, MAX_NODES

    body = "[" * (MAX_DEPTH - 2) + "1" + "]" * (MAX_DEPTH - 2)  # under the root mapping and the list of "a"
    return ("a: [" + ", ".join([body] * ((MAX_NODES - 10) // (MAX_DEPTH - 1))) + "]\n").encode()


@contextlib.contextmanager
def server(env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    """The app in its own process; its log goes to a file (a pipe nobody reads fills up and stalls the server)."""
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "saleor_app.cli", "serve", "--port", str(port),
                                    "--no-migrate"], env=env, cwd=REPO, stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                    break
                except httpx.HTTPError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"the server did not start:\n{log.read_text()[-2000:]}") from None
                    time.sleep(0.2)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def seed(database_url: str, data_dir: Path, signer: SaleorSigner) -> None:
    from saleor_app.domain.ports import NewInstallation
    from saleor_app.settings import Settings
    from saleor_app.wiring import build_container

    container = build_container(Settings(_env_file=None, database_url=database_url, data_dir=data_dir))  # type: ignore[call-arg]
    await container.installations.upsert(
        NewInstallation(API_URL, APP_ID, "bench-token", signer.jwks, ("MANAGE_ORDERS",), "3.23.28"), datetime.now(UTC)
    )
    await container.aclose()


def _body(number: int) -> bytes:
    return (
        '{"__typename": "OrderUpdated", "issuedAt": "2026-11-24T01:20:43.214405+00:00", "version": "3.23.28", '
        '"issuingPrincipal": {"__typename": "User", "id": "VXNlcjoyMQ=="}, "recipient": {"id": "QXBwOjE="}, '
        f'"order": {{"id": "T3JkZXI6{uuid.uuid4()}", "number": "{number}", "status": "UNFULFILLED"}}}}'
    ).encode()


async def measure(base: str, signer: SaleorSigner, document: bytes, seconds: float) -> dict[str, object]:
    health: list[float] = []
    ingest: list[float] = []
    imports: list[tuple[int, float]] = []
    webhooks = [(body, signer.sign_webhook(body)) for body in (_body(n) for n in range(int(seconds * 120)))]
    dashboard = {"authorization-bearer": signer.dashboard_token(app_id=APP_ID, iss=API_URL, ttl=3600),
                 "saleor-api-url": API_URL}
    stop = time.monotonic() + seconds

    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        async def import_loop() -> None:
            while document and time.monotonic() < stop:
                started = time.perf_counter()
                answer = await client.put("/api/v1/config?dry_run=true", content=document, headers=dashboard)
                imports.append((answer.status_code, time.perf_counter() - started))

        async def health_loop() -> None:
            await asyncio.sleep(0.2)  # let the first import start
            while time.monotonic() < stop:
                started = time.perf_counter()
                assert (await client.get("/health")).status_code == 200
                health.append(time.perf_counter() - started)
                await asyncio.sleep(0.01)

        async def ingest_loop() -> None:
            await asyncio.sleep(0.2)
            for body, signature in webhooks:
                if time.monotonic() >= stop:
                    break
                started = time.perf_counter()
                answer = await client.post("/api/webhooks/orders", content=body, headers={
                    "content-type": "application/json", "saleor-event": "order_updated", "saleor-api-url": API_URL,
                    "saleor-signature": signature})
                assert answer.status_code == 200, answer.text
                ingest.append(time.perf_counter() - started)
                await asyncio.sleep(0.01)

        await asyncio.gather(import_loop(), health_loop(), ingest_loop())
    return {"health": health, "ingest": ingest, "imports": imports}


def _ms(values: list[float], quantile: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each document's run")
    args = parser.parse_args()
    signer = SaleorSigner()
    shapes = {"none (baseline)": b"", "wide (10k keys)": wide_document(), "rules (2.2k rules)": rules_document(),
              "deep (64 levels)": deep_document()}
    print(f"{'document':<20}{'bytes':>9}{'imports':>8}{'import s':>9}{'status':>7}"
          f"{'health p50':>11}{'p99':>7}{'max':>7}{'ingest p50':>11}{'p99':>7}{'max':>7}  (ms)", flush=True)
    for label, document in shapes.items():  # a fresh app and database each: no backlog from the run before
        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            work = Path(tmp)
            database_url = f"sqlite:///{work / 'app.db'}"
            env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(work), "LOG_LEVEL": "WARNING",
                   "SYNC_WEBHOOKS_ON_STARTUP": "false", "APP_ENV": "dev", "CATCH_UP_INTERVAL_SECONDS": "0"}
            subprocess.run([sys.executable, "-m", "saleor_app.cli", "migrate"], env=env, cwd=REPO, check=True,
                           capture_output=True)
            asyncio.run(seed(database_url, work, signer))
            port = free_port()
            with server(env, port, work / "server.log"):
                figures = asyncio.run(measure(f"http://127.0.0.1:{port}", signer, document, args.seconds))
            _print_row(label, len(document), figures)

def _print_row(label: str, size: int, figures: dict[str, object]) -> None:
    imports = figures["imports"]
    health, ingest = figures["health"], figures["ingest"]
    assert isinstance(imports, list) and isinstance(health, list) and isinstance(ingest, list)
    statuses = ",".join(sorted({str(status) for status, _ in imports}))
    mean = statistics.mean(duration for _, duration in imports) if imports else 0.0
    print(f"{label:<20}{size:>9}{len(imports):>8}{mean:>9.2f}{statuses:>7}"
          f"{_ms(health, 0.5):>11}{_ms(health, 0.99):>7}{_ms(health, 1.0):>7}"
          f"{_ms(ingest, 0.5):>11}{_ms(ingest, 0.99):>7}{_ms(ingest, 1.0):>7}", flush=True)


if __name__ == "__main__":
    main()
