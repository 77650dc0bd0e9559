"""The fake Saleor's `orders` connection as the catch-up poller uses it (through the app's own gateway over HTTP),
Saleor's refusals of bad pagination, and the fake's lost-deliveries switch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from saleor_app.saleor.gateway import SaleorOrderGateway
from saleor_app.saleor.graphql_client import SaleorGraphQLClient
from tests.fakes.loopback import LoopbackServer
from tests.fakes.saleor import FakeSaleor
from tests.fakes.saleor_model import gid
from tests.integration.test_fake_saleor import Receiver


class TickingClock:
    def __init__(self) -> None:
        self.value = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self.value += timedelta(milliseconds=1)
        return self.value


@pytest.fixture
async def fake() -> AsyncIterator[FakeSaleor]:
    async with FakeSaleor(clock=TickingClock().now) as saleor:
        yield saleor


@pytest.fixture
async def gateway(fake: FakeSaleor) -> AsyncIterator[SaleorOrderGateway]:
    client = SaleorGraphQLClient(fake.api_url, fake.staff_token())
    try:
        yield SaleorOrderGateway(client)
    finally:
        await client.close()


def ids(orders: list[dict[str, Any]]) -> list[str]:
    return [order["id"] for order in orders]


async def test_changed_orders_come_oldest_first_in_pages_and_a_change_while_paging_is_met_again(
        fake: FakeSaleor, gateway: SaleorOrderGateway) -> None:
    placed = [await fake.place_order(auto_confirm=True) for _ in range(5)]
    fake.create_order()  # a draft: never listed
    since = datetime.fromisoformat(placed[1].updated_at)  # inclusive

    first, cursor = await gateway.orders_updated_since(since, first=2)
    assert ids(first) == [placed[1].id, placed[2].id] and cursor is not None
    assert first[0] == {"id": placed[1].id, "number": str(placed[1].number), "updatedAt": placed[1].updated_at,
                        "status": "UNFULFILLED", "chargeStatus": "NONE",
                        "totalRefunded": {"amount": 0.0, "currency": "USD"}, "fulfillments": [], "metadata": [],
                        "privateMetadata": []}
    await fake.charge(placed[1], 5.0)  # changed while the poller pages: it moves to the end
    second, cursor = await gateway.orders_updated_since(since, after=cursor, first=2)
    assert ids(second) == [placed[3].id, placed[4].id] and cursor is not None
    third, cursor = await gateway.orders_updated_since(since, after=cursor, first=2)
    assert ids(third) == [placed[1].id] and third[0]["chargeStatus"] == "PARTIAL" and cursor is None

    everything, cursor = await gateway.orders_updated_since(since - timedelta(days=1))
    assert ids(everything) == [o.id for o in (placed[0], placed[2], placed[3], placed[4], placed[1])]
    assert cursor is None


async def test_an_expiry_does_not_bring_an_order_into_the_changed_ones(fake: FakeSaleor,
                                                                        gateway: SaleorOrderGateway) -> None:
    order = await fake.place_order(auto_confirm=False)
    later = await fake.place_order(auto_confirm=True)
    await fake.expire_order(order)
    changed, _ = await gateway.orders_updated_since(datetime.fromisoformat(later.updated_at))
    assert ids(changed) == [later.id]
    [found] = await gateway.orders_by_ids([order.id])
    assert found["status"] == "EXPIRED" and found["updatedAt"] == order.updated_at


async def test_orders_by_ids_leaves_out_what_saleor_does_not_have(fake: FakeSaleor,
                                                                 gateway: SaleorOrderGateway) -> None:
    placed = [await fake.place_order(auto_confirm=False) for _ in range(3)]
    draft = fake.create_order()
    gone = gid("Order", "00000000-0000-0000-0000-000000000000")
    found = await gateway.orders_by_ids([placed[2].id, gone, placed[0].id, draft.id, "VXNlcjox"])  # and a User id
    assert sorted(ids(found)) == sorted([placed[0].id, placed[2].id])
    assert await gateway.orders_by_ids([]) == []


@pytest.mark.parametrize(("query", "variables", "message"), [
    ("query($f: Int) { orders(first: $f) { edges { node { id } } } }", {"f": 101},
     "Requesting 101 records on the `orders` connection exceeds the `first` limit of 100 records."),
    ("query { orders { edges { node { id } } } }", {},
     "You must provide a `first` or `last` value to properly paginate the `orders` connection."),
    ('query { orders(first: 5, filter: {ids: ["T3JkZXI6MQ=="]}, where: {ids: ["T3JkZXI6MQ=="]}) { totalCount } }', {},
     "Only one filtering argument (filter or where) can be specified."),
    ('query { orders(first: 5, after: "not-a-cursor") { edges { node { id } } } }', {},
     "Received cursor is invalid."),
    ('query { orders(first: 5, where: {ids: ["not-an-id"]}) { edges { node { id } } } }', {},
     "Could not resolve to a node with the global id list of '['not-an-id']'."),
])
async def test_saleor_refuses_bad_pagination_and_filters(fake: FakeSaleor, query: str, variables: dict[str, Any],
                                                         message: str) -> None:
    await fake.place_order()
    response = await fake.graphql(query, variables, token=fake.staff_token())
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None or body["data"]["orders"] is None
    assert [error["message"] for error in body["errors"]] == [message]


async def test_the_deprecated_filter_and_descending_order_page_the_same_way(fake: FakeSaleor) -> None:
    placed = [await fake.place_order() for _ in range(3)]
    query = """query($since: DateTime!, $after: String) {
      orders(filter: {updatedAt: {gte: $since}}, sortBy: {field: LAST_MODIFIED_AT, direction: DESC}, first: 2,
             after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }"""
    token = fake.staff_token()
    since = placed[0].updated_at
    page = (await fake.graphql(query, {"since": since}, token=token)).json()["data"]["orders"]
    assert [e["node"]["id"] for e in page["edges"]] == [placed[2].id, placed[1].id] and page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is True
    after = page["pageInfo"]["endCursor"]
    page = (await fake.graphql(query, {"since": since, "after": after}, token=token)).json()["data"]["orders"]
    assert [e["node"]["id"] for e in page["edges"]] == [placed[0].id] and page["pageInfo"]["hasNextPage"] is False


async def test_an_anonymous_caller_cannot_list_orders(fake: FakeSaleor) -> None:
    response = await fake.graphql("query { orders(first: 1) { edges { node { id } } } }")
    assert response.json()["errors"][0]["extensions"]["exception"]["code"] == "PermissionDenied"


async def test_dropped_deliveries_are_lost_for_good_while_the_shop_goes_on(fake: FakeSaleor) -> None:
    receiver = Receiver(use_samples_manifest=False)
    async with LoopbackServer(receiver.asgi()) as server:
        receiver.url = server.url
        await fake.install(f"{receiver.url}/api/manifest")
        with fake.drop_deliveries():
            order = await fake.place_order(auto_confirm=False)
            await fake.charge(order, order.total)
        assert receiver.hooks == []
        lost = [d for d in fake.deliveries if d.saleor_event.startswith("order_")]
        assert [d.saleor_event for d in lost] == ["order_created", "order_fully_paid", "order_updated"]
        assert all(d.outcome == "failed" and d.status is None for d in lost)
        assert await fake.retry_failed() == []  # Saleor gave up: nothing is retried
        assert order.charge_status == "FULL"
        await fake.expire_order(await fake.place_order(auto_confirm=False))  # after the outage: delivered again
        assert [r.event for r in receiver.hooks] == ["order_created", "order_expired", "order_updated"]
