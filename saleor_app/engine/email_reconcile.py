"""Reconciliation of emails whose outcome is unknown (the answer was lost after the provider had the message):
ask the provider before anyone resends.

Only providers with a searchable log of what they accepted can answer (Postmark: its outbound message search,
matched on the job id every message carries in its Metadata). A while after the send (so the log has caught up):
found — the message gets the provider's id and a job still `unknown` succeeds ("reconciled"), releasing the rule
after it; not found — it was not sent, the message is marked failed and the job retries now. A lookup that fails
is tried again next round. SMTP keeps no such log: an unknown SMTP send waits for a person (replay or leave it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from saleor_app.domain.email import EmailLookup
from saleor_app.domain.errors import AutomationError
from saleor_app.domain.ports import AutomationStore, Clock
from saleor_app.domain.provider_ports import ProviderStore
from saleor_app.domain.providers import Message, MessageState
from saleor_app.engine.recovery import decide_unknown

log = logging.getLogger(__name__)

SETTLE = timedelta(minutes=2)  # the provider's message log may lag behind an accepted send


class UnresolvedEmails(Protocol):
    async def unresolved_emails(self, created_before: datetime, limit: int = 100) -> list[int]: ...


class ReconcileEmail:
    def __init__(self, providers: ProviderStore, lookup: UnresolvedEmails, lookups: Mapping[str, EmailLookup],
                 credentials: Callable[[int], Awaitable[dict[str, str]]], store: AutomationStore, clock: Clock, *,
                 settle: timedelta = SETTLE) -> None:
        self._providers = providers
        self._lookup = lookup
        self._lookups = lookups
        self._credentials = credentials
        self._store = store
        self._clock = clock
        self._settle = settle
        self.wake: Callable[[], None] | None = None  # the runner's, set by wiring: a retried job runs at once

    async def run_once(self) -> int:
        """Resolve what can be resolved now; returns how many sends were resolved."""
        resolved = 0
        for message_id in await self._lookup.unresolved_emails(self._clock.now() - self._settle):
            message = await self._providers.message(message_id)
            if message is None or message.provider_account_id is None or message.job_id is None:
                continue
            account = await self._providers.account_by_id(message.provider_account_id)
            lookup = self._lookups.get(account.kind) if account is not None else None
            if account is None or lookup is None:
                continue  # SMTP, or the account is gone: a person decides
            try:
                found = await lookup.find_sent(await self._credentials(account.id), account.settings,
                                               to=message.recipient, job_id=message.job_id)
            except AutomationError as exc:
                log.info("email reconciliation lookup failed; next round", extra={
                    "installation_id": message.installation_id, "message_id": message.id, "reason": str(exc)})
                continue
            await self._resolve(message, account.kind, found)
            resolved += 1
        if resolved and self.wake is not None:
            self.wake()
        return resolved

    async def _resolve(self, message: Message, provider: str, found: str | None) -> None:
        assert message.job_id is not None
        now = self._clock.now()
        if found is not None:
            await self._providers.finish_message(message.id, MessageState.SENT, now, provider_message_id=found,
                                                 reason=f"reconciled: {provider} has it")
            sent, reason = True, (f"succeeded: reconciled — {provider} has the email to "
                                  f"{message.recipient} (message {found})")
        else:
            await self._providers.finish_message(message.id, MessageState.FAILED, now,
                                                 reason=f"reconciled: {provider} has no such email; it was not sent")
            sent, reason = False, (f"retrying now: reconciled — {provider} has no email to "
                                   f"{message.recipient} for this job, so it was not sent")
        await decide_unknown(self._store, message.job_id, sent, reason, now)
