"""Events read from snapshot changes, trigger choice and write-back plans: the pure parts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from saleor_app.domain.events import infer_events
from saleor_app.domain.pipeline import DEFAULT_PIPELINE, Pipeline, Stage, StageMatch
from saleor_app.domain.triggers import Trigger, choose_target
from saleor_app.domain.writeback import Action, NoPlan, has_plan, plan

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def order(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"status": "UNFULFILLED", "chargeStatus": "NONE", "totalCharged": {"amount": 0},
                            "totalRefunded": {"amount": 0}, "fulfillments": [], "transactions": [], "metadata": [],
                            "privateMetadata": [], "lines": []}
    return {**base, **fields}


def names(previous: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    return [event.name for event in infer_events(previous, current)]


def test_first_sight_of_an_auto_confirmed_order_is_created_and_confirmed() -> None:
    assert names(None, order()) == ["order_created", "order_confirmed"]
    assert names(None, order(status="UNCONFIRMED")) == ["order_created"]


def test_the_same_snapshot_twice_is_no_event() -> None:
    snapshot = order(metadata=[{"key": "gift", "value": "yes"}], fulfillments=[
        {"id": "F1", "status": "FULFILLED", "trackingNumber": "T1"}])
    assert infer_events(snapshot, snapshot) == []


def test_payments_partial_full_and_failed() -> None:
    partial = order(chargeStatus="PARTIAL", totalCharged={"amount": 10})
    assert names(order(), partial) == ["order_paid"]
    full = order(chargeStatus="FULL", totalCharged={"amount": 50})
    assert names(partial, full) == ["order_paid", "order_fully_paid"]
    failed = order(transactions=[{"events": [{"id": "E1", "type": "CHARGE_FAILURE"},
                                             {"id": "E2", "type": "CHARGE_SUCCESS"}]}])
    assert [(e.name, e.identity) for e in infer_events(order(), failed)] == [("payment_failed", "payment-failed:E1")]


def test_each_parcel_and_tracking_number_is_its_own_occurrence() -> None:
    one = order(fulfillments=[{"id": "F1", "status": "FULFILLED", "trackingNumber": "T1"}])
    two = order(fulfillments=[{"id": "F1", "status": "FULFILLED", "trackingNumber": "T1"},
                              {"id": "F2", "status": "FULFILLED", "trackingNumber": "T2"}])
    events = infer_events(one, two)
    assert [(e.name, e.identity) for e in events] == [("shipment_created", "shipment:F2"),
                                                      ("tracking_number_added", "tracking:F2:T2")]
    returned = order(fulfillments=[*two["fulfillments"], {"id": "F3", "status": "RETURNED", "trackingNumber": ""}])
    assert infer_events(two, returned) == []  # a return is not a shipment


def test_refunds_status_changes_and_metadata() -> None:
    paid = order(chargeStatus="FULL", totalCharged={"amount": 50})
    refunded = order(chargeStatus="NONE", totalCharged={"amount": 0}, totalRefunded={"amount": 50})
    assert names(paid, refunded) == ["order_refunded", "order_fully_refunded"]
    assert names(order(), order(status="CANCELED")) == ["order_cancelled"]
    assert names(order(status="UNCONFIRMED"), order(status="EXPIRED")) == ["order_expired"]
    tagged = order(metadata=[{"key": "gift", "value": "yes"}],
                   privateMetadata=[{"key": "order-automation.stage", "value": "paid"}])
    events = infer_events(order(), tagged)
    assert [(e.name, dict(e.detail)) for e in events] == [("metadata_changed", {"key": "gift", "value": "yes"})]
    assert events[0].matches({"key": "gift"}) and events[0].matches({"key": "gift", "value": "yes"})
    assert not events[0].matches({"key": "gift", "value": "no"})


def trig(key: str, stage: str, event: str, **extra: Any) -> Trigger:
    return Trigger(id=1, installation_id=1, stage_key=stage, key=key, name=key, event=event, **extra)


def test_choose_target_furthest_forward_allow_back_and_conditions() -> None:
    events = infer_events(order(), order(chargeStatus="FULL", totalCharged={"amount": 50}))
    snapshot = order(chargeStatus="FULL")
    triggers = [trig("a", "awaiting-payment", "order_paid", allow_back=True), trig("b", "shipped", "order_paid"),
                trig("c", "cancelled", "order_expired")]
    firing, _ = choose_target(DEFAULT_PIPELINE, triggers, events, "paid", snapshot, now=NOW, time_zone="UTC")
    assert firing is not None and firing.trigger.key == "b"
    back = [trig("a", "awaiting-payment", "order_paid")]
    firing, notes = choose_target(DEFAULT_PIPELINE, back, events, "paid", snapshot, now=NOW, time_zone="UTC")
    assert firing is None and "moving back is off" in notes[0][1]
    conditional = [trig("b", "shipped", "order_paid", condition={
        "match": "all", "rules": [{"field": "total", "op": "gt", "value": 1000}]})]
    firing, notes = choose_target(DEFAULT_PIPELINE, conditional, events, "paid", snapshot, now=NOW, time_zone="UTC")
    assert firing is None and "condition not met" in notes[0][1]


def stage(key: str) -> Stage:
    found = DEFAULT_PIPELINE.stage(key)
    assert found is not None
    return found


def test_plans_do_only_what_is_left() -> None:
    assert [s.action for s in plan(stage("paid"), order(status="UNCONFIRMED"))] == [Action.CONFIRM, Action.MARK_PAID]
    assert [s.action for s in plan(stage("paid"), order())] == [Action.MARK_PAID]
    assert plan(stage("paid"), order(chargeStatus="FULL")) == []
    assert [s.action for s in plan(stage("cancelled"), order())] == [Action.CANCEL]
    line = {"id": "L1", "productName": "Polo", "quantityToFulfill": 3, "variant": {"preorder": None},
            "allocations": [{"quantity": 2, "warehouse": {"id": "W1"}}, {"quantity": 5, "warehouse": {"id": "W2"}}]}
    steps = plan(stage("shipped"), order(lines=[line]))
    assert [(x.warehouse_id, x.quantity) for x in steps[0].lines] == [("W1", 2), ("W2", 1)]


@pytest.mark.parametrize(("target", "snapshot", "message"), [
    ("new", order(), "no write-back plan"),
    ("awaiting-payment", order(chargeStatus="FULL"), "does not fit awaiting-payment"),
    ("paid", order(status="CANCELED"), "CANCELED in Saleor"),
    ("cancelled", order(status="FULFILLED"), "cancel its fulfilments"),
    ("shipped", order(lines=[{"id": "L", "productName": "Pre", "quantityToFulfill": 1,
                              "variant": {"preorder": {"endDate": None}}, "allocations": []}]), "is a preorder"),
    ("shipped", order(lines=[{"id": "L", "productName": "Loose", "quantityToFulfill": 1, "variant": {},
                              "allocations": []}]), "without an allocated warehouse"),
])
def test_impossible_moves_say_why(target: str, snapshot: dict[str, Any], message: str) -> None:
    with pytest.raises(NoPlan, match=message):
        plan(stage(target), snapshot)


def test_which_stages_have_plans() -> None:
    assert {s.key for s in DEFAULT_PIPELINE.stages if has_plan(s)} == {
        "awaiting-payment", "paid", "shipped", "cancelled"}
    pickup = Stage("pickup", "Pickup", StageMatch(frozenset({"UNFULFILLED"}), custom=True))
    assert has_plan(pickup) and plan(pickup, order()) == []
    with pytest.raises(NoPlan, match="allows Saleor statuses UNFULFILLED"):
        plan(pickup, order(status="FULFILLED"))
    assert Pipeline((pickup,)).stage("pickup") == pickup
