"""Triggers, write-back plans and event rules end to end, with the fake Saleor delivering echoes inline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from saleor_app.domain.triggers import TriggerSpec
from saleor_app.saleor import documents
from tests.e2e.engine_stack import EngineStack, engine_stack


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


async def trigger(stack: EngineStack, **spec: Any) -> None:
    await stack.container.configure.save_trigger(stack.installation.id, TriggerSpec.model_validate(spec))


async def custom(stack: EngineStack, key: str, statuses: list[str]) -> None:
    await stack.container.configure.add_custom_stage(stack.installation.id, key, key.title(), statuses)


async def staff(stack: EngineStack, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await stack.saleor.graphql(documents.load(document), variables, token=stack.saleor.staff_token())
    body = response.json()
    assert "errors" not in body, body
    assert not any(payload.get("errors") for payload in body["data"].values()), body
    return dict(body["data"])


async def staff_fulfil(stack: EngineStack, order: Any, line_index: int, tracking: str = "") -> None:
    line = order.lines[line_index]
    await staff(stack, "OrderFulfill", {"order": order.id, "input": {
        "lines": [{"orderLineId": line.id, "stocks": [{"warehouse": stack.saleor.warehouse_id,
                                                        "quantity": line.spec.quantity}]}],
        "notifyCustomer": False, **({"trackingNumber": tracking} if tracking else {})}})


def mutations(stack: EngineStack) -> list[str]:
    return [m.name for m in stack.saleor.mutations if m.caller == "app" and m.name not in (
        "updatePrivateMetadata", "webhookCreate", "webhookUpdate")]


async def test_a_trigger_moves_a_paid_order_to_its_custom_stage_and_paid_rules_do_not_run(stack: EngineStack) -> None:
    await custom(stack, "packing", ["UNFULFILLED"])
    await trigger(stack, key="pack", stage="packing", event="order_paid")
    await stack.rule(key="thanks", stage="paid", kind="add_note", config={"message": "paid rule"})
    await stack.rule(key="pack-note", stage="packing", kind="add_note", config={"message": "packing rule"})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    await stack.saleor.charge(order, 1000)
    await stack.settle()
    assert await stack.order_stage(order.id) == "packing"
    assert stack.notes() == ["packing rule"]
    assert any("trigger pack fired on order_paid: to packing" in line for line in await stack.activity())


async def test_furthest_forward_target_wins_and_moving_back_needs_allow_back(stack: EngineStack) -> None:
    await custom(stack, "hold", ["UNFULFILLED"])
    await custom(stack, "packing", ["UNFULFILLED"])
    await trigger(stack, key="to-hold", stage="hold", event="order_paid")
    await trigger(stack, key="to-packing", stage="packing", event="order_paid")
    await trigger(stack, key="vip", stage="hold", event="metadata_changed", params={"key": "vip"})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    await stack.saleor.charge(order, 1000)
    await stack.settle()
    assert await stack.order_stage(order.id) == "packing"  # both fired; packing lies further forward

    await staff(stack, "UpdateMetadata", {"id": order.id, "input": [{"key": "vip", "value": "yes"}]})
    await stack.settle()
    assert await stack.order_stage(order.id) == "packing"
    assert any("trigger vip: hold is behind packing (moving back is off)" in line for line in await stack.activity())

    await trigger(stack, key="vip", stage="hold", event="metadata_changed", params={"key": "vip"}, allow_back=True)
    await staff(stack, "UpdateMetadata", {"id": order.id, "input": [{"key": "vip", "value": "very"}]})
    await stack.settle()
    assert await stack.order_stage(order.id) == "hold"


async def test_move_to_paid_confirms_and_marks_paid_and_the_stage_in_between_runs_no_rules(
    stack: EngineStack,
) -> None:
    await stack.rule(key="go", stage="new", kind="change_stage", config={"stage": "paid"})
    await stack.rule(key="remind", stage="awaiting-payment", kind="add_note", config={"message": "please pay"})
    await stack.rule(key="thanks", stage="paid", kind="add_note", config={"message": "thanks"})
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert mutations(stack) == ["orderConfirm", "orderMarkAsPaid", "orderNoteAdd"]
    assert stack.notes() == ["thanks"]
    assert await stack.order_stage(order.id) == "paid"
    stages = [stage for stage, _open in await stack.entries()]
    assert stages[0] == "new" and stages[-1] == "paid" and stages.count("paid") == 1
    assert (await stack.job_states())["go"] == "succeeded"
    assert stack.saleor.order_view(order)["privateMetadata"] == [
        {"__typename": "MetadataItem", "key": "order-automation.stage", "value": "paid"}]
    writes = [m.variables["input"][0]["value"] for m in stack.saleor.mutations if m.name == "updatePrivateMetadata"]
    assert writes[-1] == "paid" and "awaiting-payment" not in writes  # the stage passed through is not mirrored
    assert len(writes) <= 2, writes


async def test_move_to_shipped_fulfils_the_remaining_lines(stack: EngineStack) -> None:
    stack.saleor.shop.fulfillment_allow_unpaid = True
    await stack.rule(key="ship", stage="awaiting-payment", kind="change_stage", config={"stage": "shipped"})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    assert "orderFulfill" in mutations(stack)
    assert stack.saleor.order_view(order)["status"] == "FULFILLED"
    assert await stack.order_stage(order.id) == "shipped"


async def test_move_to_shipped_waits_while_the_fulfilment_awaits_approval(stack: EngineStack) -> None:
    stack.saleor.shop.fulfillment_auto_approve = False
    stack.saleor.shop.fulfillment_allow_unpaid = True  # Saleor approves an unpaid order's fulfilment only then
    await stack.rule(key="ship", stage="awaiting-payment", kind="change_stage", config={"stage": "shipped"})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    job = next(job for job in await stack.jobs() if job["rule_key"] == "ship")
    assert job["state"] == "retrying" and "awaits approval" in job["reason"]
    assert await stack.order_stage(order.id) == "awaiting-payment"  # not bounced anywhere
    await stack.advance(timedelta(minutes=30))  # retries keep waiting (Saleor already counts the lines fulfilled)
    job = next(job for job in await stack.jobs() if job["rule_key"] == "ship")
    assert job["state"] == "retrying" and "awaits approval" in job["reason"]
    assert [m for m in mutations(stack) if m == "orderFulfill"] == ["orderFulfill"]  # never fulfilled twice
    await stack.saleor.approve_fulfillments(order)
    await stack.settle()
    assert await stack.order_stage(order.id) == "shipped"


async def test_move_to_cancelled_and_to_awaiting_payment(stack: EngineStack) -> None:
    await stack.rule(key="confirm", stage="new", kind="change_stage", config={"stage": "awaiting-payment"})
    await stack.rule(key="cancel", stage="awaiting-payment", kind="change_stage", config={"stage": "cancelled"})
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert mutations(stack) == ["orderConfirm", "orderCancel"]
    assert await stack.order_stage(order.id) == "cancelled"
    assert [stage for stage, _ in await stack.entries()] == ["new", "awaiting-payment", "cancelled"]


async def test_saleor_refusing_a_step_abandons_the_move_with_its_message(stack: EngineStack) -> None:
    await trigger(stack, key="paid-by-hand", stage="paid", event="metadata_changed", params={"key": "paid"})
    await stack.rule(key="thanks", stage="paid", kind="add_note", config={"message": "thanks"})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.saleor.charge(order, 1)  # a transaction: Saleor refuses orderMarkAsPaid from now on
    await stack.settle()
    await staff(stack, "UpdateMetadata", {"id": order.id, "input": [{"key": "paid", "value": "cash"}]})
    await stack.settle()
    move = next(job for job in await stack.jobs() if job["rule_key"] == "trigger:paid-by-hand")
    assert move["state"] == "failed"  # foreseen by the pre-check, in Saleor's words: nothing was sent
    assert "move to Paid refused before any change in Saleor: mark as paid ✗ TRANSACTION_ERROR: " \
           "Orders with transactions can not be manually marked as paid." in move["reason"]
    assert "orderMarkAsPaid" not in mutations(stack)
    assert await stack.order_stage(order.id) == "awaiting-payment"  # stays where it was
    assert stack.notes() == []


async def test_self_caused_events_never_fire_triggers(stack: EngineStack) -> None:
    await custom(stack, "packing", ["UNFULFILLED"])
    await trigger(stack, key="pack", stage="packing", event="order_paid")
    await stack.rule(key="go", stage="new", kind="change_stage", config={"stage": "paid"})
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert await stack.order_stage(order.id) == "paid"  # our own orderMarkAsPaid fired nothing


async def test_event_rules_run_on_every_occurrence(stack: EngineStack) -> None:
    stack.saleor.shop.fulfillment_allow_unpaid = True
    await stack.rule(key="welcome", event="order_created", kind="add_note", config={"message": "welcome"})
    await stack.rule(key="track", event="tracking_number_added", kind="add_note",
                     config={"message": "tracking sent"})
    order = await stack.saleor.place_order(auto_confirm=True)  # never passes through New
    await stack.settle()
    assert stack.notes() == ["welcome"]
    await staff_fulfil(stack, order, 0, tracking="TRACK-1")
    await stack.settle()
    await staff_fulfil(stack, order, 1, tracking="TRACK-2")
    await stack.settle()
    assert stack.notes() == ["welcome", "tracking sent", "tracking sent"]
    assert await stack.order_stage(order.id) == "shipped"  # event rules do not stop at stage moves


async def test_a_loop_between_change_stage_rules_is_stopped(stack: EngineStack) -> None:
    await custom(stack, "ping", ["UNFULFILLED"])
    await custom(stack, "pong", ["UNFULFILLED"])
    await stack.rule(key="start", stage="awaiting-payment", kind="change_stage", config={"stage": "ping"})
    await stack.rule(key="to-pong", stage="ping", kind="change_stage", config={"stage": "pong"})
    await stack.rule(key="to-ping", stage="pong", kind="change_stage", config={"stage": "ping"})
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    failed = [job for job in await stack.jobs() if job["state"] == "failed"]
    assert len(failed) == 1 and "looks like a loop" in failed[0]["reason"]
    assert len(await stack.entries()) < 20


async def test_triggers_and_change_stage_targets_need_a_plan(stack: EngineStack) -> None:
    from saleor_app.engine.configure import ConfigurationError

    with pytest.raises(ConfigurationError, match="New follows Saleor's state"):
        await trigger(stack, key="back", stage="new", event="order_paid")
    with pytest.raises(ValueError, match="unknown event 'order_teleported'"):
        await trigger(stack, key="x", stage="paid", event="order_teleported")
    with pytest.raises(ValueError, match="needs params.key"):
        await trigger(stack, key="x", stage="paid", event="metadata_changed")


async def _confirm(stack: EngineStack, order: Any) -> None:
    await staff(stack, "OrderConfirm", {"id": order.id})


async def _cancel(stack: EngineStack, order: Any) -> None:
    await staff(stack, "OrderCancel", {"id": order.id})


async def _fulfil_all(stack: EngineStack, order: Any) -> None:
    for index in range(len(order.lines)):
        await staff_fulfil(stack, order, index)


async def _metadata(stack: EngineStack, order: Any) -> None:
    await staff(stack, "UpdateMetadata", {"id": order.id, "input": [{"key": "gift", "value": "yes"}]})


async def _track(stack: EngineStack, order: Any) -> None:
    document = ("mutation Track($id: ID!, $input: FulfillmentUpdateTrackingInput!) { "
                "orderFulfillmentUpdateTracking(id: $id, input: $input) { errors { code message } } }")
    fulfillment = stack.saleor.order_view(order)["fulfillments"][0]["id"]
    response = await stack.saleor.graphql(document, {"id": fulfillment, "input": {"trackingNumber": "TRACK-9"}},
                                          token=stack.saleor.staff_token())
    assert response.json()["data"]["orderFulfillmentUpdateTracking"]["errors"] == [], response.text


async def _nothing(stack: EngineStack, order: Any) -> None:
    pass


EVENT_SCENARIOS: dict[str, tuple[bool, Any, Any]] = {
    # event: (auto-confirm, what happens before the trigger exists, what fires it)
    "order_created": (False, None, _nothing),
    "order_confirmed": (False, _nothing, _confirm),
    "order_paid": (True, _nothing, lambda s, o: s.saleor.charge(o, 1)),
    "order_fully_paid": (True, lambda s, o: s.saleor.charge(o, 1), lambda s, o: s.saleor.charge(o, o.total)),
    "payment_failed": (True, _nothing, lambda s, o: s.saleor.fail_charge(o, 10)),
    "order_fulfilled": (True, lambda s, o: staff_fulfil(s, o, 0), lambda s, o: staff_fulfil(s, o, 1)),
    "shipment_created": (True, _nothing, lambda s, o: staff_fulfil(s, o, 0)),
    "tracking_number_added": (True, lambda s, o: staff_fulfil(s, o, 0), lambda s, o: _track(s, o)),
    "order_cancelled": (True, _nothing, _cancel),
    "order_refunded": (True, lambda s, o: s.saleor.charge(o, o.total), lambda s, o: s.saleor.refund(o, 1)),
    "order_fully_refunded": (True, lambda s, o: s.saleor.charge(o, o.total), lambda s, o: s.saleor.refund(o)),
    "order_expired": (False, _nothing, lambda s, o: s.saleor.expire_order(o)),
    "metadata_changed": (True, _nothing, _metadata),
}


@pytest.mark.parametrize("event", sorted(EVENT_SCENARIOS))
async def test_every_saleor_event_fires_its_trigger(stack: EngineStack, event: str) -> None:
    stack.saleor.shop.fulfillment_allow_unpaid = True
    await custom(stack, "flagged", ["UNCONFIRMED", "UNFULFILLED", "PARTIALLY_FULFILLED", "FULFILLED", "CANCELED",
                                    "EXPIRED", "PARTIALLY_RETURNED", "RETURNED"])
    auto_confirm, before, fire = EVENT_SCENARIOS[event]
    params = {"key": "gift"} if event == "metadata_changed" else {}
    if before is None:  # the event is the order's arrival itself
        await trigger(stack, key="flag", stage="flagged", event=event, params=params, allow_back=True)
        order = await stack.saleor.place_order(auto_confirm=auto_confirm)
    else:
        order = await stack.saleor.place_order(auto_confirm=auto_confirm)
        await stack.settle()
        await before(stack, order)
        await stack.settle()
        await trigger(stack, key="flag", stage="flagged", event=event, params=params, allow_back=True)
        assert await stack.order_stage(order.id) != "flagged"
        await fire(stack, order)
    await stack.settle()
    assert await stack.order_stage(order.id) == "flagged"
    assert any(f"trigger flag fired on {event}" in line for line in await stack.activity())
