"""The engine end to end: webhooks → re-read → stage → jobs → side effects in the fake Saleor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tests.e2e.engine_stack import EngineStack, engine_stack


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


async def test_new_order_enters_new_and_its_rule_adds_a_note(stack: EngineStack) -> None:
    await stack.rule(key="welcome", stage="new", kind="add_note", config={"message": "Thanks for your order"})
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert await stack.order_stage(order.id) == "new"
    assert await stack.entries() == [("new", True)]
    assert stack.notes() == ["Thanks for your order"]
    assert await stack.job_states() == {"welcome": "succeeded"}


async def test_auto_confirmed_order_skips_new_and_runs_only_its_stage(stack: EngineStack) -> None:
    await stack.rule(key="welcome", stage="new", kind="add_note", config={"message": "new"})
    await stack.rule(key="pay-please", stage="awaiting-payment", kind="add_note", config={"message": "please pay"})
    order = await stack.saleor.place_order(auto_confirm=True)  # ORDER_CREATED + ORDER_CONFIRMED
    await stack.settle()
    assert await stack.order_stage(order.id) == "awaiting-payment"
    assert await stack.entries() == [("awaiting-payment", True)]
    assert stack.notes() == ["please pay"]


async def test_echo_of_our_own_mutation_changes_nothing(stack: EngineStack) -> None:
    await stack.rule(key="a", stage="new", kind="add_note", config={"message": "one"})
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    await stack.settle()
    updated = [d for d in stack.saleor.deliveries if d.saleor_event == "order_updated"]
    assert updated and all(d.principal_typename == "App" for d in updated)  # the note's echo came back
    assert await stack.entries() == [("new", True)]
    assert len(await stack.jobs()) == 1 and stack.notes() == ["one"]
    assert await stack.order_stage(order.id) == "new"


async def test_after_previous_waits_and_counts_its_delay_from_the_previous_finish(stack: EngineStack) -> None:
    await stack.rule(key="first", stage="new", kind="add_note", config={"message": "1"}, delay_seconds=600)
    await stack.rule(key="second", stage="new", kind="add_note", config={"message": "2"}, after_previous=True,
                     delay_seconds=300)
    await stack.rule(key="parallel", stage="new", kind="add_note", config={"message": "p"})
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert stack.notes() == ["p"]
    assert await stack.job_states() == {"first": "scheduled", "second": "waiting", "parallel": "succeeded"}
    await stack.advance(timedelta(seconds=600))
    assert stack.notes() == ["p", "1"]
    assert (await stack.job_states())["second"] == "scheduled"
    await stack.advance(timedelta(seconds=299))
    assert stack.notes() == ["p", "1"]
    await stack.advance(timedelta(seconds=1))
    assert stack.notes() == ["p", "1", "2"]


async def test_leaving_the_stage_cancels_its_pending_jobs(stack: EngineStack) -> None:
    await stack.rule(key="remind", stage="awaiting-payment", kind="add_note", config={"message": "pay"},
                     delay_seconds=3600)
    await stack.rule(key="then", stage="awaiting-payment", kind="add_note", config={"message": "x"},
                     after_previous=True)
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    await stack.saleor.charge(order, order.total)  # fully paid → Paid
    await stack.settle()
    assert await stack.order_stage(order.id) == "paid"
    jobs = {job["rule_key"]: job for job in await stack.jobs()}
    assert jobs["remind"]["state"] == "cancelled" and jobs["remind"]["reason"] == "order moved to paid"
    assert jobs["then"]["state"] == "cancelled"
    await stack.advance(timedelta(hours=2))
    assert stack.notes() == []


async def test_condition_is_checked_when_the_job_runs_not_when_planned(stack: EngineStack) -> None:
    await stack.rule(key="unpaid-call", stage="awaiting-payment", kind="add_note", config={"message": "call"},
                     delay_seconds=2 * 86400,
                     condition={"match": "all", "rules": [{"field": "charge_status", "op": "eq", "value": "NONE"}]})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    stack.saleor.deliver_inline = False  # the payment's webhooks never reach the app (an outage)
    await stack.saleor.charge(order, 1.0)  # partly paid: still awaiting payment, charge status PARTIAL
    await stack.advance(timedelta(days=2))
    job = (await stack.jobs())[0]
    assert job["state"] == "skipped"
    assert "condition not met" in job["reason"] and "PARTIAL" in job["reason"]
    assert stack.notes() == []
