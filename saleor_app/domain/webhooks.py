"""What the app keeps of a Saleor webhook delivery before the engine looks at it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

# Saleor's lowercase `Saleor-Event` values the app subscribes to, per webhook.
ORDER_EVENTS = frozenset(
    {
        "order_created",
        "order_confirmed",
        "order_updated",
        "order_paid",
        "order_fully_paid",
        "order_refunded",
        "order_fully_refunded",
        "order_fulfilled",
        "order_cancelled",
        "order_expired",
        "order_metadata_updated",
        "fulfillment_created",
        "fulfillment_tracking_number_updated",
    }
)
APP_EVENTS = frozenset({"app_deleted", "app_status_changed"})
# Not a Saleor event: the catch-up poller stores one when it finds an order changed that no webhook reported.
# It is not in ORDER_EVENTS, so a webhook claiming it is refused.
CAUGHT_UP_EVENT = "caught_up"


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """A verified delivery, triaged: the raw body is kept whole, the rest is read from it."""

    installation_id: int
    event: str
    body: bytes
    body_sha256: str
    received_at: datetime
    order_id: str | None
    issued_at: str | None
    self_caused: bool
    parse_error: str | None
    payload: dict[str, Any] | None


def triage(installation_id: int, event: str, body: bytes, received_at: datetime) -> WebhookDelivery:
    """Read what ingest needs from a verified body; a body that does not parse is kept and flagged."""
    digest = hashlib.sha256(body).hexdigest()
    payload: dict[str, Any] | None = None
    parse_error: str | None = None
    try:
        parsed = orjson.loads(body)
        if isinstance(parsed, dict):
            payload = parsed
        else:
            parse_error = f"payload is a JSON {type(parsed).__name__}, expected an object"
    except orjson.JSONDecodeError as exc:
        parse_error = f"payload is not valid JSON: {exc}"
    order_id = issued_at = None
    self_caused = False
    if payload is not None:
        order = payload.get("order")
        if isinstance(order, dict) and isinstance(order.get("id"), str):
            order_id = order["id"]
        if isinstance(payload.get("issuedAt"), str):
            issued_at = payload["issuedAt"]
        self_caused = is_self_caused(payload)
    return WebhookDelivery(
        installation_id=installation_id,
        event=event,
        body=body,
        body_sha256=digest,
        received_at=received_at,
        order_id=order_id,
        issued_at=issued_at,
        self_caused=self_caused,
        parse_error=parse_error,
        payload=payload,
    )


def is_self_caused(payload: dict[str, Any]) -> bool:
    """An event our own app caused: `issuingPrincipal.id == recipient.id` (samples README, surprise 3)."""
    principal = payload.get("issuingPrincipal")
    recipient = payload.get("recipient")
    if not isinstance(principal, dict) or not isinstance(recipient, dict):
        return False
    return principal.get("id") is not None and principal.get("id") == recipient.get("id")
