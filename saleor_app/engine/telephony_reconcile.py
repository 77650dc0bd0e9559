"""Reconciliation of SMS and calls whose outcome is unknown (a timeout or dropped connection after Twilio had the
request): settle each from Twilio's own records before anyone resends — one Twilio record settles at most one send.

Each send's status callback URL names its message row (telephony.py), and Twilio signs that URL: its callback
settles exactly that send (`credit_send`, called by telephony_callbacks.py). When no callback comes, a while after
the send (so Twilio's lists have caught up) the app looks for it in Twilio's lists: records to the same recipient
from the same sender (an SMS: with the same text) created in the send's window — from its hand-over
(`handed_over`) until `WINDOW` later — that no other message has been credited with. Exactly one, and no other
open send it could equally be: it is this send's; the job succeeds ("reconciled"), releasing the rule after it.
None: it was not sent; the message is marked failed and the job retries now. Two or more, or one that two open
sends could each be: the job stays `unknown`, "ambiguous: N candidates", for a person to resolve (it is looked at
again each round: a callback or a retried rival may still settle it). A lookup that fails is tried next round.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from saleor_app.domain.errors import AutomationError
from saleor_app.domain.ports import AutomationStore, Clock
from saleor_app.domain.provider_ports import ProviderStore
from saleor_app.domain.providers import Channel, Message, MessageState
from saleor_app.domain.telephony import FoundSend, TelephonyProvider, credentials_of
from saleor_app.engine.recovery import decide_unknown, note_unknown

log = logging.getLogger(__name__)

SETTLE = timedelta(minutes=2)  # Twilio's message list may lag a moment behind a create
CLOCK_SKEW = timedelta(minutes=1)  # Twilio's clock against ours
WINDOW = timedelta(minutes=5)  # a create is acted on within the request's read timeout (seconds), with room to spare


def handed_over(message: Message) -> datetime:
    """When the send was handed to Twilio: the job's durable hand-over mark, which is written in the same commit as
    the message row, just before the provider is called (store/providers.py add_message) — so it is the row's
    creation time, also for a test send that has no job."""
    return message.created_at


def window(message: Message) -> tuple[datetime, datetime]:
    """The times a Twilio record of this send can carry."""
    start = handed_over(message)
    return start - CLOCK_SKEW, start + WINDOW + CLOCK_SKEW


class Claims(Protocol):
    async def claim(self, message_id: int, account_id: int, provider_id: str, now: datetime) -> bool: ...


class SendLedger(Claims, Protocol):
    """Which sends are open and which Twilio records are credited (store/telephony.py SqlTelephonyLookup)."""

    async def unresolved_sends(self, created_before: datetime, limit: int = 100) -> list[int]: ...

    async def claimed(self, account_id: int, provider_ids: Sequence[str]) -> set[str]: ...

    async def rivals(self, message: Message, since: datetime, until: datetime) -> int: ...


async def credit_send(ledger: Claims, providers: ProviderStore, store: AutomationStore, message: Message,
                      provider_id: str, status: str, how: str, now: datetime) -> bool:
    """Credit Twilio's record `provider_id` to `message` and, if its job's outcome was unknown, settle the job as
    sent. At most once per record: False when the message has another record or another message has this one."""
    if message.provider_account_id is None or message.provider_message_id not in (None, provider_id):
        return False
    if message.provider_message_id is None and not await ledger.claim(message.id, message.provider_account_id,
                                                                        provider_id, now):
        return False
    what = "SMS" if message.channel is Channel.SMS else "call"
    if message.state is MessageState.FAILED:  # concluded "not sent" (Twilio's list lagged) and sent again
        log.warning("Twilio reports a send the app had found it did not have", extra={
            "installation_id": message.installation_id, "message_id": message.id})
    if message.state in (MessageState.UNKNOWN, MessageState.SENDING):
        await providers.finish_message(message.id, MessageState.SENT, now, provider_message_id=provider_id,
                                       reason=f"reconciled: {how} ({status})")
    if message.job_id is not None:
        await decide_unknown(store, message.job_id, True, f"succeeded: reconciled — {how}: the {what} to "
                                                          f"{message.recipient} ({provider_id}, {status})", now)
    return True


class ReconcileTelephony:
    def __init__(self, providers: ProviderStore, ledger: SendLedger, provider: TelephonyProvider,
                 credentials: Callable[[int], Awaitable[dict[str, str]]], store: AutomationStore, clock: Clock, *,
                 settle: timedelta = SETTLE, wake: Callable[[], None] | None = None) -> None:
        self._providers = providers
        self._ledger = ledger
        self._provider = provider
        self._credentials = credentials
        self._store = store
        self._clock = clock
        self._settle = settle
        self._wake = wake

    async def run_once(self) -> int:
        """Resolve what can be resolved now; returns how many sends were resolved (ambiguous ones are not)."""
        resolved = 0
        for message_id in await self._ledger.unresolved_sends(self._clock.now() - self._settle):
            message = await self._providers.message(message_id)
            if message is None or message.provider_account_id is None:
                continue
            if message.provider_message_id is not None:  # a callback named it while its answer was lost
                resolved += int(await credit_send(self._ledger, self._providers, self._store, message,
                                                  message.provider_message_id, "callback", "Twilio reported it",
                                                  self._clock.now()))
                continue
            try:
                candidates = await self._candidates(message)
            except AutomationError as exc:
                log.info("reconciliation lookup failed; next round", extra={
                    "installation_id": message.installation_id, "message_id": message.id, "reason": str(exc)})
                continue
            resolved += await self._resolve(message, candidates)
        if resolved and self._wake is not None:
            self._wake()
        return resolved

    async def _candidates(self, message: Message) -> list[FoundSend]:
        """Twilio's records this send could be: in its window, fitting it, credited to no other message."""
        assert message.provider_account_id is not None
        credentials = credentials_of(await self._credentials(message.provider_account_id))
        since, until = window(message)
        if message.channel is Channel.CALL:
            found = await self._provider.find_calls(credentials, to=message.recipient, from_=message.sender,
                                                    since=since)
        else:
            found = [m for m in await self._provider.find_messages(credentials, to=message.recipient,
                                                                   sender=message.sender, since=since)
                     if m.body == message.excerpt
                     and (message.sender.startswith("+") or m.messaging_service_sid == message.sender)]
        fitting = [f for f in found if since <= f.created <= until and f.to == message.recipient]
        taken = await self._ledger.claimed(message.provider_account_id, [f.provider_id for f in fitting])
        return sorted((f for f in fitting if f.provider_id not in taken), key=lambda f: f.created)

    async def _resolve(self, message: Message, candidates: list[FoundSend]) -> int:
        now = self._clock.now()
        what = "SMS" if message.channel is Channel.SMS else "call"
        if not candidates:
            await self._providers.finish_message(message.id, MessageState.FAILED, now,
                                                 reason="reconciled: Twilio has no such send; it did not happen")
            if message.job_id is not None:
                await decide_unknown(self._store, message.job_id, False, (
                    f"retrying now: reconciled — Twilio has no {what} to {message.recipient} since the attempt, "
                    "so it was not sent"), now)
            return 1
        since, until = window(message)
        rivals = await self._ledger.rivals(message, since, until)
        if len(candidates) == 1 and rivals == 0:
            found = candidates[0]
            return int(await credit_send(self._ledger, self._providers, self._store, message, found.provider_id,
                                         found.status, "Twilio has it", now))
        count = len(candidates)
        ambiguous = f"ambiguous: {count} candidate{'s' if count != 1 else ''}"
        if rivals:
            ambiguous += f" for {rivals + 1} identical sends"
        ids = ", ".join(f.provider_id for f in candidates[:5])
        # Rewritten each round on purpose: it moves the send to the back of the next round's queue.
        await self._providers.finish_message(message.id, MessageState.UNKNOWN, now,
                                             reason=f"reconciliation {ambiguous} ({ids})")
        if message.job_id is not None:
            await note_unknown(self._store, message.job_id, (
                f"unknown — {ambiguous}: Twilio has {what}s to {message.recipient} ({ids}) that this send and "
                "others like it could each be, so it is not decided for you; check Twilio's logs and resolve it"),
                now)
        log.warning("reconciliation ambiguous", extra={"installation_id": message.installation_id,
                                                       "message_id": message.id, "reason": ambiguous})
        return 0
