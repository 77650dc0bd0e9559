"""Ingest a verified webhook: order events go to the inbox, the app's lifecycle events apply at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from saleor_app.domain.installations import Installation
from saleor_app.domain.ports import Clock, WebhookInbox
from saleor_app.domain.webhooks import APP_EVENTS, ORDER_EVENTS, triage
from saleor_app.engine.lifecycle import AppLifecycle


@dataclass(frozen=True, slots=True)
class IngestResult:
    stored: bool
    duplicate: bool
    note: str
    order_id: str | None = None


class UnexpectedEvent(ValueError):
    pass


class IngestWebhook:
    def __init__(
        self, inbox: WebhookInbox, lifecycle: AppLifecycle, clock: Clock, *, on_stored: Callable[[], None] | None = None
    ) -> None:
        self._inbox = inbox
        self._lifecycle = lifecycle
        self._clock = clock
        self._on_stored = on_stored  # wakes the worker: the first event of an order is handled without delay

    async def __call__(self, installation: Installation, event: str, body: bytes) -> IngestResult:
        delivery = triage(installation.id, event, body, self._clock.now())
        if event in APP_EVENTS:
            note = await self._lifecycle.handle(installation, event, delivery.payload)
            return IngestResult(stored=False, duplicate=False, note=note)
        if event not in ORDER_EVENTS:
            raise UnexpectedEvent(f"the app does not subscribe to {event!r}")
        is_new = await self._inbox.store(delivery)
        if is_new and self._on_stored is not None:
            self._on_stored()
        note = "stored" if is_new else "duplicate of a stored delivery"
        if delivery.parse_error:
            note += f"; flagged: {delivery.parse_error}"
        return IngestResult(stored=is_new, duplicate=not is_new, note=note, order_id=delivery.order_id)
