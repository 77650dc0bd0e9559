"""GET /metrics: Prometheus text with webhooks, jobs, provider calls (Saleor's GraphQL) and the database's view."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.timing import HTTP_TIMEOUT


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


async def scrape(stack: EngineStack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        response = await client.get(f"{stack.container.settings.app_url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_webhooks_jobs_and_saleor_calls_and_show_the_database_state(stack: EngineStack) -> None:
    before = await scrape(stack)
    await stack.rule(key="now", stage="new", kind="add_note", config={"message": "hi"})
    await stack.rule(key="later", stage="new", kind="add_note", config={"message": "later"}, delay_seconds=3600)
    await stack.saleor.place_order(auto_confirm=False)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        refused = await client.post(f"{stack.container.settings.app_url}/api/webhooks/orders", content=b"{}",
                                    headers={"saleor-api-url": stack.saleor.api_url, "saleor-event": "order_created",
                                             "saleor-signature": "x..y"})
    assert refused.status_code == 401
    during = await scrape(stack)
    assert value(during, "saleor_automation_inbox_pending") >= 1  # stored, not handled yet
    await stack.settle()
    after = await scrape(stack)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("saleor_automation_webhooks_total", status="200", outcome="accepted") >= 1
    assert grew("saleor_automation_webhooks_total", status="401", outcome="refused") == 1
    assert grew("saleor_automation_job_outcomes_total", state="succeeded") == 1
    assert grew("saleor_automation_provider_calls_total", provider="saleor", operation="OrderById", outcome="ok") >= 1
    assert grew("saleor_automation_provider_calls_total", provider="saleor", operation="OrderNoteAdd", outcome="ok") == 1
    assert value(after, "saleor_automation_jobs", state="scheduled") == 1  # "later" waits an hour
    assert value(after, "saleor_automation_inbox_pending") == 0
    assert value(after, "saleor_automation_inbox_lag_seconds") == 0
