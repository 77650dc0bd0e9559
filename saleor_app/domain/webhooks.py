"""What the app keeps of a Saleor webhook delivery before the engine looks at it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from saleor_app.domain.errors import PermanentError

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

# What the inbox's columns hold (store/tables.py). A Saleor order id is base64 of "Order:<uuid>", about 50
# characters; a longer one, or one with a NUL (which PostgreSQL's text cannot hold), is no order of Saleor's.
MAX_ORDER_ID_LENGTH = 255
MAX_ISSUED_AT_LENGTH = 64


class DeliveryRefused(PermanentError):  # noqa: N818 - an answer, like Refused
    """A verified delivery the app cannot store (an order id no Saleor sends): 400, and it alone; the deliveries
    committed with it are stored and acknowledged."""

    def __init__(self, message: str, order_id: str | None = None) -> None:
        super().__init__(message)
        self.order_id = order_id


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
    """Read what ingest needs from a verified body; a body that does not parse is kept and flagged.
    DeliveryRefused when its order id cannot be one."""
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
            if len(order_id) > MAX_ORDER_ID_LENGTH or "\x00" in order_id:
                raise DeliveryRefused(f"the order id is not one Saleor sends (over {MAX_ORDER_ID_LENGTH} characters "
                                      "or with a NUL character)", order_id[:100])
        issued = payload.get("issuedAt")
        if isinstance(issued, str) and len(issued) <= MAX_ISSUED_AT_LENGTH and "\x00" not in issued:
            issued_at = issued  # informational: one that does not fit is left out, not a reason to lose the event
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


@dataclass(frozen=True, slots=True)
class LifecycleApp:
    """What APP_DELETED and APP_STATUS_CHANGED say about the app: `{"app": {"id": …, "isActive": …}}`."""

    id: str
    is_active: bool


def lifecycle_app(payload: dict[str, Any] | None) -> LifecycleApp | None:
    """The app a lifecycle payload names, read like `triage` reads an order: a payload of any other shape names
    none (it is acknowledged and ignored, never a 503 that Saleor would retry for days)."""
    app = (payload or {}).get("app")
    if not isinstance(app, dict) or not isinstance(app.get("id"), str):
        return None
    return LifecycleApp(id=app["id"], is_active=app.get("isActive") is True)


def is_self_caused(payload: dict[str, Any]) -> bool:
    """An event our own app caused: `issuingPrincipal.id == recipient.id` (samples README, surprise 3)."""
    principal = payload.get("issuingPrincipal")
    recipient = payload.get("recipient")
    if not isinstance(principal, dict) or not isinstance(recipient, dict):
        return False
    return principal.get("id") is not None and principal.get("id") == recipient.get("id")
