"""Order events that triggers and event rules listen to, read from how an order changed (pure).

Saleor's deliveries are hints, not a log: they arrive in any order, bursts are coalesced into one re-read, and
the catch-up poller finds changes no webhook reported. So events are inferred by comparing the order's previous
snapshot (None when first seen) with the new one, which gives every path the same answer and makes each event
happen once: the new snapshot is stored in the same transaction that acts on the events.

Each event carries an `identity` that tells two occurrences apart (a second parcel's tracking number is a new
`tracking_number_added`); an event rule's job is keyed by it, so nothing is planned twice for one occurrence.
Later issues register provider events (email opened, SMS reply, task completed) with `register`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from saleor_app.domain.pipeline import PRIVATE_METADATA_STAGE_KEY


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    label: str
    params: tuple[str, ...] = ()  # what a trigger or event rule may narrow it by (e.g. metadata key and value)
    from_saleor: bool = True  # inferred from order changes; False: reported by a provider or an outside system


@dataclass(frozen=True, slots=True)
class OrderEvent:
    name: str
    identity: str
    detail: Mapping[str, str] = field(default_factory=dict)

    def matches(self, params: Mapping[str, Any]) -> bool:
        """Whether a trigger's or rule's params (e.g. {"key": "gift", "value": "yes"}) select this event."""
        return all(self.detail.get(name) == str(value) for name, value in params.items() if value not in (None, ""))


_REGISTRY: dict[str, EventType] = {}


def register(event: EventType) -> EventType:
    if event.name in _REGISTRY:
        raise ValueError(f"event {event.name!r} is registered twice")
    _REGISTRY[event.name] = event
    return event


def event_type(name: str) -> EventType:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown event {name!r}; known events: {known}") from None


def event_types() -> list[EventType]:
    return sorted(_REGISTRY.values(), key=lambda event: event.name)


for _name, _label, _params in (
    ("order_created", "Order created", ()),
    ("order_confirmed", "Order confirmed", ()),
    ("order_paid", "Payment received (any charge)", ()),
    ("order_fully_paid", "Order fully paid", ()),
    ("payment_failed", "Payment failed (charge or authorization)", ()),
    ("order_fulfilled", "Order fulfilled", ()),
    ("shipment_created", "Shipment created", ()),
    ("tracking_number_added", "Tracking number added", ()),
    ("order_cancelled", "Order cancelled", ()),
    ("order_refunded", "Refund recorded", ()),
    ("order_fully_refunded", "Order fully refunded", ()),
    ("order_expired", "Order expired", ()),
    ("metadata_changed", "Metadata key changed", ("key", "value")),
):
    register(EventType(_name, _label, _params))
register(EventType("inbound_webhook", "Inbound webhook from an outside system", from_saleor=False))
for _name, _label in (  # Postmark webhooks (issue 5): engine/provider_events.py stores them for the order
    ("email_delivered", "Email delivered"),
    ("email_opened", "Email opened"),
    ("email_link_clicked", "Email link clicked"),
    ("email_bounced", "Email bounced"),
):
    register(EventType(_name, _label, from_saleor=False))
for _name, _label in (  # Twilio callbacks (issue 6): engine/telephony_callbacks.py
    ("sms_delivered", "SMS delivered"),
    ("sms_failed", "SMS failed or undelivered"),
    ("call_answered", "Call answered (completed)"),
    ("call_not_answered", "Call not answered (no answer, busy, failed)"),
):
    register(EventType(_name, _label, from_saleor=False))
# keyword: the reply's first word, upper-case
register(EventType("sms_reply", "SMS reply received", ("keyword",), from_saleor=False))
# A task closed as done (issue 7): engine/tasks.py stores it for the order; params.rule: only that rule's tasks.
register(EventType("task_completed", "Task completed", ("rule",), from_saleor=False))

PAID = frozenset({"FULL", "OVERCHARGED"})
FAILED_TRANSACTION_EVENTS = frozenset({"CHARGE_FAILURE", "AUTHORIZATION_FAILURE"})
SHIPMENT_STATUSES = frozenset({"FULFILLED", "WAITING_FOR_APPROVAL"})


def infer_events(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[OrderEvent]:
    """The events between two snapshots of one order; `previous` None means the app sees it for the first time."""
    before: Mapping[str, Any] = previous or {}
    events: list[OrderEvent] = []
    status, was = current.get("status"), before.get("status")
    if previous is None:
        events.append(OrderEvent("order_created", "created"))
    if status not in (None, "UNCONFIRMED", "DRAFT", "CANCELED", "EXPIRED") and was in (None, "UNCONFIRMED", "DRAFT"):
        events.append(OrderEvent("order_confirmed", "confirmed"))
    charged, charged_before = _amount(current, "totalCharged"), _amount(before, "totalCharged")
    if charged > charged_before:
        events.append(OrderEvent("order_paid", f"charged:{charged}", {"amount": str(charged)}))
    if current.get("chargeStatus") in PAID and before.get("chargeStatus") not in PAID:
        events.append(OrderEvent("order_fully_paid", f"fully-paid:{charged}"))
    known_failures = {event_id for event_id, _ in _failed_payments(before)}
    for event_id, kind in _failed_payments(current):
        if event_id not in known_failures:
            events.append(OrderEvent("payment_failed", f"payment-failed:{event_id}", {"type": kind}))
    for name, final in (("order_fulfilled", "FULFILLED"), ("order_cancelled", "CANCELED"),
                        ("order_expired", "EXPIRED")):
        if status == final and was != final:
            events.append(OrderEvent(name, name))
    shipments_before = _shipments(before)
    for shipment_id, tracking in _shipments(current).items():
        if shipment_id not in shipments_before:
            events.append(OrderEvent("shipment_created", f"shipment:{shipment_id}", {"fulfillment": shipment_id}))
        if tracking and tracking != shipments_before.get(shipment_id):
            events.append(OrderEvent("tracking_number_added", f"tracking:{shipment_id}:{tracking}",
                                     {"fulfillment": shipment_id, "tracking_number": tracking}))
    refunded, refunded_before = _amount(current, "totalRefunded"), _amount(before, "totalRefunded")
    if refunded > refunded_before:
        events.append(OrderEvent("order_refunded", f"refunded:{refunded}", {"amount": str(refunded)}))
        if charged <= 0:  # everything that was charged went back
            events.append(OrderEvent("order_fully_refunded", f"fully-refunded:{refunded}"))
    metadata_before = _metadata(before)
    for key, value in _metadata(current).items():
        if metadata_before.get(key) != value:
            digest = hashlib.sha256(f"{key}={value}".encode()).hexdigest()[:16]
            events.append(OrderEvent("metadata_changed", f"metadata:{digest}", {"key": key, "value": value}))
    return events


def _amount(snapshot: Mapping[str, Any], name: str) -> Decimal:
    money = snapshot.get(name)
    try:
        return Decimal(str(money.get("amount"))) if isinstance(money, Mapping) and money.get("amount") is not None \
            else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _failed_payments(snapshot: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = []
    for transaction in snapshot.get("transactions") or []:
        for event in (transaction or {}).get("events") or []:
            if isinstance(event, Mapping) and event.get("type") in FAILED_TRANSACTION_EVENTS and event.get("id"):
                found.append((str(event["id"]), str(event["type"])))
    return found


def _shipments(snapshot: Mapping[str, Any]) -> dict[str, str]:
    """Fulfillment id → tracking number, for fulfillments that are shipments (not returns or replacements)."""
    return {str(f["id"]): str(f.get("trackingNumber") or "") for f in snapshot.get("fulfillments") or []
            if isinstance(f, Mapping) and f.get("id") and f.get("status") in SHIPMENT_STATUSES}


def _metadata(snapshot: Mapping[str, Any]) -> dict[str, str]:
    """Public and private metadata by key; the app's own keys are not events (it writes them itself)."""
    items: dict[str, str] = {}
    for name in ("metadata", "privateMetadata"):
        for item in snapshot.get(name) or []:
            if isinstance(item, Mapping) and isinstance(item.get("key"), str) \
                    and not item["key"].startswith(PRIVATE_METADATA_STAGE_KEY.split(".")[0] + "."):
                items[item["key"]] = str(item.get("value") or "")
    return items
