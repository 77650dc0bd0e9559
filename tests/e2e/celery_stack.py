"""The engine stack with JOB_RUNNER=celery: a dispatcher in the test's app and real Celery worker processes.

Brokers are the machine's Redis and RabbitMQ (TEST_REDIS_URL, TEST_RABBITMQ_URL); each stack uses its own queue,
so parallel test runs never take each other's messages.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from kombu import Connection

from saleor_app.settings import Settings
from tests.conftest import APP_TIMEOUTS, require
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.fakes.celery_worker import SharedClock
from tests.timing import scaled

REPO = Path(__file__).resolve().parents[2]
# Each parallel test process (pytest-xdist's gw0, gw1, …) has a Redis database of its own, beside its own queues.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
BROKERS = {
    "redis": os.environ.get("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{int(_WORKER) % 16 if _WORKER.isdigit() else 0}"),
    "rabbitmq": os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//"),
}
_PROBLEMS: dict[str, str | None] = {}


def broker_problem(url: str) -> str | None:
    if url not in _PROBLEMS:
        try:
            with Connection(url, connect_timeout=scaled(2)) as connection:
                connection.ensure_connection(max_retries=1)
            _PROBLEMS[url] = None
        except Exception as exc:
            _PROBLEMS[url] = f"{exc.__class__.__name__}: {exc}"
    return _PROBLEMS[url]


def require_broker(url: str) -> None:
    problem = broker_problem(url)
    require(problem is None, f"the broker at {url} is not reachable ({problem}); start it (apt-get install redis-server "
                             "rabbitmq-server) or set TEST_REDIS_URL / TEST_RABBITMQ_URL")


def celery_settings(settings: Settings, broker_url: str, **changes: Any) -> Settings:
    return settings.model_copy(update={
        "job_runner": "celery", "celery_broker_url": broker_url, "celery_queue": f"test-{uuid.uuid4().hex[:12]}",
        "dispatch_idle_seconds": 0.05, **changes})


def worker_env(settings: Settings, clock_file: Path | None = None, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "APP_URL": settings.app_url, "APP_ENV": "test",
           "ENCRYPTION_KEYS": ",".join(settings.encryption_keys), "DATA_DIR": str(settings.data_dir),
           "JOB_RUNNER": "celery", "CELERY_BROKER_URL": settings.celery_broker_url or "",
           "CELERY_QUEUE": settings.celery_queue, "JOB_LEASE_SECONDS": str(settings.job_lease_seconds),
           "SYNC_WEBHOOKS_ON_STARTUP": "false", "LOG_LEVEL": "WARNING", "LOG_FORMAT": "text",
           "ALLOW_LOOPBACK_TARGETS": "true" if settings.loopback_allowed else "false",
           **{name.upper(): str(getattr(settings, name)) for name in APP_TIMEOUTS}, **extra}
    if settings.allowed_saleor_urls is not None:
        env["ALLOWED_SALEOR_URLS"] = settings.allowed_saleor_urls
    if clock_file is not None:
        env["TEST_CLOCK_FILE"] = str(clock_file)
    return env


# The output of the workers the running test started: a failing test's report shows it (tests/e2e/conftest.py).
WORKER_LOGS: list[Path] = []


def start_worker(settings: Settings, clock_file: Path | None = None, **extra: str) -> subprocess.Popen[bytes]:
    handle, name = tempfile.mkstemp(prefix="celery-worker-", suffix=".log")
    WORKER_LOGS.append(Path(name))
    with os.fdopen(handle, "ab") as output:
        return subprocess.Popen([sys.executable, "-m", "tests.fakes.celery_worker"], cwd=REPO,
                                env=worker_env(settings, clock_file, **extra), stdout=output, stderr=output)


def worker_output() -> str:
    """What the test's workers printed (warnings and errors: they run at LOG_LEVEL=WARNING)."""
    parts = []
    for index, path in enumerate(WORKER_LOGS, start=1):
        try:
            text = path.read_text(errors="replace").strip()
        except FileNotFoundError:
            continue
        parts.append(f"--- worker {index} ---\n{text[-20_000:] or '(nothing)'}")
    return "\n".join(parts)


def forget_worker_logs() -> None:
    for path in WORKER_LOGS:
        path.unlink(missing_ok=True)
    WORKER_LOGS.clear()


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=scaled(10))


def delete_queue(settings: Settings) -> None:
    try:
        with Connection(settings.celery_broker_url, connect_timeout=scaled(2)) as connection:
            connection.default_channel.queue_delete(settings.celery_queue)
    except Exception:  # the broker may be gone (a restart test); the queue then went with it
        pass


async def celery_engine_stack(settings: Settings, broker_url: str, tmp_path: Path,
                              **fake: Any) -> AsyncIterator[EngineStack]:
    require_broker(broker_url)
    settings = celery_settings(settings, broker_url)
    clock_file = tmp_path / "clock.txt"
    clock = SharedClock(clock_file)
    worker = start_worker(settings, clock_file)
    try:
        async for stack in engine_stack(settings, app_clock=clock, **fake):  # type: ignore[arg-type]
            yield stack
    finally:
        stop(worker)
        delete_queue(settings)
