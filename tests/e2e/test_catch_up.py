"""Catch-up after lost webhooks, end to end: an outage longer than Saleor's retries, then the poller."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from saleor_app.domain.catchup import CatchUpState
from saleor_app.domain.errors import SaleorUnavailable
from saleor_app.domain.installations import Installation
from saleor_app.domain.ports import OrderGateway
from saleor_app.engine.catchup import CatchUp
from saleor_app.store.catchup import SqlCatchUpStore
from saleor_app.store.tables import ActivityRow, OrderRow, WebhookInboxRow
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.fakes.saleor_model import Order

FULFIL = """
mutation Fulfil($order: ID!, $input: OrderFulfillInput!) {
  orderFulfill(order: $order, input: $input) { errors { field code message } }
}
"""


class SaleorClock:
    """Saleor's own clock: a millisecond passes on every reading (no two changes share an `updatedAt`), and tests
    jump it forward to stretch an outage."""

    def __init__(self, start: datetime) -> None:
        self.value = start

    def now(self) -> datetime:
        self.value += timedelta(milliseconds=1)
        return self.value

    def advance(self, delta: timedelta) -> None:
        self.value += delta


@pytest.fixture
async def saleor_clock() -> SaleorClock:
    return SaleorClock(datetime.now(UTC))


@pytest.fixture
async def stack(settings, saleor_clock: SaleorClock) -> AsyncIterator[EngineStack]:
    # The app is installed a moment before Saleor's clock reads: orders placed in the tests are not adopted.
    async for built in engine_stack(settings, clock_start=saleor_clock.value - timedelta(seconds=1),
                                    clock=saleor_clock.now):
        yield built


def checkpoints(stack: EngineStack) -> SqlCatchUpStore:
    return SqlCatchUpStore(stack.container.engine)


async def state(stack: EngineStack) -> CatchUpState:
    found = await checkpoints(stack).state(stack.installation.id)
    assert found is not None
    return found


async def fulfil_all(stack: EngineStack, order: Order, tracking: str) -> None:
    warehouse = stack.saleor.warehouse_id
    lines = [{"orderLineId": line.id, "stocks": [{"quantity": line.spec.quantity, "warehouse": warehouse}]}
             for line in order.lines]
    variables = {"order": order.id, "input": {"lines": lines, "trackingNumber": tracking}}
    response = await stack.saleor.graphql(FULFIL, variables, token=stack.saleor.staff_token())  # staff, in Saleor
    assert response.json()["data"]["orderFulfill"]["errors"] == []


def newest_update(stack: EngineStack) -> datetime:
    return max(datetime.fromisoformat(order.updated_at) for order in stack.saleor.orders if order.status != "DRAFT")


async def orders_logged_as_caught_up(stack: EngineStack) -> set[str]:
    orders = {row["id"]: row["order_id"] for row in await stack.rows(OrderRow.__table__)}  # type: ignore[attr-defined]
    return {orders[row["order_row_id"]] for row in await stack.rows(ActivityRow.__table__)  # type: ignore[attr-defined]
            if row["order_row_id"] is not None and "caught_up" in row["message"]}


async def caught_up_bodies(stack: EngineStack) -> dict[str, list[dict[str, object]]]:
    table = WebhookInboxRow.__table__  # type: ignore[attr-defined]
    bodies: dict[str, list[dict[str, object]]] = {}
    for row in await stack.rows(table, table.c.event == "caught_up"):
        body = json.loads(row["body"])
        bodies.setdefault(body["order"]["id"], []).append(body)
    return bodies


async def test_an_outage_longer_than_saleors_retries_loses_nothing(stack: EngineStack,
                                                                   saleor_clock: SaleorClock) -> None:
    saleor, catch_up = stack.saleor, stack.container.catch_up
    await stack.rule(key="thanks", stage="paid", kind="add_note", config={"message": "paid, thanks"})
    await stack.rule(key="track", event="tracking_number_added", kind="add_note", config={"message": "tracking"})
    await stack.rule(key="expired", event="order_expired", kind="add_note", config={"message": "expired"})
    to_pay = await saleor.place_order(auto_confirm=True)
    to_ship = await saleor.place_order(auto_confirm=True)
    await saleor.charge(to_ship, to_ship.total)
    to_expire = await saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert [await stack.order_stage(o.id) for o in (to_pay, to_ship, to_expire)] == ["awaiting-payment", "paid", "new"]
    assert await catch_up.run_once() == 0  # webhooks arrived: nothing to catch up, however often it looks

    saleor_clock.advance(timedelta(minutes=10))
    await saleor.place_order(auto_confirm=True)  # a later order, delivered: the checkpoint moves past the others
    await stack.settle()
    assert await catch_up.run_once() == 0
    before_outage = (await state(stack)).updated_since
    assert before_outage is not None
    assert before_outage > datetime.fromisoformat(to_expire.updated_at) + timedelta(minutes=5)

    saleor_clock.advance(timedelta(minutes=10))
    with saleor.drop_deliveries():
        unknown = await saleor.place_order(auto_confirm=True)
        unknown_paid = await saleor.place_order(auto_confirm=True)
        await saleor.charge(unknown_paid, unknown_paid.total)
        await saleor.charge(to_pay, to_pay.total)
        await fulfil_all(stack, to_ship, "TRACK-1")
        await saleor.expire_order(to_expire)  # Saleor leaves updatedAt alone: only the re-check can see it
    lost = [d for d in saleor.deliveries if d.outcome == "failed"]
    assert {d.saleor_event for d in lost} >= {"order_created", "order_fully_paid", "order_fulfilled", "order_expired"}
    await stack.settle()
    assert [await stack.order_stage(o.id) for o in (to_pay, to_ship, to_expire)] == ["awaiting-payment", "paid", "new"]
    assert await stack.order_stage(unknown.id) is None

    stack.clock.advance(timedelta(minutes=15))  # the re-check of unfinished orders is due again
    newest = newest_update(stack)
    assert await catch_up.run_once() == 5
    await stack.settle()

    assert await stack.order_stage(unknown.id) == "awaiting-payment"
    assert await stack.order_stage(unknown_paid.id) == "paid"
    assert await stack.order_stage(to_pay.id) == "paid"
    assert await stack.order_stage(to_ship.id) == "shipped"
    assert await stack.order_stage(to_expire.id) == "expired"
    # The stages' rules ran, and so did the rules of the events inferred from what changed while webhooks were lost.
    assert sorted(stack.notes()) == ["expired", "paid, thanks", "paid, thanks", "paid, thanks", "tracking"]
    caught_up = {unknown.id, unknown_paid.id, to_pay.id, to_ship.id, to_expire.id}
    assert await orders_logged_as_caught_up(stack) == caught_up
    bodies = await caught_up_bodies(stack)
    assert set(bodies) == caught_up
    assert [("recheck" in body) for body in bodies[to_expire.id]] == [True]  # the scan could not see it
    assert all("recheck" not in body for order_id in (unknown.id, to_pay.id) for body in bodies[order_id])
    after = await state(stack)
    assert after.updated_since == newest and after.last_error is None
    assert after.last_recheck_at == stack.clock.now()

    assert await catch_up.run_once() == 0  # a second round finds nothing new
    stack.clock.advance(timedelta(minutes=15))
    assert await catch_up.run_once() == 0  # nor does the next re-check: the app's snapshots are current
    await stack.settle()
    assert len(stack.notes()) == 5


async def test_saleor_down_during_catch_up_keeps_the_checkpoint_and_records_why(
        stack: EngineStack, caplog: pytest.LogCaptureFixture) -> None:
    saleor, catch_up = stack.saleor, stack.container.catch_up
    assert await catch_up.run_once() == 0
    checkpoint = (await state(stack)).updated_since
    assert checkpoint == stack.installation.installed_at  # first run: from the install on
    with saleor.drop_deliveries():
        order = await saleor.place_order(auto_confirm=True)

    saleor.fail_graphql(times=1, status=503)
    with caplog.at_level(logging.WARNING, logger="saleor_app.engine.catchup"):
        assert await catch_up.run_once() == 0
    failed = await state(stack)
    assert failed.updated_since == checkpoint
    assert failed.last_error is not None and "503" in failed.last_error
    warning = next(r for r in caplog.records if r.name == "saleor_app.engine.catchup")
    assert warning.levelno == logging.WARNING and getattr(warning, "installation_id", None) == stack.installation.id
    assert saleor.app.token not in caplog.text

    changed_at = datetime.fromisoformat(order.updated_at)
    assert await catch_up.run_once() == 1  # Saleor is back: the order is caught up
    await stack.settle()
    assert await stack.order_stage(order.id) == "awaiting-payment"
    recovered = await state(stack)
    assert recovered.last_error is None
    assert recovered.updated_since == changed_at


class FailsOnSecondPage:
    """The installation's real gateway, except that Saleor goes down after the first page of changed orders."""

    def __init__(self, real: OrderGateway) -> None:
        self._real = real
        self.pages = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

    async def orders_updated_since(self, since: datetime, *, after: str | None = None,
                                   first: int = 100) -> tuple[list[dict[str, object]], str | None]:
        self.pages += 1
        if self.pages == 2:
            raise SaleorUnavailable("Saleor answered OrdersUpdatedSince with HTTP 502")
        return await self._real.orders_updated_since(since, after=after, first=first)


async def test_a_failure_between_pages_keeps_the_checkpoint_and_the_next_round_stores_nothing_twice(
        stack: EngineStack) -> None:
    container = stack.container
    flaky: list[FailsOnSecondPage] = []

    async def gateways(installation: Installation) -> OrderGateway:
        gateway = FailsOnSecondPage(await container.saleor.order_gateway(installation))
        flaky.append(gateway)
        return gateway  # type: ignore[return-value]

    paged = CatchUp(checkpoints(stack), container.installations, gateways, container.inbox, container.clock,
                    page_size=2)
    assert await paged.run_once() == 0
    checkpoint = (await state(stack)).updated_since
    with stack.saleor.drop_deliveries():
        orders = [await stack.saleor.place_order(auto_confirm=True) for _ in range(5)]

    assert await paged.run_once() == 2  # the first page was stored before Saleor went down
    assert flaky[-1].pages == 2
    failed = await state(stack)
    assert failed.updated_since == checkpoint and failed.last_error is not None and "502" in failed.last_error

    newest = max(datetime.fromisoformat(o.updated_at) for o in orders)
    assert await container.catch_up.run_once() == 3  # all five again; the first two are stored already
    assert (await state(stack)).updated_since == newest
    await stack.settle()
    assert [await stack.order_stage(o.id) for o in orders] == ["awaiting-payment"] * 5


async def test_a_deactivated_installation_is_not_polled(stack: EngineStack) -> None:
    await stack.saleor.set_app_active(False)
    stack.container.installations.forget()
    with stack.saleor.drop_deliveries():
        await stack.saleor.place_order(auto_confirm=True)
    requests = len(stack.saleor.requests)
    assert await stack.container.catch_up.run_once() == 0
    assert len(stack.saleor.requests) == requests  # its token would be refused: Saleor is not asked
    assert await checkpoints(stack).state(stack.installation.id) is None
