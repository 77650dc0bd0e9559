"""Inbound webhooks: an outside system fires a trigger for one order over HTTP, checked by the trigger's secret."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from saleor_app.domain.triggers import TriggerSpec
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.timing import HTTP_TIMEOUT


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


async def inbound_url(stack: EngineStack) -> str:
    """The URL the merchant copies from the trigger list of the protected API."""
    await stack.container.configure.add_custom_stage(stack.installation.id, "picked-up", "Picked up", ["UNFULFILLED"])
    await stack.container.configure.save_trigger(stack.installation.id, TriggerSpec(
        key="courier", stage="picked-up", event="inbound_webhook"))
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        response = await client.get(f"{stack.container.settings.app_url}/api/v1/triggers",
                                    headers=stack.dashboard_headers())
    assert response.status_code == 200, response.text
    [listed] = response.json()
    assert listed["key"] == "courier" and listed["inboundUrl"].startswith(stack.container.settings.app_url)
    return str(listed["inboundUrl"])


async def test_a_call_with_the_order_number_moves_the_order(stack: EngineStack) -> None:
    url = await inbound_url(stack)
    await stack.rule(key="note", stage="picked-up", kind="add_note", config={"message": "picked up"})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        response = await client.post(url, json={"order": f"#{order.number}", "id": "call-1"})
        assert response.status_code == 202, response.text
        assert response.json()["order"] == order.id
        await stack.settle()
        again = await client.post(url, json={"order": str(order.number), "id": "call-1"})  # a retried call
        assert again.status_code == 202 and again.json()["duplicate"] is True
    await stack.settle()
    assert await stack.order_stage(order.id) == "picked-up"
    assert stack.notes() == ["picked up"]
    assert any("trigger courier fired on inbound_webhook" in line for line in await stack.activity())


async def test_a_form_post_with_the_order_id_works_too(stack: EngineStack) -> None:
    url = await inbound_url(stack)
    order = await stack.saleor.place_order(auto_confirm=True)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        response = await client.post(url, data={"order": order.id})
    assert response.status_code == 202, response.text
    await stack.settle()
    assert await stack.order_stage(order.id) == "picked-up"


async def test_wrong_secrets_unknown_orders_and_bad_bodies_change_nothing(stack: EngineStack) -> None:
    url = await inbound_url(stack)
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    base, _, _secret = url.rpartition("/")
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        wrong = await client.post(f"{base}/not-the-secret", json={"order": order.id})
        assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_secret"
        other = await client.post(url.replace("/inbound/", "/inbound/9999"), json={"order": order.id})
        assert other.status_code == 404
        unknown = await client.post(url, json={"order": "999999"})
        assert unknown.status_code == 404 and "no order number 999999" in unknown.json()["error"]["message"]
        missing = await client.post(url, json={})
        assert missing.status_code == 422
        garbage = await client.post(url, content=b"{nope", headers={"Content-Type": "application/json"})
        assert garbage.status_code == 400
    await stack.settle()
    assert await stack.order_stage(order.id) == "awaiting-payment"
