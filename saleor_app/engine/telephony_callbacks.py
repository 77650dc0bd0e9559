"""Twilio's callbacks, once their signature was checked (web/twilio_callbacks.py): message status, call status
and inbound SMS.

A status report whose URL names a send still without Twilio's id (its answer was lost) first settles exactly that send
(telephony_reconcile.credit_send). Status reports go through the neutral `ReceiveProviderEvents`: delivered → the
message is delivered and `sms_delivered` fires; failed/undelivered → `sms_failed` (error 21610 also suppresses the
number); a completed call → `call_answered`; no-answer, busy, failed, canceled → `call_not_answered`. An inbound SMS:
STOP and the other opt-out keywords suppress the number for the installation, START re-subscribes; any other text is a
reply to the latest SMS the installation sent to that number, logged on its order, and `sms_reply` fires for that order
with the reply's first word as its `keyword` (a trigger can ask for `keyword: YES`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import orjson

from saleor_app.domain.automation import Activity
from saleor_app.domain.consent import Consent, consent_of, keyword_of
from saleor_app.domain.events import OrderEvent
from saleor_app.domain.phones import normalise
from saleor_app.domain.ports import AutomationStore, Clock, InboxItem, WebhookInbox
from saleor_app.domain.provider_ports import ProviderStore
from saleor_app.domain.providers import Channel, MessageState, ProviderAccount, SuppressionChannel
from saleor_app.domain.webhooks import triage
from saleor_app.engine.provider_events import ProviderEvent, ReceiveProviderEvents
from saleor_app.engine.telephony_reconcile import Claims, credit_send

log = logging.getLogger(__name__)

REPLY_PREFIX = "sms_reply:"  # the inbox event of a reply: "sms_reply:<KEYWORD>"
OPTED_OUT = "21610"
_SMS_STATES = {"delivered": MessageState.DELIVERED, "failed": MessageState.FAILED,
               "undelivered": MessageState.FAILED, "sent": MessageState.SENT}
_NOT_ANSWERED = frozenset({"no-answer", "busy", "failed", "canceled"})


def reply_events(items: Sequence[InboxItem]) -> list[OrderEvent]:
    """SMS replies among an order's deliveries: each is an occurrence of `sms_reply` with its keyword."""
    return [OrderEvent("sms_reply", f"sms_reply:{item.id}", {"keyword": item.event[len(REPLY_PREFIX):]})
            for item in items if item.event.startswith(REPLY_PREFIX)]


class LatestMessageTo(Claims, Protocol):
    """Implemented by store/telephony.py SqlTelephonyLookup."""

    async def latest_sms_to(self, installation_id: int, recipient: str) -> int | None: ...


class ReceiveTelephonyCallbacks:
    def __init__(self, events: ReceiveProviderEvents, providers: ProviderStore, lookup: LatestMessageTo,
                 store: AutomationStore, inbox: WebhookInbox, clock: Clock, *,
                 on_stored: Callable[[], None] | None = None) -> None:
        self._events = events
        self._providers = providers
        self._lookup = lookup
        self._store = store
        self._inbox = inbox
        self._clock = clock
        self._on_stored = on_stored

    async def sms_status(self, account: ProviderAccount, params: Mapping[str, str],
                         message_id: int | None = None) -> str:
        """`message_id`: the message row the (signed) callback URL names, when it names one."""
        status = params.get("MessageStatus") or params.get("SmsStatus") or ""
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        if sid and status:  # any report of it (queued, accepted…) shows Twilio has the message
            await self._credit(account, Channel.SMS, message_id, sid, status)
        state = _SMS_STATES.get(status)
        if state is None or not sid:
            await self._providers.event_received(account.id, self._clock.now())
            return f"status {status or 'missing'}: nothing to do"
        code = params.get("ErrorCode")
        failed = state is MessageState.FAILED
        trigger = "sms_delivered" if state is MessageState.DELIVERED else "sms_failed" if failed else None
        description = f"SMS {status}" + (f" (Twilio error {code})" if code else "")
        return await self._events(account, ProviderEvent(
            sid, state, status, description, self._clock.now(), f"{sid}:{status}", trigger,
            suppress="replied STOP (Twilio 21610)" if code == OPTED_OUT else None, source="opt_out"))

    async def call_status(self, account: ProviderAccount, params: Mapping[str, str],
                          message_id: int | None = None) -> str:
        status, sid = params.get("CallStatus", ""), params.get("CallSid", "")
        if sid and status:
            await self._credit(account, Channel.CALL, message_id, sid, status)
        if status == "completed":
            state, trigger, description = MessageState.DELIVERED, "call_answered", "call answered and completed"
        elif status in _NOT_ANSWERED:
            state, trigger, description = MessageState.FAILED, "call_not_answered", f"call not answered ({status})"
        else:
            await self._providers.event_received(account.id, self._clock.now())
            return f"call {status or 'status missing'}: nothing to do"
        if params.get("CallDuration"):
            description += f", {params['CallDuration']} s"
        return await self._events(account, ProviderEvent(sid, state, status, description, self._clock.now(),
                                                         f"{sid}:{status}", trigger))

    async def _credit(self, account: ProviderAccount, channel: Channel, message_id: int | None, sid: str,
                      status: str) -> None:
        """A callback for a send whose answer was lost (no Twilio id yet) tells which record is that send's: it
        settles exactly that send and its job, before the report itself is taken by the record's id."""
        if message_id is None:
            return
        message = await self._providers.message(message_id)
        if (message is None or message.provider_account_id != account.id or message.channel is not channel
                or message.provider_message_id is not None):
            return  # another account's row, or already known: the record's own id decides below
        await credit_send(self._lookup, self._providers, self._store, message, sid, status,
                          "Twilio's status callback names this send", self._clock.now())

    async def inbound(self, account: ProviderAccount, params: Mapping[str, str]) -> str:
        now = self._clock.now()
        await self._providers.event_received(account.id, now)
        installation_id = account.installation_id
        raw, text = params.get("From", ""), params.get("Body", "")
        number = normalise(raw, None) or raw
        consent = consent_of(text)
        notes = [f"SMS reply from {number}: {text[:300]!r}"]
        if consent is Consent.OPT_OUT:
            await self._providers.suppress(installation_id, SuppressionChannel.PHONE, number, f"replied {text.strip()}",
                                           "opt_out", now)
            notes.append(f"{number} opted out: no more SMS or calls to it")
        elif consent is Consent.OPT_IN and await self._providers.unsuppress(installation_id,
                                                                             SuppressionChannel.PHONE, number):
            notes.append(f"{number} opted in again")
        message_id = await self._lookup.latest_sms_to(installation_id, number)
        message = await self._providers.message(message_id) if message_id is not None else None
        if message is None or message.order_row_id is None:
            log.info("SMS from a number the app never texted for an order",
                     extra={"installation_id": installation_id, "provider": account.key})
            return "; ".join(notes[1:]) or "no order to answer"
        async with self._store.transaction() as tx:
            order = await tx.order_by_row(message.order_row_id)
            job = await tx.job(message.job_id) if message.job_id is not None else None
            await tx.log_many([Activity(installation_id, "message", note, order_row_id=message.order_row_id,
                                        job_id=message.job_id, rule_key=job.rule_key if job else None)
                               for note in notes], now)
        if order is None or consent is not Consent.NONE:
            return "; ".join(notes)
        body = orjson.dumps({"order": {"id": order.order_id}, "reply": {
            "sid": params.get("MessageSid", ""), "message": message.id}})
        event = REPLY_PREFIX + (keyword_of(text)[:40] or "-")
        if await self._inbox.store(triage(installation_id, event, body, now)) and self._on_stored is not None:
            self._on_stored()
        return "; ".join(notes)
