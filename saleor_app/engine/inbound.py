"""Inbound webhooks: an outside system (an ERP, a courier, a form) says "this order" at a trigger's secret URL.

The call is checked (trigger, secret, order) and stored in the webhook inbox as a delivery of its own; the engine
then re-reads the order and fires that trigger like any other event, in the same transaction as the stage
resolution. Nothing changes for a wrong secret or an unknown order.
"""

from __future__ import annotations

import hmac
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from saleor_app.domain.errors import PermanentError, Refused
from saleor_app.domain.installations import Installation, InstallationStatus
from saleor_app.domain.ports import AutomationStore, Clock, GatewayFor, InstallationRepository, WebhookInbox
from saleor_app.domain.triggers import Trigger
from saleor_app.domain.webhooks import triage

INBOUND_PREFIX = "inbound:"  # the inbox event of an inbound call: "inbound:<trigger id>"
ORDER_NUMBER = re.compile(r"^#?(\d{1,18})$")


@dataclass(frozen=True, slots=True)
class InboundAccepted:
    trigger: Trigger
    order_id: str
    duplicate: bool


def inbound_event(trigger_id: int) -> str:
    return f"{INBOUND_PREFIX}{trigger_id}"


def inbound_trigger_id(event: str) -> int | None:
    if not event.startswith(INBOUND_PREFIX):
        return None
    try:
        return int(event[len(INBOUND_PREFIX):])
    except ValueError:
        return None


class ReceiveInbound:
    def __init__(self, store: AutomationStore, installations: InstallationRepository, gateways: GatewayFor,
                 inbox: WebhookInbox, decrypt: Callable[[str], str], clock: Clock,
                 on_stored: Callable[[], None] | None = None) -> None:
        self._store = store
        self._installations = installations
        self._gateways = gateways
        self._inbox = inbox
        self._decrypt = decrypt
        self._clock = clock
        self._on_stored = on_stored

    async def __call__(self, trigger_id: int, secret: str, order_ref: str, call_id: str | None = None
                       ) -> InboundAccepted:
        """`order_ref`: the order's Saleor id or its number; `call_id`: the caller's id for this call, so a retried
        call is one occurrence (without it, every call is a new one)."""
        async with self._store.reading() as tx:
            trigger = await tx.trigger_by_id(trigger_id)
            stored_secret = await tx.trigger_secret(trigger_id) if trigger is not None else None
        if trigger is None or trigger.event != "inbound_webhook" or stored_secret is None:
            raise Refused(404, code="unknown_trigger", message="no inbound-webhook trigger at this URL; copy the URL "
                                 "again from the trigger's settings")
        if not hmac.compare_digest(self._decrypt(stored_secret).encode(), secret.encode()):
            raise Refused(403, code="wrong_secret", message="the secret in the URL does not match this trigger's; copy "
                                 "the URL again from the trigger's settings")
        if not trigger.enabled:
            raise Refused(409, code="trigger_disabled", message=f"trigger {trigger.key} is disabled")
        installation = await self._installations.get(trigger.installation_id)
        if installation is None or installation.status is not InstallationStatus.ACTIVE:
            raise Refused(409, code="installation_inactive", message="the app is not active in this Saleor")
        order_id = await self._find_order(installation.id, installation, order_ref.strip())
        body = orjson.dumps({"order": {"id": order_id}, "inbound": {
            "trigger": trigger.key, "call": call_id or uuid.uuid4().hex}})
        stored = await self._inbox.store(triage(installation.id, inbound_event(trigger.id), body, self._clock.now()))
        if stored and self._on_stored is not None:
            self._on_stored()
        return InboundAccepted(trigger, order_id, duplicate=not stored)

    async def secret(self, trigger_id: int) -> str | None:
        """The trigger's secret, for showing its URL to the merchant (never logged)."""
        async with self._store.reading() as tx:
            stored = await tx.trigger_secret(trigger_id)
        return self._decrypt(stored) if stored is not None else None

    async def _find_order(self, installation_id: int, installation: Installation, ref: str) -> str:
        if not ref:
            raise Refused(422, code="order_missing", message='say which order: {"order": "<order id or number>"}')
        number = ORDER_NUMBER.match(ref)
        if number is None:
            if len(ref) > 255:
                raise Refused(422, code="order_invalid", message="that is neither an order number nor an order id")
            async with self._store.reading() as tx:
                if await tx.order(installation_id, ref) is not None:
                    return ref
            try:
                snapshot = await (await self._gateways(installation)).get_order(ref)
            except PermanentError:  # not an id Saleor understands
                snapshot = None
            if snapshot is None:
                raise Refused(404, code="unknown_order", message=f"Saleor has no order with id {ref!r}")
            return ref
        async with self._store.reading() as tx:
            known = await tx.order_by_number(installation_id, number.group(1))
        if known is not None:
            return known.order_id
        found = await (await self._gateways(installation)).order_id_by_number(number.group(1))
        if found is None:
            raise Refused(404, code="unknown_order", message=f"Saleor has no order number {number.group(1)}")
        return found
