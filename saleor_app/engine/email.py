"""Sending email: the one entry point every feature uses (the email rule, "send a test to me", team notices).

`EmailService.send` checks the suppression list, writes the message row (state SENDING) before the provider is
called, hands the email to the mailbox's transport and records what happened: SENT with the provider's message id,
FAILED with the provider's reason, UNKNOWN when it may have been sent. It re-raises the transport's error, so a
job's outcome follows it (engine/execute.py: retry, fail, unknown).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from saleor_app.domain.email import EmailTransport, Mailbox, OutgoingEmail, pick_mailbox
from saleor_app.domain.errors import OutcomeUnknown, PermanentError, RetryableError, SkipJob
from saleor_app.domain.jobs import JobAttempt
from saleor_app.domain.ports import Clock
from saleor_app.domain.provider_ports import ProviderStore
from saleor_app.domain.providers import Channel, MessageState, NewMessage, SenderKind, SuppressionChannel

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SentEmail:
    message_id: int  # our messages row
    provider_message_id: str
    mailbox: Mailbox

    def describe(self, to: str) -> str:
        return (f"email sent to {to} from {self.mailbox.sender.address} via {self.mailbox.account.kind} "
                f"{self.mailbox.account.key} (message {self.provider_message_id})")


class EmailService:
    def __init__(self, providers: ProviderStore, transports: Mapping[str, EmailTransport],
                 credentials: Callable[[int], Awaitable[dict[str, str]]], clock: Clock) -> None:
        self._providers = providers
        self._transports = transports
        self._credentials = credentials
        self._clock = clock

    async def mailboxes(self, installation_id: int) -> list[Mailbox]:
        accounts = {account.id: account for account in await self._providers.accounts(installation_id)
                    if account.kind in self._transports}
        return [Mailbox(sender, accounts[sender.provider_account_id])
                for sender in await self._providers.senders(installation_id, SenderKind.EMAIL)
                if sender.provider_account_id in accounts]

    async def choose(self, installation_id: int, wanted: str, provider: str | None = None) -> Mailbox:
        """A mailbox by address, or "auto" (the last one that sent, else the first connected); SkipJob if none."""
        return pick_mailbox(await self.mailboxes(installation_id), wanted, provider)

    async def send(self, installation_id: int, mailbox: Mailbox, email: OutgoingEmail, *, job: JobAttempt | None = None,
                   order_row_id: int | None = None, is_test: bool = False) -> SentEmail:
        """Send one rendered email from `mailbox` to `email.to`. SkipJob when the recipient is suppressed;
        otherwise the transport's PermanentError / RetryableError / OutcomeUnknown, after recording it."""
        suppression = await self._providers.suppressed(installation_id, SuppressionChannel.EMAIL, email.to)
        if suppression is not None:
            raise SkipJob(f"recipient suppressed: {email.to} ({suppression.reason or suppression.source})")
        transport = self._transports.get(mailbox.account.kind)
        if transport is None:
            raise PermanentError(f"provider kind {mailbox.account.kind!r} cannot send email")
        credentials = await self._credentials(mailbox.account.id)
        excerpt = f"{email.subject} — {email.text or email.html}"[:500]
        message_id = await self._providers.add_message(NewMessage(
            installation_id=installation_id, channel=Channel.EMAIL, sender=mailbox.sender.address, recipient=email.to,
            provider_account_id=mailbox.account.id, sender_id=mailbox.sender.id,
            job_id=job.job_id if job else None, attempt=job.attempt if job else None,
            order_row_id=order_row_id, is_test=is_test, excerpt=excerpt), self._clock.now())
        try:
            provider_id = await transport.send(credentials, mailbox.account.settings, email)
        except OutcomeUnknown as exc:
            await self._finish(message_id, MessageState.UNKNOWN, str(exc))
            raise
        except RetryableError as exc:
            await self._finish(message_id, MessageState.FAILED, f"not sent, will retry: {exc}")
            raise
        except PermanentError as exc:
            await self._finish(message_id, MessageState.FAILED, str(exc))
            raise
        now = self._clock.now()
        await self._providers.finish_message(message_id, MessageState.SENT, now, provider_message_id=provider_id)
        if not is_test:  # "auto" follows the mailbox of the last real send
            await self._providers.mark_sender_used(mailbox.sender.id, now)
        return SentEmail(message_id, provider_id, mailbox)

    async def _finish(self, message_id: int, state: MessageState, reason: str) -> None:
        await self._providers.finish_message(message_id, state, self._clock.now(), reason=reason)
