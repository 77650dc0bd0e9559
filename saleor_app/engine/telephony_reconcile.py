"""Reconciliation of SMS and calls whose outcome is unknown (a timeout or dropped connection after Twilio had the
request): ask Twilio before anyone resends.

Twilio has no idempotency keys, so a send is never repeated blindly. A while after the send (so Twilio's lists
have caught up) the app looks for it by recipient, sender and time — and, for an SMS, its text. Found: the
message gets Twilio's id, and a job still `unknown` succeeds ("reconciled"), releasing the rule after it. Not
found: it was not sent; the message is marked failed and the job retries now. A lookup that fails is tried again
next round.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from saleor_app.domain.errors import AutomationError
from saleor_app.domain.ports import AutomationStore, Clock
from saleor_app.domain.provider_ports import ProviderStore
from saleor_app.domain.providers import Channel, Message, MessageState
from saleor_app.domain.telephony import FoundSend, TelephonyProvider, credentials_of
from saleor_app.engine.recovery import decide_unknown

log = logging.getLogger(__name__)

SETTLE = timedelta(minutes=2)  # Twilio's message list may lag a moment behind a create
CLOCK_SKEW = timedelta(minutes=1)


class UnresolvedSends(Protocol):
    async def unresolved_sends(self, created_before: datetime, limit: int = 100) -> list[int]: ...


class ReconcileTelephony:
    def __init__(self, providers: ProviderStore, lookup: UnresolvedSends, provider: TelephonyProvider,
                 credentials: Callable[[int], Awaitable[dict[str, str]]], store: AutomationStore, clock: Clock, *,
                 settle: timedelta = SETTLE, wake: Callable[[], None] | None = None) -> None:
        self._providers = providers
        self._lookup = lookup
        self._provider = provider
        self._credentials = credentials
        self._store = store
        self._clock = clock
        self._settle = settle
        self._wake = wake

    async def run_once(self) -> int:
        """Resolve what can be resolved now; returns how many sends were resolved."""
        resolved = 0
        for message_id in await self._lookup.unresolved_sends(self._clock.now() - self._settle):
            message = await self._providers.message(message_id)
            if message is None or message.provider_account_id is None:
                continue
            try:
                found = await self._find(message)
            except AutomationError as exc:
                log.info("reconciliation lookup failed; next round", extra={
                    "installation_id": message.installation_id, "message_id": message.id, "reason": str(exc)})
                continue
            await self._resolve(message, found)
            resolved += 1
        if resolved and self._wake is not None:
            self._wake()
        return resolved

    async def _find(self, message: Message) -> FoundSend | None:
        assert message.provider_account_id is not None
        credentials = credentials_of(await self._credentials(message.provider_account_id))
        since = message.created_at - CLOCK_SKEW
        if message.channel is Channel.CALL:
            calls = await self._provider.find_calls(credentials, to=message.recipient, from_=message.sender,
                                                    since=since)
            return calls[-1] if calls else None
        found = await self._provider.find_messages(credentials, to=message.recipient, sender=message.sender,
                                                   since=since)
        same = [m for m in found if m.created >= since and m.body == message.excerpt
                and (message.sender.startswith("+") or m.messaging_service_sid == message.sender)]
        return min(same, key=lambda m: m.created) if same else None

    async def _resolve(self, message: Message, found: FoundSend | None) -> None:
        now = self._clock.now()
        what = "SMS" if message.channel is Channel.SMS else "call"
        if found is not None:
            await self._providers.finish_message(message.id, MessageState.SENT, now,
                                                 provider_message_id=found.provider_id,
                                                 reason=f"reconciled: Twilio has it ({found.status})")
            sent, reason = True, (f"succeeded: reconciled — Twilio has the {what} to "
                                  f"{message.recipient} ({found.provider_id}, {found.status})")
        else:
            await self._providers.finish_message(message.id, MessageState.FAILED, now,
                                                 reason="reconciled: Twilio has no such send; it did not happen")
            sent, reason = False, (f"retrying now: reconciled — Twilio has no {what} to "
                                   f"{message.recipient} since the attempt, so it was not sent")
        if message.job_id is not None:
            await decide_unknown(self._store, message.job_id, sent, reason, now)
