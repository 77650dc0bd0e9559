"""Webhook ingest benchmark: acknowledged webhooks/s and latency, against a bare FastAPI endpoint.

Each scenario starts a fresh app on a temporary SQLite database (the embedded default) and drives a corpus of
DISTINCT pre-signed webhooks at it with wrk on loopback for a fixed time; the corpus is larger than what is
sent (the run says so if not), so the dedupe path is never what is measured. The bare endpoint reads the body
and answers 200, under the same server settings. Afterwards the inbox is counted: every acknowledged webhook
must be stored.

    .venv/bin/python bench/ingest.py [--corpus 20000] [--connections 16]

With `--engine`, the engine works the same stream: a fake Saleor answering at once holds the orders the webhooks
name, and each runner layout (`--modes process,inline`) is measured on each database (`--databases
sqlite,postgres`) beside bare FastAPI (bench/ingest_engine.py).

Needs `wrk` (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

REPO = Path(__file__).resolve().parents[1]
API_URL = "https://bench.example.com/graphql/"
APP_ID = "QXBwOjE="
KID = "bench-key"

WRK_SCRIPT = r"""
local corpus = {}
local index = 0
function init(args)
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    corpus[#corpus + 1] = {line:sub(1, tab - 1), line:sub(tab + 1)}
  end
end
function request()
  index = index + 1
  local item = corpus[(index - 1) % #corpus + 1]
  return wrk.format("POST", "/api/webhooks/orders", {
    ["Content-Type"] = "application/json",
    ["Saleor-Event"] = "order_updated",
    ["Saleor-Api-Url"] = "SALEOR_API_URL",
    ["Saleor-Signature"] = item[1],
  }, item[2])
end
""".replace("SALEOR_API_URL", API_URL)

BARE_APP = """
from fastapi import FastAPI, Request, Response
app = FastAPI()
@app.post("/api/webhooks/orders")
async def receive(request: Request) -> Response:
    await request.body()
    return Response(content=b'{"success":true}', media_type="application/json")
"""


def _sign_chunk(args: tuple[bytes, int, int]) -> list[str]:
    pem, start, count = args
    key = serialization.load_pem_private_key(pem, password=None)
    lines = []
    for number in range(start, start + count):
        order_id = uuid.uuid4()
        body = (
            '{"__typename": "OrderUpdated", "issuedAt": "2026-11-24T01:20:43.214405+00:00", "version": "3.23.28", '
            '"issuingPrincipal": {"__typename": "User", "id": "VXNlcjoyMQ=="}, "recipient": {"id": "QXBwOjE="}, '
            f'"order": {{"id": "T3JkZXI6{order_id}", "number": "{number}", "status": "UNFULFILLED", '
            '"chargeStatus": "NONE", "authorizeStatus": "NONE", "origin": "CHECKOUT", '
            '"created": "2026-11-24T01:20:42.244915+00:00", "updatedAt": "2026-11-24T01:20:43.172760+00:00", '
            '"channel": {"slug": "default-channel"}, "metadata": [], "privateMetadata": []}}'
        ).encode()
        signature = jwt.api_jws.encode(body, key, algorithm="RS256", is_payload_detached=True,  # type: ignore[arg-type]
                                       headers={"kid": KID, "b64": False, "crit": ["b64"]})
        lines.append(f"{signature}\t{body.decode()}")
    return lines


def build_corpus(path: Path, size: int, pem: bytes) -> None:
    chunks = [(pem, start, min(1000, size - start)) for start in range(0, size, 1000)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool, path.open("w") as out:
        for lines in pool.map(_sign_chunk, chunks):
            out.write("\n".join(lines) + "\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(command: list[str], env: dict[str, str], port: int, cwd: Path) -> Iterator[None]:
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5)
                break
            except httpx.HTTPError as exc:
                if process.poll() is not None:
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    raise SystemExit(f"server exited: {stderr}") from exc
                time.sleep(0.2)
        else:
            raise SystemExit("server did not start within 30 s")
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


def run_wrk(port: int, corpus: Path, script: Path, connections: int, seconds: int) -> dict[str, float]:
    threads = 1  # one Lua state walks the corpus once: every request carries a distinct body
    result = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}", "--", str(corpus)],
        capture_output=True, text=True, check=True,
    )
    return parse_wrk(result.stdout)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> dict[str, float]:
    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk printed no {label}% latency:\n{output}")
        return float(match.group(1)) * _UNITS[match.group(2)]

    requests = re.search(r"(\d+) requests in ([\d.]+)(ms|s)", output)
    assert requests is not None, output
    seconds = float(requests.group(2)) / (1000 if requests.group(3) == "ms" else 1)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "requests": float(requests.group(1)),
        "seconds": seconds,
        "per_second": float(requests.group(1)) / seconds,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0,
        "socket_errors": 1.0 if errors else 0.0,
    }


async def seed(database_url: str, jwks: dict[str, object], data_dir: Path) -> None:
    sys.path.insert(0, str(REPO))
    from saleor_app.domain.ports import NewInstallation
    from saleor_app.settings import Settings
    from saleor_app.wiring import build_container

    container = build_container(Settings(_env_file=None, database_url=database_url, data_dir=data_dir))  # type: ignore[call-arg]
    await container.installations.upsert(
        NewInstallation(API_URL, APP_ID, "bench-token", jwks, ("MANAGE_ORDERS",), "3.23.28"), datetime.now(UTC)
    )
    await container.aclose()


def measure_app(
    work: Path, corpus: Path, script: Path, connections: int, seconds: int, jwks: dict[str, object]
) -> dict[str, float]:
    run_dir = work / f"app-{connections}-{uuid.uuid4().hex[:6]}"
    run_dir.mkdir()
    database_url = f"sqlite:///{run_dir / 'app.db'}"
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(run_dir), "LOG_LEVEL": "WARNING",
           "SYNC_WEBHOOKS_ON_STARTUP": "false", "APP_ENV": "dev"}
    subprocess.run([sys.executable, "-m", "saleor_app.cli", "migrate"], env=env, cwd=REPO, check=True,
                   capture_output=True)
    asyncio.run(seed(database_url, jwks, run_dir))
    port = free_port()
    with server([sys.executable, "-m", "saleor_app.cli", "serve", "--port", str(port), "--no-migrate"],
                env, port, REPO):
        figures = run_wrk(port, corpus, script, connections, seconds)
    stored = sqlite3.connect(run_dir / "app.db").execute("SELECT count(*) FROM webhook_inbox").fetchone()[0]
    figures["stored"] = float(stored)
    return figures


def measure_bare(work: Path, corpus: Path, script: Path, connections: int, seconds: int) -> dict[str, float]:
    (work / "bare_app.py").write_text(BARE_APP + '\n@app.get("/health")\nasync def health() -> dict[str, str]:\n'
                                      '    return {"status": "ok"}\n')
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port), "--log-level", "warning",
               "--no-access-log"]
    with server(command, dict(os.environ), port, work):
        return run_wrk(port, corpus, script, connections, seconds)


def connections_of(rows: list[tuple[str, int, dict[str, float], dict[str, float]]], label: str) -> int:
    """Requests in flight when wrk stops are stored but not counted by wrk: at most one per connection."""
    return next(connections for row_label, connections, _, _ in rows if row_label == label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=int, default=60000, help="distinct signed webhooks per scenario")
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections for throughput")
    parser.add_argument("--engine", action="store_true", help="the engine works the same stream (a fake Saleor)")
    parser.add_argument("--orders", type=int, default=3000, help="--engine: orders the webhooks name")
    parser.add_argument("--databases", default="sqlite,postgres", help="--engine: sqlite, postgres or both")
    parser.add_argument("--modes", default="inline,process", help="--engine: RUNNER_MODE values to compare")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    if args.engine:
        sys.path.insert(0, str(REPO))
        from bench.ingest_engine import run

        asyncio.run(run(corpus_size=args.corpus, orders=args.orders, seconds=args.seconds,
                        connections=args.connections, kinds=args.databases.split(","), modes=args.modes.split(",")))
        return

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    public = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwks: dict[str, object] = {"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]}

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        corpus = work / "corpus.tsv"
        started = time.monotonic()
        build_corpus(corpus, args.corpus, pem)
        print(f"corpus: {args.corpus} distinct signed webhooks ({time.monotonic() - started:.1f} s to sign)")
        script = work / "webhooks.lua"
        script.write_text(WRK_SCRIPT)

        rows = []
        for label, connections in (("throughput", args.connections), ("one connection", 1)):
            bare = measure_bare(work, corpus, script, connections, args.seconds)
            app = measure_app(work, corpus, script, connections, args.seconds, jwks)
            rows.append((label, connections, bare, app))

    print()
    print(f"{'scenario':<16}{'conns':>6}{'bare req/s':>12}{'app acked/s':>13}{'ratio':>7}"
          f"{'app p50 ms':>12}{'app p99 ms':>12}{'bare p99 ms':>13}{'stored':>9}{'non-2xx':>9}")
    for label, connections, bare, app in rows:
        print(f"{label:<16}{connections:>6}{bare['per_second']:>12.0f}{app['per_second']:>13.0f}"
              f"{app['per_second'] / bare['per_second']:>7.2f}{app['p50_ms']:>12.2f}{app['p99_ms']:>12.2f}"
              f"{bare['p99_ms']:>13.2f}{app['stored']:>9.0f}{app['non_2xx']:>9.0f}")
    for label, _, _, app in rows:
        if app["requests"] > args.corpus:
            print(f"WARNING ({label}): {app['requests']:.0f} requests for a corpus of {args.corpus}: duplicates were "
                  "sent; raise --corpus")
        acknowledged = app["requests"] - app["non_2xx"]
        if app["stored"] < acknowledged:
            print(f"LOST ({label}): {acknowledged:.0f} acknowledged but only {app['stored']:.0f} stored")
        elif app["stored"] > acknowledged + connections_of(rows, label):
            print(f"NOTE ({label}): {app['stored'] - acknowledged:.0f} more stored than acknowledged")

if __name__ == "__main__":
    main()
