"""Provider events (delivered, opened, clicked, bounced; SMS and call status): the message's state, the activity
log, suppression, and the order's triggers.

Channel-neutral: a provider's webhook endpoint authenticates the call, reads the provider's payload into
`ProviderEvent`s and hands each to `ReceiveProviderEvents`. That finds the message by the provider's id (an
unknown one is acknowledged and logged: the provider must not retry it forever), moves its state forward (never
back: a late delivery report after an open changes nothing), suppresses the recipient when the event says so,
logs it on the order, and, for an event type registered in domain/events.py, stores an inbox item
`provider:<event>` for the order. The engine then re-reads the order and fires that event's triggers and event
rules like any Saleor event (order_events.py reads the items with `provider_events`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson

from saleor_app.domain.automation import Activity
from saleor_app.domain.events import OrderEvent, event_type
from saleor_app.domain.ports import AutomationStore, Clock, InboxItem, WebhookInbox
from saleor_app.domain.provider_ports import ProviderStore
from saleor_app.domain.providers import MessageState, ProviderAccount, advanced_state, channel_for_suppression
from saleor_app.domain.webhooks import triage

log = logging.getLogger(__name__)

PROVIDER_PREFIX = "provider:"  # the inbox event of a provider event: "provider:<event name>"


def provider_inbox_event(event_name: str) -> str:
    return f"{PROVIDER_PREFIX}{event_name}"


def provider_events(items: Sequence[InboxItem]) -> list[OrderEvent]:
    """Provider events among an order's deliveries: each stored one is an occurrence of its own."""
    found = []
    for item in items:
        if item.event.startswith(PROVIDER_PREFIX):
            found.append(OrderEvent(item.event[len(PROVIDER_PREFIX):], f"provider:{item.id}"))
    return found


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    provider_message_id: str
    state: MessageState  # what the report means for the message
    name: str  # short, for the message's last event: "delivered", "opened", "bounced"
    description: str  # for the activity log: "bounced (hard bounce): the mailbox does not exist"
    at: datetime
    identity: str  # the same report sent twice has the same identity (providers retry)
    trigger_event: str | None = None  # an event type of domain/events.py, or None
    suppress: str | None = None  # a reason to suppress the recipient (hard bounce, spam complaint, STOP)
    source: str = ""  # the suppression's source: "bounce", "spam_complaint", "opt_out"


class ReceiveProviderEvents:
    def __init__(self, providers: ProviderStore, store: AutomationStore, inbox: WebhookInbox, clock: Clock, *,
                 on_stored: Callable[[], None] | None = None) -> None:
        self._providers = providers
        self._store = store
        self._inbox = inbox
        self._clock = clock
        self.on_stored = on_stored  # wakes the runner; wiring sets it once the runner exists

    async def seen(self, account: ProviderAccount) -> None:
        """A call the app ignores (a record type it does not use) still shows the provider reaches it."""
        await self._providers.event_received(account.id, self._clock.now())

    async def __call__(self, account: ProviderAccount, event: ProviderEvent) -> str:
        """What was done, for the provider's response and the log."""
        now = self._clock.now()
        await self._providers.event_received(account.id, now)
        extra = {"installation_id": account.installation_id, "provider": account.key, "event": event.name}
        message = await self._providers.message_by_provider_id(account.id, event.provider_message_id)
        if message is None:
            log.info("provider event for a message the app did not send; acknowledged", extra=extra)
            return "unknown message: acknowledged"
        if message.last_event == event.name and message.last_event_at == event.at:
            return "duplicate: acknowledged"  # the provider retried a report the app had already taken
        await self._providers.record_event(message.id, advanced_state(message.state, event.state), event.name,
                                           event.at)
        notes = [f"{message.channel.value} to {message.recipient}: {event.description}"]
        if event.suppress:
            channel = channel_for_suppression(message.channel)
            if await self._providers.suppress(account.installation_id, channel, message.recipient, event.suppress,
                                              event.source or event.name, now):
                notes.append(f"{message.recipient} is suppressed from now on ({event.suppress})")
        order_id = None
        if message.order_row_id is not None:
            async with self._store.transaction() as tx:
                job = await tx.job(message.job_id) if message.job_id is not None else None
                order = await tx.order_by_row(message.order_row_id)
                order_id = order.order_id if order is not None else None
                prefix = "test message: " if message.is_test else ""
                await tx.log_many([Activity(account.installation_id, "message", prefix + note,
                                            order_row_id=message.order_row_id, job_id=message.job_id,
                                            rule_key=job.rule_key if job else None) for note in notes], now)
        if event.trigger_event and order_id is not None and not message.is_test:
            event_type(event.trigger_event)  # registered, or a bug in the connector: fail loudly
            body = orjson.dumps({"order": {"id": order_id}, "provider": {
                "event": event.trigger_event, "message": message.id, "identity": event.identity}})
            stored = await self._inbox.store(triage(account.installation_id,
                                                    provider_inbox_event(event.trigger_event), body, now))
            if stored and self.on_stored is not None:
                self.on_stored()
        return "; ".join(notes)
