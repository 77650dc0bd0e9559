"""One order's automation through the API the order widget and the move-to-stage popup call: the real app, the
fake Saleor (which records every mutation), a Dashboard token; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.fakes.saleor import FakeSaleor
from tests.timing import HTTP_TIMEOUT, eventually


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


async def api(stack: EngineStack, method: str, path: str, headers: dict[str, str] | None = None,
              **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.container.settings.app_url, timeout=HTTP_TIMEOUT) as client:
        return await client.request(method, f"/api/v1{path}", headers=headers or stack.dashboard_headers(), **kwargs)


def mutations(stack: EngineStack) -> list[str]:
    return [m.name for m in stack.saleor.mutations if m.name != "UpdatePrivateMetadata"]


async def test_the_view_has_stage_history_pending_jobs_with_why_they_wait_and_timeline(stack: EngineStack) -> None:
    await stack.rule(key="remind", stage="awaiting-payment", kind="add_note", config={"message": "pay please"},
                     delay_seconds=3600)
    await stack.rule(key="again", stage="awaiting-payment", kind="add_note", config={"message": "again"},
                     after_previous=True)
    await stack.rule(key="off", stage="awaiting-payment", kind="add_note", config={"message": "x"}, enabled=False)
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()

    response = await api(stack, "GET", f"/orders/{order.id}/automation")
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["order"]["number"] == str(order.number)
    assert view["stage"]["key"] == "awaiting-payment" and view["stage"]["since"]
    assert [item["stage"] for item in view["history"]][0] == "awaiting-payment"
    assert view["history"][0]["leftAt"] is None and view["history"][0]["reason"].startswith("Saleor:")
    why = {job["rule"]: job["why"] for job in view["pending"]}
    assert why["remind"].startswith("a delay until ") and "(UTC)" in why["remind"]
    assert why["again"] == "after remind finishes"
    assert [rule["key"] for rule in view["rules"]] == ["remind", "again"]  # the enabled ones, in order
    assert [stage["key"] for stage in view["stages"]][:3] == ["new", "awaiting-payment", "paid"]
    assert any(entry["message"].startswith("planned remind") for entry in view["timeline"])
    assert view["timeline"] == sorted(view["timeline"], key=lambda e: e["id"], reverse=True)  # newest first
    by_number = (await api(stack, "GET", f"/orders/{order.number}/automation")).json()
    assert by_number["order"]["id"] == order.id


async def test_move_goes_through_the_write_back_plan_and_is_logged_as_staffs(stack: EngineStack) -> None:
    await stack.rule(key="thanks", stage="paid", kind="add_note", config={"message": "thanks"})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    before = len(stack.saleor.mutations)

    preview = await api(stack, "GET", f"/orders/{order.id}/move", params={"stage": "paid"})
    assert preview.status_code == 200, preview.text
    assert preview.json()["wouldDo"] == "would move the order to Paid after asking Saleor to mark as paid"
    assert preview.json()["rules"] == ["thanks"] and preview.json()["possible"]
    assert len(stack.saleor.mutations) == before  # a preview changes nothing

    moved = await api(stack, "POST", f"/orders/{order.id}/move", json={"stage": "paid"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["state"] == "succeeded" and "moved to Paid" in moved.json()["message"]
    assert [m.name for m in stack.saleor.mutations[before:]][0] == "orderMarkAsPaid"  # the plan, by the app
    assert await stack.order_stage(order.id) == "paid"
    await stack.settle()  # the echo webhooks, and the stage's rules
    assert stack.notes() == ["thanks"]
    log = await stack.activity()
    assert "moved from awaiting-payment to paid: moved by staff admin@example.com from the Dashboard" in log
    view = (await api(stack, "GET", f"/orders/{order.id}/automation")).json()
    assert view["stage"]["key"] == "paid" and view["history"][1]["leftAt"] is not None
    again = await api(stack, "POST", f"/orders/{order.id}/move", json={"stage": "paid"})
    assert again.status_code == 409 and "already" in again.json()["error"]["message"]


async def test_a_refusal_the_pre_check_foresees_is_a_422_and_nothing_is_sent(stack: EngineStack) -> None:
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.saleor.charge(order, 1)  # a transaction: Saleor refuses orderMarkAsPaid from now on
    await stack.settle()
    preview = (await api(stack, "GET", f"/orders/{order.id}/move?stage=paid")).json()
    assert preview["possible"] is False and "TRANSACTION_ERROR" in preview["wouldDo"]
    refused = await api(stack, "POST", f"/orders/{order.id}/move", json={"stage": "paid"})
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "move_impossible"
    assert "Orders with transactions can not be manually marked as paid." in error["message"]
    assert "orderMarkAsPaid" not in [m.name for m in stack.saleor.mutations]
    assert await stack.order_stage(order.id) == "awaiting-payment"
    impossible = await api(stack, "POST", f"/orders/{order.id}/move", json={"stage": "nowhere"})
    assert impossible.status_code == 404
    assert (await api(stack, "POST", f"/orders/{order.id}/move", json={})).status_code == 422


async def test_saleors_refusal_is_a_409_with_its_message_and_the_order_stays(stack: EngineStack) -> None:
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    stack.saleor.hold_mutation("orderMarkAsPaid")
    moving = asyncio.create_task(api(stack, "POST", f"/orders/{order.id}/move", json={"stage": "paid"}))
    await eventually(lambda: stack.saleor.held_bodies or moving.done(), what="the move's orderMarkAsPaid")
    await stack.saleor.charge(order, 1)  # a payment lands after the pre-check: Saleor refuses the mark as paid
    stack.saleor.release_mutations()
    refused = await moving
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "move_refused"
    assert "mark as paid ✗ TRANSACTION_ERROR: Orders with transactions can not be manually marked as paid." \
        in error["message"]
    await stack.settle()
    assert await stack.order_stage(order.id) == "awaiting-payment"


async def test_run_rule_now_runs_the_rule_of_the_current_stage_and_refuses_another_stages(
        stack: EngineStack) -> None:
    await stack.rule(key="later", stage="awaiting-payment", kind="add_note",
                     config={"message": "Order {{ order.number }} noted by hand"}, delay_seconds=86400)
    await stack.rule(key="paid-note", stage="paid", kind="add_note", config={"message": "x"})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    assert stack.notes() == []

    run = await api(stack, "POST", f"/orders/{order.id}/rules/later/run")
    assert run.status_code == 200, run.text
    assert run.json()["state"] == "scheduled"
    await stack.settle()
    assert stack.notes() == [f"Order {order.number} noted by hand"]
    jobs = {job["id"]: job for job in await stack.jobs()}
    assert jobs[run.json()["job"]]["state"] == "succeeded"
    assert "later: run now by staff admin@example.com from the Dashboard" in await stack.activity()
    elsewhere = await api(stack, "POST", f"/orders/{order.id}/rules/paid-note/run")
    assert elsewhere.status_code == 409 and elsewhere.json()["error"]["code"] == "rule_of_another_stage"
    assert (await api(stack, "POST", f"/orders/{order.id}/rules/ghost/run")).status_code == 404


async def test_an_order_the_app_never_saw_is_adopted_from_saleor(stack: EngineStack) -> None:
    with stack.saleor.drop_deliveries():
        order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    assert await stack.order_stage(order.id) is None

    asked = asyncio.ensure_future(api(stack, "GET", f"/orders/{order.number}/automation"))
    while not asked.done():  # the engine (a runner in production) handles the delivery the request stored
        await stack.settle()
        await asyncio.sleep(0.05)
    response = asked.result()
    assert response.status_code == 200, response.text
    assert response.json()["stage"]["key"] == "awaiting-payment"
    assert "caught_up" in response.json()["history"][0]["reason"]

    unknown = await api(stack, "GET", "/orders/424242/automation")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "this Saleor has no order '424242' (give its id or number)"


async def test_another_installations_order_is_not_found(stack: EngineStack) -> None:
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    app_url = str(stack.container.settings.app_url)
    async with FakeSaleor() as other:
        await other.install(f"{app_url}/api/manifest")
        b = await stack.container.installations.get_by_url(other.api_url)
        assert b is not None
        as_b = {"authorization-bearer": other.signer.dashboard_token(app_id=b.app_id, iss=other.api_url),
                "saleor-api-url": other.api_url}
        for method, path, body in (("GET", f"/orders/{order.id}/automation", None),
                                   ("POST", f"/orders/{order.id}/move", {"stage": "paid"}),
                                   ("POST", f"/orders/{order.id}/rules/any/run", None)):
            response = await api(stack, method, path, headers=as_b, json=body)
            assert response.status_code == 404, (path, response.text)
    assert await stack.order_stage(order.id) == "awaiting-payment"
    assert "orderMarkAsPaid" not in mutations(stack)
