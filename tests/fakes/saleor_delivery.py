"""Saleor → app webhook delivery: payload from each webhook's own subscription, signed, sent, recorded, retried.

Headers come in the order and case of ../shared/saleor/samples/webhooks/*.headers.json (except that h11 always
writes Host first, and without the port, like the capture). Like Saleor 3.23, a
delivery succeeds on 2xx, is retried (by `retry_failed`, no timers) after a network error, timeout or 5xx, and is
dropped for good on 3xx/4xx. Payloads of "deferred" events are built when sent, so they show the order as it is
then; FULFILLMENT_CREATED and app events are built when raised.
"""

from __future__ import annotations

import functools
import json
import random
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from graphql import DocumentNode, FieldNode, OperationDefinitionNode, OperationType, parse
from tests.fakes.graphql_exec import execute
from tests.fakes.saleor_model import EVENT_TYPENAMES, SCHEMA_VERSION, VERSION, App, Webhook
from tests.fakes.saleor_outcomes import Emitted
from tests.fakes.saleor_state import SaleorState
from tests.fakes.signing import SaleorSigner

_EVENT_BY_TYPENAME = {typename: event for event, typename in EVENT_TYPENAMES.items()}
# PLATFORM.md 3.6: payloads Saleor builds later, in a worker, from the order as it is by then.
DEFERRED = frozenset({
    "ORDER_CREATED", "ORDER_CONFIRMED", "ORDER_PAID", "ORDER_FULLY_PAID", "ORDER_REFUNDED", "ORDER_FULLY_REFUNDED",
    "ORDER_UPDATED", "ORDER_CANCELLED", "ORDER_EXPIRED", "ORDER_FULFILLED", "ORDER_METADATA_UPDATED",
    "FULFILLMENT_TRACKING_NUMBER_UPDATED", "DRAFT_ORDER_CREATED", "DRAFT_ORDER_UPDATED",
})
# Self-only since 3.23.5: sent to the app they are about, with no permission and even when it is inactive.
APP_EVENTS = frozenset({"APP_INSTALLED", "APP_DELETED", "APP_STATUS_CHANGED"})
MAX_ATTEMPTS = 6  # the first attempt plus 5 retries


@dataclass
class Delivery:
    """One attempt to deliver one event to one webhook, and what the app answered."""

    event_type: str
    app_id: str
    webhook_name: str
    target_url: str
    body: bytes
    headers: list[tuple[str, str]]
    attempt: int
    status: int | None
    error: str | None
    outcome: Literal["success", "retry", "failed"]

    @property
    def saleor_event(self) -> str:
        return self.event_type.lower()

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    @property
    def principal_typename(self) -> str | None:
        principal = self.payload.get("issuingPrincipal") if isinstance(self.payload, dict) else None
        return principal.get("__typename") if isinstance(principal, dict) else None


@dataclass
class PendingDelivery:
    emitted: Emitted
    app: App
    webhook: Webhook
    subject: dict[str, Any] | None  # prebuilt for events Saleor does not defer
    body: bytes | None = None  # built once; a retry resends the same bytes with a fresh signature
    attempts: int = 0


@functools.lru_cache(maxsize=64)
def _subscription(query: str) -> tuple[DocumentNode, OperationDefinitionNode]:
    document = parse(query)
    operation = next(d for d in document.definitions
                     if isinstance(d, OperationDefinitionNode) and d.operation is OperationType.SUBSCRIPTION)
    return document, operation


def subscribed_events(hook: Webhook) -> set[str]:
    """asyncEvents, or, when empty, the events named by the query's inline fragments (as Saleor derives them)."""
    if hook.async_events:
        return set(hook.async_events)
    return {event for typename, event in _EVENT_BY_TYPENAME.items() if re.search(rf"\bon\s+{typename}\b", hook.query)}


def _camel(event_type: str) -> str:
    head, *rest = event_type.lower().split("_")
    return head + "".join(part.title() for part in rest)


class WebhookDeliverer:
    def __init__(
        self,
        state: SaleorState,
        *,
        signer: Callable[[], SaleorSigner],
        api_url: Callable[[], str],
        http: Callable[[], httpx.AsyncClient],
        internal_errors: list[str],
        inline: bool = True,
    ) -> None:
        self.state = state
        self._signer = signer
        self._api_url = api_url
        self._http = http
        self._internal_errors = internal_errors
        self.inline = inline
        self.dropping = False  # an outage longer than Saleor's retries: every attempt fails for good
        self.deliveries: list[Delivery] = []
        self.queue: list[PendingDelivery] = []
        self.retry_queue: list[PendingDelivery] = []

    async def dispatch(self, events: list[Emitted]) -> None:
        """Fan events out to the webhooks subscribed now; inline: send them before returning (no broker)."""
        pending = [item for event in events for item in self._fan_out(event)]
        if not self.inline:
            self.queue.extend(pending)
            return
        for item in pending:
            await self.attempt(item)

    async def flush(self, *, shuffle: bool = False, rng: random.Random | None = None) -> list[Delivery]:
        """Send what `deliver_inline=False` queued (and whatever those deliveries cause), optionally shuffled."""
        sent: list[Delivery] = []
        while self.queue:
            batch, self.queue = self.queue, []
            if shuffle:
                (rng or random.Random()).shuffle(batch)
            for item in batch:
                delivery = await self.attempt(item)
                if delivery is not None:
                    sent.append(delivery)
        return sent

    async def retry_failed(self) -> list[Delivery]:
        """One retry round for every delivery waiting for a retry (Saleor would wait 10·2^n s in between)."""
        batch, self.retry_queue = self.retry_queue, []
        results = [await self.attempt(item) for item in batch]
        return [delivery for delivery in results if delivery is not None]

    def _fan_out(self, event: Emitted) -> list[PendingDelivery]:
        is_app_event = event.event_type in APP_EVENTS
        apps = [event.subject_app] if is_app_event and event.subject_app else self.state.live_apps()
        pending = []
        for app in apps:
            # Inactive apps get nothing (Saleor marks those deliveries FAILED without sending); order events
            # also need MANAGE_ORDERS, or they are silently not delivered (PLATFORM.md cheat sheet).
            if not is_app_event and (not app.is_active or "MANAGE_ORDERS" not in app.permissions):
                continue
            for hook in app.webhooks:
                if hook.is_active and event.event_type in subscribed_events(hook):
                    subject = None if event.event_type in DEFERRED else self._subject(event)
                    pending.append(PendingDelivery(event, app, hook, subject))
        return pending

    def _subject(self, event: Emitted) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if event.subject_app is not None:
            fields["app"] = self.state.app_view(event.subject_app)
        if event.fulfillment is not None:
            fields["fulfillment"] = self.state.fulfillment_view(event.fulfillment)
        if event.notify_customer is not None:
            fields["notifyCustomer"] = event.notify_customer
        if event.order is not None:
            fields["order"] = self.state.order_view(event.order, updated_at=event.updated_at)
        return fields

    async def _body(self, item: PendingDelivery) -> bytes | None:
        event = item.emitted
        payload = {"__typename": EVENT_TYPENAMES[event.event_type], "issuedAt": event.issued_at, "version": VERSION,
                   "issuingPrincipal": event.principal, "recipient": self.state.app_view(item.app),
                   **(item.subject if item.subject is not None else self._subject(event))}
        document, operation = _subscription(item.webhook.query)
        root_field = next((s for s in operation.selection_set.selections if isinstance(s, FieldNode)), None)
        field_name = root_field.name.value if root_field else "event"
        slug = self.state.channel.slug

        def filterable(args: dict[str, Any]) -> dict[str, Any] | None:
            channels = args.get("channels")
            return payload if not channels or slug in channels else None

        result = await execute(document, operation, {"event": payload, _camel(event.event_type): filterable})
        data = result.data or {}
        if field_name != "event" and data.get(field_name) is None:
            return None  # a filterable subscription whose channel filter excludes this order: nothing is sent
        # Root field `event`: the body is the event object itself; a filterable root field keeps `data`.
        body: dict[str, Any] = dict(data.get("event") or {}) if field_name == "event" else {"data": data}
        if result.errors:
            self._internal_errors.extend(str(error["message"]) for error in result.errors)
            body["errors"] = result.errors
        return json.dumps(body).encode()  # Python's default separators, like the captured bodies

    def _headers(self, item: PendingDelivery, body: bytes, signature: str) -> list[tuple[str, str]]:
        api_url = self._api_url()
        domain = urlsplit(api_url).netloc
        event = item.emitted.event_type.lower()
        headers = [
            ("User-Agent", f"Saleor/{SCHEMA_VERSION}"), ("Accept-Encoding", "gzip, deflate"), ("Accept", "*/*"),
            ("Connection", "keep-alive"), ("Content-Type", "application/json"), ("X-Saleor-Event", event),
            ("X-Saleor-Domain", domain), ("X-Saleor-Signature", signature), ("Saleor-Event", event),
            ("Saleor-Domain", domain), ("Saleor-Signature", signature), ("Saleor-Api-Url", api_url),
            ("traceparent", f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"),
        ]
        headers += [(key.lower(), value) for key, value in item.webhook.custom_headers.items()]
        # The captured Host carries no port although the app listened on one; apps must not build URLs from it.
        host = urlsplit(item.webhook.target_url).hostname or ""
        return [*headers, ("Content-Length", str(len(body))), ("Host", host)]

    async def attempt(self, item: PendingDelivery) -> Delivery | None:
        if item.emitted.event_type not in APP_EVENTS and (item.app.deleted or not item.app.is_active):
            return None  # deactivated or removed since: Saleor never sends it
        if item.body is None:
            item.body = await self._body(item)
            if item.body is None:
                return None
        if self.dropping:
            return self._dropped(item, item.body)
        item.attempts += 1
        signature = self._signer().sign_webhook(item.body)
        headers = self._headers(item, item.body, signature)
        status: int | None = None
        error: str | None = None
        retryable = True
        if not item.webhook.target_url.startswith(("http://", "https://")):
            error, retryable = "the fake Saleor delivers to http(s) targets only", False
        else:
            client = self._http()
            request = client.build_request("POST", item.webhook.target_url, content=item.body)
            request.headers = httpx.Headers(headers)  # exact order and case; httpx would reorder its defaults
            try:
                response = await client.send(request, follow_redirects=False)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{exc.__class__.__name__}: {exc}"
        if status is not None and 200 <= status < 300:
            outcome: Literal["success", "retry", "failed"] = "success"
        elif retryable and (status is None or status >= 500) and item.attempts < MAX_ATTEMPTS:
            outcome = "retry"
            self.retry_queue.append(item)
        else:
            outcome = "failed"
        delivery = Delivery(item.emitted.event_type, item.app.id, item.webhook.name, item.webhook.target_url,
                            item.body, headers, item.attempts, status, error, outcome)
        self.deliveries.append(delivery)
        return delivery

    def _dropped(self, item: PendingDelivery, body: bytes) -> Delivery:
        """What Saleor records once its last retry failed: the event happened, the app never got it."""
        item.attempts = MAX_ATTEMPTS
        delivery = Delivery(item.emitted.event_type, item.app.id, item.webhook.name, item.webhook.target_url, body,
                            [], item.attempts, None, "dropped: the app was unreachable through every retry", "failed")
        self.deliveries.append(delivery)
        return delivery
