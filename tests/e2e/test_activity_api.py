"""The activity log, dry run and replay through the protected JSON API, over HTTP with a Dashboard token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from saleor_app.domain.triggers import TriggerSpec
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.timing import HTTP_TIMEOUT


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


async def api(stack: EngineStack, method: str, path: str, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=stack.container.settings.app_url) as client:
        return await client.request(method, f"/api/v1{path}", params=params, headers=stack.dashboard_headers())


async def test_activity_is_filtered_by_order_rule_trigger_stage_and_paged(stack: EngineStack) -> None:
    await stack.container.configure.add_custom_stage(stack.installation.id, "packing", "Packing", ["UNFULFILLED"])
    await stack.container.configure.save_trigger(stack.installation.id, TriggerSpec(
        key="pack", stage="packing", event="order_paid"))
    await stack.rule(key="hello", stage="awaiting-payment", kind="add_note", config={"message": "hello"})
    first = await stack.saleor.place_order(auto_confirm=True)
    second = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    await stack.saleor.charge(first, 1000)
    await stack.settle()

    by_rule = (await api(stack, "GET", "/activity", rule="hello")).json()["entries"]
    assert {entry["orderNumber"] for entry in by_rule} == {str(first.number), str(second.number)}
    assert {entry["state"] for entry in by_rule} == {"scheduled", "succeeded"}
    by_order = (await api(stack, "GET", "/activity", order=f"#{second.number}")).json()["entries"]
    assert by_order and all(entry["order"] == second.id for entry in by_order)
    by_trigger = (await api(stack, "GET", "/activity", trigger="pack")).json()["entries"]
    assert [entry["message"] for entry in by_trigger] == ["trigger pack fired on order_paid: to packing"]
    by_stage = (await api(stack, "GET", "/activity", stage="packing")).json()["entries"]
    assert any("moved from awaiting-payment to packing" in entry["message"] for entry in by_stage)

    page = (await api(stack, "GET", "/activity", limit=2)).json()
    rest = (await api(stack, "GET", "/activity", limit=1000, before=page["next"])).json()
    everything = (await api(stack, "GET", "/activity", limit=1000)).json()["entries"]
    assert [e["id"] for e in page["entries"] + rest["entries"]] == [e["id"] for e in everything]
    assert (await api(stack, "GET", "/activity", order="424242")).status_code == 404


async def test_dry_run_tells_what_each_rule_would_do_and_changes_nothing(stack: EngineStack) -> None:
    await stack.rule(key="thanks", stage="paid", kind="add_note",
                     config={"message": "Thanks for order {{ order.number }}"})
    await stack.rule(key="big-only", stage="paid", kind="add_note", config={"message": "big"},
                     condition={"match": "all", "rules": [{"field": "total", "op": "gt", "value": 100000}]})
    await stack.rule(key="ship", stage="paid", kind="change_stage", config={"stage": "shipped"}, after_previous=True,
                     delay_seconds=3600)
    await stack.rule(key="off", stage="paid", kind="add_note", config={"message": "x"}, enabled=False)
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    jobs_before, mutations_before = len(await stack.jobs()), len(stack.saleor.mutations)

    response = await api(stack, "GET", f"/orders/{order.number}/dry-run", stage="paid")
    assert response.status_code == 200, response.text
    rules = {item["rule"]: item for item in response.json()["rules"]}
    assert rules["thanks"]["runs"] and rules["thanks"]["when"] == "at once"
    assert rules["thanks"]["outcome"] == f"would add the order note: Thanks for order {order.number}"
    assert not rules["big-only"]["runs"] and rules["big-only"]["condition"].startswith("not met")
    assert rules["ship"]["when"] == "after big-only finishes + 1:00:00"
    assert "fulfil" in rules["ship"]["outcome"]  # the Saleor mutations the move would ask for
    assert rules["off"]["outcome"] == "disabled"
    assert len(await stack.jobs()) == jobs_before and len(stack.saleor.mutations) == mutations_before
    assert (await api(stack, "GET", f"/orders/{order.number}/dry-run", stage="nowhere")).status_code == 404


async def test_a_failed_job_is_previewed_and_replayed_with_the_rule_as_it_is_now(stack: EngineStack) -> None:
    await stack.rule(key="note", stage="awaiting-payment", kind="add_note",
                     config={"message": "{{ order.customer_note }}"})
    await stack.saleor.place_order(auto_confirm=True)  # no customer note: the note renders empty
    await stack.settle()
    [job] = await stack.jobs()
    assert job["state"] == "failed" and "rendered empty" in job["reason"]

    preview = (await api(stack, "GET", f"/jobs/{job['id']}/replay")).json()
    assert preview["wouldDo"]["runs"] is False and "rendered empty" in preview["wouldDo"]["outcome"]
    await stack.rule(key="note", stage="awaiting-payment", kind="add_note", config={"message": "fixed"})
    preview = (await api(stack, "GET", f"/jobs/{job['id']}/replay")).json()
    assert preview["wouldDo"]["outcome"] == "would add the order note: fixed"
    assert stack.notes() == []  # previews send nothing

    replayed = await api(stack, "POST", f"/jobs/{job['id']}/replay")
    assert replayed.status_code == 200 and replayed.json()["state"] == "scheduled"
    await stack.settle()
    assert stack.notes() == ["fixed"]
    assert await stack.job_states() == {"note": "succeeded"}
    again = await api(stack, "POST", f"/jobs/{job['id']}/replay")
    assert again.status_code == 409 and "only failed, dead and unknown" in again.json()["error"]["message"]


async def test_template_preview_on_a_real_order_and_on_the_sample(stack: EngineStack) -> None:
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=stack.container.settings.app_url) as client:
        real = await client.post("/api/v1/templates/preview", headers=stack.dashboard_headers(), json={
            "template": "Order {{ order.number }} in {{ stage.key }}", "order": str(order.number)})
        sample = await client.post("/api/v1/templates/preview", headers=stack.dashboard_headers(), json={
            "template": "Hi {{ customer.first_name }}\n{{ order.shoe_size }}"})
    assert real.status_code == 200, real.text
    assert real.json()["text"] == f"Order {order.number} in awaiting-payment" and real.json()["problems"] == []
    problems = sample.json()["problems"]
    assert sample.json()["text"].startswith("Hi ") and problems and problems[0]["line"] == 2
