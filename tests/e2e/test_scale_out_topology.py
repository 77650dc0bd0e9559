"""The production topology through the real commands: the app only ingests, two `saleor-automation dispatch`
processes share the work, one `saleor-automation worker` (prefork, two processes) runs the jobs and serves the
metrics of all its processes. Every order's rule runs exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from saleor_app.settings import Settings
from saleor_app.wiring import SystemClock
from tests.e2e.celery_stack import BROKERS, REPO, celery_settings, delete_queue, require_broker, stop, worker_env
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.fakes.loopback import free_port
from tests.secret_watch import observe
from tests.timing import HTTP_TIMEOUT, eventually

pytestmark = pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)],
                                     indirect=True)


def command(settings: Settings, *args: str, **env: str) -> subprocess.Popen[bytes]:
    log = os.environ.get("TEST_WORKER_LOG")
    with open(log or os.devnull, "ab") as output:
        return subprocess.Popen([sys.executable, "-m", "saleor_app.cli", *args], cwd=REPO,
                                env=worker_env(settings, **env), stdout=output, stderr=output)


@pytest.fixture
def scale_out(settings: Settings) -> Settings:
    require_broker(BROKERS["redis"])
    return celery_settings(settings, BROKERS["redis"], dispatcher_enabled=False)


@pytest.fixture
async def stack(scale_out: Settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(scale_out, app_clock=SystemClock()):  # type: ignore[arg-type]
        yield built  # the app ingests only: dispatcher_enabled is off and nothing starts one here


async def test_two_dispatchers_and_a_prefork_worker_run_each_rule_once(scale_out: Settings, stack: EngineStack,
                                                                      tmp_path) -> None:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    port = free_port()
    processes = [
        command(scale_out, "worker", "--concurrency", "2", "--metrics-port", str(port),
                PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)),
        command(scale_out, "dispatch"),
        command(scale_out, "dispatch"),
    ]
    try:
        await stack.rule(key="note", stage="new", kind="add_note", config={"message": "{{ order.number }}"})
        orders = [await stack.saleor.place_order(auto_confirm=False) for _ in range(10)]
        expected = sorted(str(order.number) for order in orders)
        async def all_succeeded() -> bool:
            return [job["state"] for job in await stack.jobs()] == ["succeeded"] * 10

        await eventually(all_succeeded, within=60, what="every job succeeded")
        assert sorted(stack.notes()) == expected
        assert [job["attempts"] for job in await stack.jobs()] == [1] * 10
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(text) for s in family.samples}
        assert samples[("saleor_automation_job_outcomes_total", (("state", "succeeded"),))] == 10
        assert samples[("saleor_automation_provider_calls_total",
                        (("operation", "OrderNoteAdd"), ("outcome", "ok"), ("provider", "saleor")))] == 10
    finally:
        for process in processes:
            stop(process)
        delete_queue(scale_out)


async def test_dispatch_says_which_database_it_uses_and_when_it_is_ready(scale_out: Settings, stack: EngineStack,
                                                                         tmp_path) -> None:
    log = tmp_path / "dispatch.log"
    with log.open("ab") as output:
        process = subprocess.Popen([sys.executable, "-m", "saleor_app.cli", "dispatch"], cwd=REPO,
                                   env=worker_env(scale_out, LOG_LEVEL="INFO"), stdout=output, stderr=output)
    try:
        await eventually(lambda: "dispatcher ready: due jobs go to the queue" in log.read_text(), within=60,
                         what="the dispatcher said it is ready")
        text = log.read_text()
        assert "database postgresql://" in text and "encryption key from ENCRYPTION_KEYS (1 key)" in text
        assert text.index("encryption key from") < text.index("dispatcher ready")
    finally:
        stop(process)
        delete_queue(scale_out)
        observe("the output of `saleor-automation dispatch`", log.read_text())
