"""What makes the catch-up poller store a delivery: Saleor's light view of an order against the app's snapshot."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from saleor_app.domain.catchup import caught_up_body, differences, fingerprint, saleor_time
from saleor_app.domain.webhooks import CAUGHT_UP_EVENT, ORDER_EVENTS, triage

ORDER_ID = "T3JkZXI6OWQ2ZTAzMjgtM2U4Mi00ZGQ1LWI1ZjQtNzk4ZDQ2ZDQ0MGNl"


def stored_snapshot() -> dict[str, Any]:
    """What the engine stores: the full AutomationOrder view (only part of it shown), as Saleor sends it."""
    return {
        "id": ORDER_ID, "number": "22", "created": "2026-08-20T09:00:00.000000+00:00",
        "updatedAt": "2026-08-20T10:11:12.345600+00:00", "status": "PARTIALLY_FULFILLED", "chargeStatus": "FULL",
        "authorizeStatus": "FULL", "userEmail": "ashley.cook@example.com",
        "totalRefunded": {"amount": 0.0, "currency": "USD"},
        "fulfillments": [
            {"id": "RnVsZmlsbG1lbnQ6MTM=", "status": "FULFILLED", "trackingNumber": "TRACK-A-1",
             "created": "2026-08-20T10:00:00+00:00", "warehouse": {"id": "V2FyZWhvdXNlOjE=", "name": "Main"}},
            {"id": "RnVsZmlsbG1lbnQ6MTQ=", "status": "FULFILLED", "trackingNumber": "",
             "created": "2026-08-20T10:05:00+00:00", "warehouse": {"id": "V2FyZWhvdXNlOjE=", "name": "Main"}},
        ],
        "metadata": [{"key": "gift", "value": "yes"}],
        "privateMetadata": [{"key": "order-automation.stage", "value": "partially-shipped"}],
        "lines": [{"id": "T3JkZXJMaW5lOjE=", "quantity": 2}],
    }


def light(**changes: Any) -> dict[str, Any]:
    """Saleor's light view (graphql/fragments/CatchUpOrder.graphql) of the same order, with changes."""
    full = stored_snapshot()
    view = {key: copy.deepcopy(full[key]) for key in ("id", "number", "updatedAt", "status", "chargeStatus",
                                                       "totalRefunded", "metadata", "privateMetadata")}
    view["fulfillments"] = [{k: f[k] for k in ("id", "status", "trackingNumber")} for f in full["fulfillments"]]
    view.update(changes)
    return view


def test_an_order_the_app_has_never_seen_differs() -> None:
    assert differences(None, light()) == ["unknown order"]


def test_the_light_view_of_an_unchanged_order_does_not_differ_from_the_full_snapshot() -> None:
    assert differences(stored_snapshot(), light()) == []


@pytest.mark.parametrize("updated_at", [
    "2026-08-20T10:11:12.3456Z",  # the same moment in another spelling
    "2026-08-20T12:11:12.345600+02:00",
])
def test_the_same_moment_written_differently_is_no_change(updated_at: str) -> None:
    assert differences(stored_snapshot(), light(updatedAt=updated_at)) == []


def test_the_same_refund_written_as_int_or_float_is_no_change() -> None:
    assert differences(stored_snapshot(), light(totalRefunded={"amount": 0, "currency": "USD"})) == []


def test_fulfillments_in_another_order_are_no_change() -> None:
    view = light()
    view["fulfillments"].reverse()
    assert differences(stored_snapshot(), view) == []


@pytest.mark.parametrize(("changes", "expected"), [
    ({"updatedAt": "2026-08-20T10:11:12.345700+00:00"}, ["updatedAt"]),
    ({"status": "EXPIRED"}, ["status"]),  # an expiry: updatedAt stays as it was
    ({"chargeStatus": "OVERCHARGED"}, ["chargeStatus"]),
    ({"totalRefunded": {"amount": 10.5, "currency": "USD"}}, ["totalRefunded"]),
    ({"metadata": [{"key": "gift", "value": "no"}]}, ["metadata"]),
    ({"metadata": []}, ["metadata"]),
    ({"privateMetadata": [{"key": "erp.id", "value": "42"},
                          {"key": "order-automation.stage", "value": "partially-shipped"}]}, ["privateMetadata"]),
])
def test_a_change_that_matters_is_found(changes: dict[str, Any], expected: list[str]) -> None:
    assert differences(stored_snapshot(), light(**changes)) == expected


def test_a_new_tracking_number_is_found_although_updated_at_did_not_move() -> None:
    view = light()
    view["fulfillments"][1]["trackingNumber"] = "TRACK-A-2"
    assert differences(stored_snapshot(), view) == ["fulfillments"]


def test_a_new_or_cancelled_fulfillment_is_found() -> None:
    added = light()
    added["fulfillments"].append({"id": "RnVsZmlsbG1lbnQ6MTU=", "status": "FULFILLED", "trackingNumber": None})
    cancelled = light()
    cancelled["fulfillments"][0]["status"] = "CANCELED"
    assert differences(stored_snapshot(), added) == ["fulfillments"]
    assert differences(stored_snapshot(), cancelled) == ["fulfillments"]


def test_several_changes_are_all_named() -> None:
    view = light(status="FULFILLED", updatedAt="2026-08-20T11:00:00+00:00")
    view["fulfillments"][1]["trackingNumber"] = "TRACK-A-2"
    assert differences(stored_snapshot(), view) == ["updatedAt", "status", "fulfillments"]


def test_metadata_the_light_view_leaves_out_is_not_compared() -> None:
    view = light()
    del view["privateMetadata"]
    assert differences(stored_snapshot(), view) == []


def test_the_fingerprint_names_the_state_not_its_spelling() -> None:
    assert fingerprint(light()) == fingerprint(light(updatedAt="2026-08-20T10:11:12.3456Z"))
    reordered = light(metadata=[{"key": "b", "value": "2"}, {"key": "a", "value": "1"}])
    assert fingerprint(reordered) == fingerprint(light(metadata=[{"key": "a", "value": "1"},
                                                                  {"key": "b", "value": "2"}]))
    tracked = light()
    tracked["fulfillments"][1]["trackingNumber"] = "TRACK-A-2"
    assert fingerprint(tracked) != fingerprint(light())
    assert fingerprint(light(status="EXPIRED")) != fingerprint(light())


def test_the_body_is_compact_json_the_engine_reads_as_order_x_changed() -> None:
    body = caught_up_body(light())
    assert b" " not in body
    assert orjson.loads(body) == {"order": {"id": ORDER_ID, "updatedAt": "2026-08-20T10:11:12.345600+00:00"},
                                  "caughtUp": True, "fingerprint": fingerprint(light())}
    delivery = triage(7, CAUGHT_UP_EVENT, body, datetime(2026, 8, 20, tzinfo=UTC))
    assert (delivery.order_id, delivery.self_caused, delivery.parse_error) == (ORDER_ID, False, None)


def test_the_body_repeats_for_the_same_state_and_changes_with_it_or_with_a_recheck() -> None:
    moment = datetime(2026, 8, 20, 10, 30, tzinfo=UTC)
    assert caught_up_body(light()) == caught_up_body(light())  # the inbox keeps it once
    assert caught_up_body(light(status="EXPIRED")) != caught_up_body(light())
    recheck = orjson.loads(caught_up_body(light(), recheck_at=moment))
    assert recheck["recheck"] == "2026-08-20T10:30:00+00:00"
    assert caught_up_body(light(), recheck_at=moment) != caught_up_body(
        light(), recheck_at=datetime(2026, 8, 20, 10, 45, tzinfo=UTC))


def test_caught_up_is_no_event_saleor_can_send() -> None:
    assert CAUGHT_UP_EVENT not in ORDER_EVENTS


@pytest.mark.parametrize("value", [None, "", "yesterday", "2026-08-20T10:11:12", 1724148672])
def test_saleor_time_refuses_what_is_not_an_aware_iso_time(value: object) -> None:
    assert saleor_time(value) is None


def test_saleor_time_reads_saleors_format() -> None:
    assert saleor_time("2026-08-20T10:11:12.345600+00:00") == datetime(2026, 8, 20, 10, 11, 12, 345600, tzinfo=UTC)
