"""A multi-step write-back Saleor refuses: foreseen before any mutation, or settled the same way every run.

The scenario of the issue: the shop's fulfillmentAllowUnpaid is off, an unpaid UNCONFIRMED order sits in New, an
inbound trigger moves it to Shipped (confirm, then fulfil). Saleor's answers are the ones the real 3.23.28 gave.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from saleor_app.domain.triggers import TriggerSpec
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.fakes.saleor_model import Order
from tests.timing import HTTP_TIMEOUT, eventually

REFUSED_FULFIL = "CANNOT_FULFILL_UNPAID_ORDER: Cannot fulfill unpaid order."


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


async def ship_trigger(stack: EngineStack) -> str:
    """An inbound trigger to Shipped, its URL as the merchant copies it, and Awaiting payment's reminder."""
    await stack.container.configure.save_trigger(stack.installation.id, TriggerSpec(
        key="ship", stage="shipped", event="inbound_webhook"))
    await stack.rule(key="remind", stage="awaiting-payment", kind="add_note", config={"message": "please pay"})
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        response = await client.get(f"{stack.container.settings.app_url}/api/v1/triggers",
                                    headers=stack.dashboard_headers())
    assert response.status_code == 200, response.text
    return str(response.json()[0]["inboundUrl"])


async def call_in(url: str, order: Order) -> None:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        response = await client.post(url, json={"order": order.id})
    assert response.status_code == 202, response.text


def app_mutations(stack: EngineStack) -> list[str]:
    return [m.name for m in stack.saleor.mutations if m.caller == "app" and m.name in (
        "orderConfirm", "orderFulfill", "orderMarkAsPaid", "orderCancel")]


async def test_a_move_saleor_would_refuse_is_refused_before_any_mutation(stack: EngineStack) -> None:
    stack.saleor.shop.fulfillment_allow_unpaid = False
    url = await ship_trigger(stack)
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert await stack.order_stage(order.id) == "new"

    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:  # the page's move choice says so first
        preview = await client.get(f"{stack.container.settings.app_url}/api/v1/orders/{order.id}/move",
                                   params={"stage": "shipped"}, headers=stack.dashboard_headers())
    assert preview.status_code == 200, preview.text
    assert preview.json()["possible"] is False
    assert REFUSED_FULFIL in preview.json()["wouldDo"] and "fulfillmentAllowUnpaid is off" in preview.json()["wouldDo"]

    await call_in(url, order)
    await stack.settle()
    assert app_mutations(stack) == []  # nothing was sent: the order is as it was
    assert stack.saleor.order_view(order)["status"] == "UNCONFIRMED"
    assert await stack.order_stage(order.id) == "new"
    move = next(job for job in await stack.jobs() if job["rule_key"] == "trigger:ship")
    assert move["state"] == "failed"
    assert re.search(r"move to Shipped refused before any change in Saleor: fulfil \d+ item\(s\) ✗ "
                     + re.escape(REFUSED_FULFIL), move["reason"]), move["reason"]
    assert stack.notes() == []


async def test_the_dry_run_of_a_change_stage_rule_tells_the_same_refusal(stack: EngineStack) -> None:
    stack.saleor.shop.fulfillment_allow_unpaid = False
    await stack.rule(key="go", stage="awaiting-payment", kind="change_stage", config={"stage": "shipped"})
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        response = await client.get(f"{stack.container.settings.app_url}/api/v1/orders/{order.id}/dry-run",
                                    params={"stage": "awaiting-payment"}, headers=stack.dashboard_headers())
    assert response.status_code == 200, response.text
    assert REFUSED_FULFIL in response.text and "Saleor would refuse" in response.text


# How the plan's echo (ORDER_CONFIRMED, caused by the app's own orderConfirm) meets the plan: delivered inline or
# through a broker, handled while the fulfilment is still in flight or after the plan, with Saleor slow or not.
TIMINGS = {
    "inline, echo after the plan": {"inline": True, "mid_plan": False, "delay": 0.0},
    "inline, echo during the plan": {"inline": True, "mid_plan": True, "delay": 0.0},
    "broker, echo after the plan": {"inline": False, "mid_plan": False, "delay": 0.0},
    "broker, echo during the plan": {"inline": False, "mid_plan": True, "delay": 0.0},
    "slow Saleor, echo during the plan": {"inline": True, "mid_plan": True, "delay": 0.05},
}


@pytest.fixture(params=list(TIMINGS))
async def timed(settings, request: pytest.FixtureRequest) -> AsyncIterator[tuple[EngineStack, dict[str, Any]]]:
    timing = TIMINGS[request.param]
    async for built in engine_stack(settings, deliver_inline=timing["inline"]):
        yield built, timing


async def test_a_later_step_refused_ends_the_same_way_every_run(timed: tuple[EngineStack, dict[str, Any]]) -> None:
    stack, timing = timed
    saleor = stack.saleor
    saleor.shop.fulfillment_allow_unpaid = True
    url = await ship_trigger(stack)
    order = await saleor.place_order(auto_confirm=False)
    await saleor.flush()
    await stack.settle()
    assert await stack.order_stage(order.id) == "new"

    # The pre-check passes (unpaid orders may be fulfilled); staff turn that off while the fulfilment is in flight.
    saleor.graphql_delay(timing["delay"])
    saleor.hold_mutation("orderFulfill")
    await call_in(url, order)
    settling = asyncio.create_task(stack.settle())
    await eventually(lambda: saleor.held_bodies or settling.done(), what="the plan's orderFulfill reaching Saleor")
    assert saleor.held_bodies, "the move finished without sending orderFulfill"
    saleor.shop.fulfillment_allow_unpaid = False
    if timing["mid_plan"]:
        await saleor.flush()
        await stack.container.order_events.run_once()  # the echo of orderConfirm, handled while the plan runs
    saleor.release_mutations()
    await settling
    saleor.graphql_delay(0)
    await saleor.flush()
    await stack.settle()

    assert app_mutations(stack) == ["orderConfirm", "orderFulfill"]
    assert saleor.order_view(order)["status"] == "UNFULFILLED"
    assert await stack.order_stage(order.id) == "awaiting-payment"
    assert await stack.entries() == [("new", False), ("awaiting-payment", True)]
    assert stack.notes() == ["please pay"]  # the order really is unpaid: Awaiting payment's rules run
    assert {job["rule_key"]: job["state"] for job in await stack.jobs()} == {
        "trigger:ship": "failed", "remind": "succeeded"}
    stopped = (r"move to Shipped stopped after step 1 of 2: confirmed ✓; fulfil \d+ item\(s\) ✗ "
               + re.escape(REFUSED_FULFIL))
    move = next(job for job in await stack.jobs() if job["rule_key"] == "trigger:ship")
    assert re.fullmatch(f"failed: {stopped}", move["reason"]), move["reason"]
    lines = _order_lines(await stack.activity())
    assert lines == [
        "entered new: Saleor: order_created",
        "trigger ship fired on inbound_webhook: to shipped (confirm, fulfil N item(s) in Saleor)",
        "moved from new to awaiting-payment: trigger ship (inbound_webhook): move to Shipped stopped after step 1 "
        f"of 2: confirmed ✓; fulfil N item(s) ✗ {REFUSED_FULFIL}",
        "planned remind (add_note), due T UTC",
        "remind: succeeded: note added: please pay",
    ], lines
    assert not any("Saleor: order_confirmed" in line for line in await stack.activity())


def _order_lines(activity: list[str]) -> list[str]:
    """Stage, trigger and rule lines of the log, with times and quantities made comparable between runs."""
    keep = ("entered ", "moved from ", "trigger ", "planned ", "remind:")
    lines = [line for line in activity if line.startswith(keep)]
    lines = [re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "T", line) for line in lines]
    return [re.sub(r"\d+ item\(s\)", "N item(s)", line) for line in lines]
