"""Draining stored webhooks in parallel: the outcome is the serial one, one order is never handled twice at once,
a 429 pauses the installation's re-reads, and a burst of webhooks for one order costs one re-read."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from functools import partial
from typing import Any

from saleor_app.domain.triggers import TriggerSpec
from saleor_app.settings import Settings
from saleor_app.store.tables import OrderRow, StageEntryRow, WebhookInboxRow
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.fakes.saleor import Order
from tests.timing import eventually, scaled, settles

READS = ("OrderById", "OrdersFullByIds")  # the engine's re-reads of orders
UPDATE_METADATA = """mutation Gift($id: ID!) {
  updateMetadata(id: $id, input: [{key: "gift", value: "yes"}]) { errors { field message } }
}"""


def drained(settings: Settings, **limits: Any) -> Settings:
    return settings.model_copy(update={f"inbox_{name}": value for name, value in limits.items()})


async def configure(stack: EngineStack) -> None:
    await stack.rule(key="welcome", event="order_created", kind="add_note", config={"message": "welcome"})
    await stack.rule(key="remind", stage="awaiting-payment", kind="add_note", config={"message": "pay"},
                     delay_seconds=3600)
    await stack.rule(key="thanks", stage="paid", kind="add_note", config={"message": "thanks"})
    await stack.rule(key="ship", stage="paid", kind="change_stage", config={"stage": "shipped"},
                     after_previous=True)
    await stack.rule(key="shipped", stage="shipped", kind="add_note", config={"message": "on its way"})
    await stack.rule(key="gift", event="metadata_changed", event_params={"key": "gift"}, kind="add_note",
                     config={"message": "gift"})
    await stack.container.configure.save_trigger(stack.installation.id, TriggerSpec.model_validate(
        {"key": "cancel-gifts", "name": "cancel gifts", "stage": "cancelled", "event": "metadata_changed",
         "params": {"key": "gift"}, "condition": {"rules": [{"field": "charge_status", "op": "eq",
                                                             "value": "NONE"}]}}))


async def drain_while_delivering(stack: EngineStack, seed: int) -> None:
    """Deliver what Saleor queued, shuffled, while the engine drains, until nothing more is sent: the echoes of
    the app's own writes are part of the phase that caused them."""
    while True:
        delivering = asyncio.create_task(stack.saleor.flush(shuffle=True, seed=seed))
        while not delivering.done():
            await stack.settle()
            await asyncio.sleep(0)
        if not await delivering:
            break
        await stack.settle()
    await settles(lambda: running_jobs(stack), 0, what="jobs claimed and not yet run")


async def running_jobs(stack: EngineStack) -> int:
    """Jobs claimed with their move and not finished; each look runs the runner's next round first."""
    await stack.settle()
    return sum(job["state"] == "running" for job in await stack.jobs())


async def scenario(stack: EngineStack, seed: int) -> dict[str, Any]:
    """40 orders, each with its own story over three phases, webhooks of all of them interleaved and Saleor
    answering each request after a random delay; returns what became of each order, by its number."""
    rng = random.Random(seed)
    stack.saleor.deliver_inline = False
    stack.saleor.graphql_delay(0.0, jitter=0.02, seed=seed)
    await configure(stack)
    stories = [rng.choice(["new", "awaiting", "paid", "gift-unpaid", "gift-paid"]) for _ in range(40)]
    orders: list[Order] = []
    for story in stories:
        orders.append(await stack.saleor.place_order(auto_confirm=story != "new"))
    await drain_while_delivering(stack, seed)
    staff = stack.saleor.staff_token()
    for order, story in zip(orders, stories, strict=True):
        if story in ("paid", "gift-paid"):
            await stack.saleor.charge(order, order.total)
    await drain_while_delivering(stack, seed + 1)
    for order, story in zip(orders, stories, strict=True):
        if story.startswith("gift"):
            await stack.saleor.graphql(UPDATE_METADATA, {"id": order.id}, token=staff)
    await drain_while_delivering(stack, seed + 2)
    return await outcome(stack)


async def outcome(stack: EngineStack) -> dict[str, Any]:
    ours = stack.installation.id  # the serial and the parallel run share the database
    orders = [row for row in await stack.rows(OrderRow.__table__)  # type: ignore[attr-defined]
              if row["installation_id"] == ours]
    number = {row["id"]: row["number"] for row in orders}
    by_order: dict[str, dict[str, Any]] = {row["number"]: {"stage": row["stage_key"], "entries": [], "jobs": [],
                                                            "notes": Counter()} for row in orders}
    for entry in await stack.rows(StageEntryRow.__table__):  # type: ignore[attr-defined]
        if entry["installation_id"] == ours:
            by_order[number[entry["order_row_id"]]]["entries"].append((entry["stage_key"],
                                                                      entry["left_at"] is None))
    for job in await stack.jobs():
        if job["installation_id"] == ours:
            by_order[number[job["order_row_id"]]]["jobs"].append((job["rule_key"], job["state"]))
    number_of = {order.id: str(order.number) for order in stack.saleor.orders}
    for call in stack.saleor.mutations:
        if call.name == "orderNoteAdd" and call.caller == "app":
            by_order[number_of[call.variables["order"]]]["notes"][call.variables["message"]] += 1
    for found in by_order.values():
        found["jobs"].sort()
    inbox = WebhookInboxRow.__table__  # type: ignore[attr-defined]
    assert await stack.rows(inbox, inbox.c.state == "pending", inbox.c.installation_id == ours) == []
    return by_order


async def test_interleaved_deliveries_of_many_orders_end_as_the_serial_drain_ends(settings) -> None:
    async for serial in engine_stack(drained(settings, concurrency=1, batch_size=1, settle_ms=0)):
        expected = await scenario(serial, seed=11)
    async for parallel in engine_stack(drained(settings, concurrency=4, batch_size=7, settle_ms=2)):
        found = await scenario(parallel, seed=11)
        reads = parallel.saleor.operation_count(*READS)
    assert len(expected) == 40
    assert {number: story["stage"] for number, story in found.items()} == \
        {number: story["stage"] for number, story in expected.items()}
    assert found == expected
    assert {story["stage"] for story in expected.values()} >= {"new", "awaiting-payment", "shipped", "cancelled"}
    assert reads < serial.saleor.operation_count(*READS)


async def test_one_orders_deliveries_are_never_handled_twice_at_once(settings) -> None:
    async for stack in engine_stack(drained(settings, concurrency=4, batch_size=3, settle_ms=0)):
        await stack.rule(key="hello", stage="awaiting-payment", kind="add_note", config={"message": "hello"})
        stack.saleor.graphql_delay(0.0, jitter=0.03, seed=5)
        stack.container.runner.start()  # the real loop: rounds overlap with deliveries arriving
        orders = [await stack.saleor.place_order(auto_confirm=True) for _ in range(12)]
        for order in orders:  # each a burst of webhooks arriving while earlier reads are in flight
            await stack.saleor.charge(order, order.total / 2)
        for order in orders:
            await stack.saleor.charge(order, order.total / 2)
        await eventually(partial(all_finished, stack), what="every delivery handled")
        by_order: dict[str, list[tuple[float, float]]] = {}
        for call in stack.saleor.calls:
            if call.name in READS:
                assert call.answered is not None
                for order_id in call.order_ids():
                    by_order.setdefault(order_id, []).append((call.arrived, call.answered))
        assert max(len(reads) for reads in by_order.values()) > 1  # orders were read more than once…
        assert any(len(call.order_ids()) > 1 for call in stack.saleor.calls if call.name in READS)  # …together
        for order_id, reads in by_order.items():
            reads.sort()
            overlapping = [(a, b) for a, b in zip(reads, reads[1:], strict=False) if b[0] < a[1]]
            assert overlapping == [], f"order {order_id} was read twice at once"
        assert {await stack.order_stage(order.id) for order in orders} == {"paid"}


async def all_finished(stack: EngineStack) -> bool:
    inbox = await stack.rows(WebhookInboxRow.__table__)  # type: ignore[attr-defined]
    return bool(inbox) and all(row["state"] != "pending" for row in inbox)


async def in_stage(stack: EngineStack, orders: list[Order], stage: str) -> bool:
    await stack.settle()
    return {await stack.order_stage(order.id) for order in orders} == {stage}


async def test_a_429_pauses_the_installations_re_reads_for_as_long_as_saleor_asks(settings) -> None:
    async for stack in engine_stack(settings):
        first = await stack.saleor.place_order(auto_confirm=True)
        stack.saleor.fail_graphql(times=1, status=429, retry_after="1")
        asked = stack.saleor.operation_count(*READS)
        refused_at = time.monotonic()
        assert await stack.container.order_events.run_once() == 0
        assert stack.saleor.operation_count(*READS) == asked + 1  # the refused read
        second = await stack.saleor.place_order(auto_confirm=True)  # another order: still not asked for
        assert await stack.container.order_events.run_once() == 0
        assert stack.saleor.operation_count(*READS) == asked + 1
        assert await stack.order_stage(first.id) is None and await stack.order_stage(second.id) is None

        await eventually(partial(in_stage, stack, [first, second], "awaiting-payment"), every=0.05, what="both orders in their stage after the pause")
        resumed = [call for call in stack.saleor.calls if call.name in READS][asked + 1]
        assert resumed.arrived - refused_at >= 1.0
        assert resumed.order_ids() == {first.id, second.id}  # both in one read once Saleor allows


async def test_a_burst_of_webhooks_for_one_order_costs_one_re_read(settings) -> None:
    window = scaled(0.2)
    async for stack in engine_stack(drained(settings, settle_ms=window * 1000)):
        stack.container.runner.start()
        order = await stack.saleor.place_order(auto_confirm=True)  # delivered inline, one after another…
        await stack.saleor.charge(order, order.total)  # …as Saleor sends them inside its mutations
        burst_over = time.monotonic()
        burst = len(stack.saleor.deliveries)
        calls = stack.saleor.calls
        await eventually(lambda calls=calls: any(call.name == "UpdatePrivateMetadata" for call in calls),
                         what="the stage mirrored into Saleor")
        first_write = next(index for index, call in enumerate(stack.saleor.calls)
                           if call.name == "UpdatePrivateMetadata")
        reads = [call for call in stack.saleor.calls[:first_write] if call.name in READS]
        assert burst >= 4
        assert len(reads) == 1
        assert reads[0].arrived >= burst_over  # read once the burst was over, and written after it
        assert await stack.order_stage(order.id) == "paid"
        inbox = await stack.rows(WebhookInboxRow.__table__)  # type: ignore[attr-defined]
        assert len([row for row in inbox if row["processed_at"] is not None]) >= burst
