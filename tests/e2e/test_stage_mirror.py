"""The stage mirror (`order-automation.stage` in the order's private metadata) with the runner running on its own.

The manual runner of the other engine tests settles one round at a time; the running one overlaps rounds, their
follow-ups and the echo webhooks of its own writes, which is where repeated writes of one value came from. And a
shop with two installations of the app shares the one key: neither may keep writing its value over the other's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from saleor_app.domain.pipeline import PRIVATE_METADATA_STAGE_KEY
from saleor_app.settings import Settings
from saleor_app.store.tables import WebhookInboxRow
from tests.databases import MigratedDatabases, schema_url
from tests.e2e.engine_stack import EngineStack, another_installation, engine_stack
from tests.timing import eventually


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


def stage_writes(stack: EngineStack, app: int | None = None) -> list[str]:
    """The values the app(s) wrote into the stage key, in order (`app`: only that installation's)."""
    return [item["value"] for call in stack.saleor.mutations
            if call.name == "updatePrivateMetadata" and (app is None or call.app == app)
            for item in call.variables["input"] if item["key"] == PRIVATE_METADATA_STAGE_KEY]


async def shows(stack: EngineStack, order_id: str, stage: str) -> None:
    order = next(order for order in stack.saleor.orders if order.id == order_id)
    await eventually(lambda: order.private_metadata.get(PRIVATE_METADATA_STAGE_KEY) == stage,
                     what=f"showing {stage} in Saleor")
    await stack.settle()  # beside the running loop: returns once nothing is left, follow-ups included


async def test_one_stage_write_per_stage_change_with_the_runner_running(stack: EngineStack) -> None:
    """Notes echo back as webhooks, a payment moves the order, a delayed rule moves it on (in the worker, with
    Celery): every stage change is written once, and nothing else is."""
    await stack.container.configure.add_custom_stage(stack.installation.id, "packing", "Packing", ["UNFULFILLED"])
    await stack.rule(key="hello", stage="awaiting-payment", kind="add_note", config={"message": "please pay"})
    await stack.rule(key="thanks", stage="paid", kind="add_note", config={"message": "thanks"})
    await stack.rule(key="pack", stage="paid", kind="change_stage", config={"stage": "packing"}, delay_seconds=60)
    runner = stack.container.runner
    runner.start()  # stopped when the stack closes
    order = await stack.saleor.place_order(auto_confirm=True)  # ORDER_CREATED + ORDER_CONFIRMED
    await shows(stack, order.id, "awaiting-payment")
    await stack.saleor.charge(order, order.total)
    await shows(stack, order.id, "paid")
    stack.clock.advance(timedelta(seconds=61))
    runner.wake()
    await shows(stack, order.id, "packing")
    assert stack.notes() == ["please pay", "thanks"]
    assert stage_writes(stack) == ["awaiting-payment", "paid", "packing"]


STAFF_METADATA = """mutation Tag($id: ID!) { updateMetadata(id: $id, input: [{key: "gift", value: "yes"}]) {
  errors { code } } }"""


async def test_no_second_write_while_the_first_is_in_flight(stack: EngineStack) -> None:
    """Saleor is slow to answer the write; meanwhile staff change the order and the app re-reads it (without our
    value yet). The write under way is the only one."""
    runner = stack.container.runner
    runner.start()  # stopped when the stack closes
    stack.saleor.hold_mutation("updatePrivateMetadata")
    order = await stack.saleor.place_order(auto_confirm=True)
    await eventually(lambda: stack.saleor.held_bodies, what="writing the stage")
    answer = await stack.saleor.graphql(STAFF_METADATA, {"id": order.id}, token=stack.saleor.staff_token())
    assert answer.json()["data"]["updateMetadata"]["errors"] == []
    await eventually(lambda: inbox_done(stack), what="handling the staff change")
    stack.saleor.release_mutations()
    await shows(stack, order.id, "awaiting-payment")
    assert len(stack.saleor.held_bodies) == 1
    assert stage_writes(stack) == ["awaiting-payment"]


async def test_a_stage_change_during_a_write_is_written_after_it_not_beside_it(stack: EngineStack) -> None:
    """The order is paid while its first stage is still being written. Two writes in flight could land in either
    order and leave the older stage in Saleor: the second waits for the first, then writes the newer stage."""
    runner = stack.container.runner
    runner.start()  # stopped when the stack closes
    stack.saleor.hold_mutation("updatePrivateMetadata")
    order = await stack.saleor.place_order(auto_confirm=True)
    await eventually(lambda: stack.saleor.held_bodies, what="writing the stage")
    await stack.saleor.charge(order, order.total)
    await eventually(lambda: inbox_done(stack), what="handling the payment")
    assert await stack.order_stage(order.id) == "paid"
    await stack.saleor.release_newest_first()
    await shows(stack, order.id, "paid")
    assert len(stack.saleor.held_bodies) == 1
    assert stage_writes(stack) == ["awaiting-payment", "paid"]


async def inbox_done(stack: EngineStack) -> bool:
    rows = await stack.rows(WebhookInboxRow.__table__)  # type: ignore[attr-defined]
    return bool(rows) and all(row["state"] != "pending" for row in rows)


@pytest.fixture
def other_database(database_url: str, migrated: MigratedDatabases, tmp_path: Path) -> str:
    """A database of its own for a second deployment of the app, of the same kind as the test's."""
    if database_url.startswith("sqlite"):
        return migrated.sqlite(tmp_path / "other.db")
    from tests.conftest import POSTGRES_URL

    return schema_url(POSTGRES_URL, migrated.postgres_schema())


async def test_two_installations_in_one_saleor_do_not_overwrite_each_others_stage(
        stack: EngineStack, settings: Settings, other_database: str) -> None:
    """Both write the same key. One has moved the order on to a stage of its own; each wrote its stage once
    per change, and neither writes again when the other's value is there (they used to, about once a second)."""
    async with another_installation(stack, settings.model_copy(update={"database_url": other_database})) as other:
        await other.container.configure.add_custom_stage(other.installation.id, "vip", "VIP", ["UNFULFILLED"])
        await other.rule(key="vip", stage="awaiting-payment", kind="change_stage", config={"stage": "vip"})
        ours, theirs = stack.saleor.apps[0].pk, stack.saleor.apps[1].pk
        order = await stack.saleor.place_order(auto_confirm=True)
        for _ in range(4):  # each hears the other's writes (ORDER_METADATA_UPDATED, not self-caused)
            await stack.settle()
            await other.settle()
        assert await stack.order_stage(order.id) == "awaiting-payment" and await other.order_stage(order.id) == "vip"
        assert stage_writes(stack, ours) == ["awaiting-payment"] and stage_writes(stack, theirs) == ["vip"]
        assert order.private_metadata[PRIVATE_METADATA_STAGE_KEY] == "vip"

        await stack.saleor.charge(order, order.total)  # ours changes stage: written again; theirs stays VIP
        for _ in range(4):
            await stack.settle()
            await other.settle()
        assert await stack.order_stage(order.id) == "paid" and await other.order_stage(order.id) == "vip"
        assert stage_writes(stack, ours) == ["awaiting-payment", "paid"] and stage_writes(stack, theirs) == ["vip"]
        assert order.private_metadata[PRIVATE_METADATA_STAGE_KEY] == "paid"
