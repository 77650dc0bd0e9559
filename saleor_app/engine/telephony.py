"""Sending SMS and placing calls: the one entry point every feature uses (the SMS and call rules, "send a test
to me", team notices by SMS).

`TelephonyService.line` picks the account and sender (auto: the first connected Twilio account, its first number
or messaging service); `send_sms` and `place_call` check the phone suppression list first (skipped: "recipient
opted out"), write the message row (SENDING) before the provider is called — its status callback URL carries the
row's id, so Twilio's callback settles exactly this send — and record what happened: SENT with
the provider's id, FAILED with its reason, UNKNOWN when it may have happened. Twilio's 21610 (the recipient
texted STOP to that sender) suppresses the number and skips. The provider's error is re-raised otherwise, so a
job follows it (engine/execute.py: retry, fail, unknown).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from saleor_app.domain.errors import OutcomeUnknown, PermanentError, RetryableError, SkipJob
from saleor_app.domain.jobs import JobAttempt
from saleor_app.domain.ports import Clock
from saleor_app.domain.provider_ports import ProviderStore
from saleor_app.domain.providers import (
    Channel,
    MessageState,
    NewMessage,
    ProviderAccount,
    ProviderStatus,
    Sender,
    SenderKind,
    SuppressionChannel,
)
from saleor_app.domain.telephony import (
    Receipt,
    RecipientOptedOut,
    TelephonyCredentials,
    TelephonyProvider,
    TelephonyUrls,
    credentials_of,
)
from saleor_app.domain.telephony import Sender as ProviderSender

KIND = "twilio"
AUTO = "auto"


@dataclass(frozen=True, slots=True)
class Line:
    """An account and the sender to use on it."""

    account: ProviderAccount
    sender: Sender

    def provider_sender(self) -> ProviderSender:
        if self.sender.kind is SenderKind.MESSAGING_SERVICE:
            return ProviderSender(messaging_service_sid=self.sender.address)
        return ProviderSender(phone_number=self.sender.address)


@dataclass(frozen=True, slots=True)
class Sent:
    message_id: int  # our messages row
    receipt: Receipt
    line: Line

    def describe(self, what: str, to: str) -> str:
        via = self.receipt.sender or self.line.sender.address
        return f"{what} to {to} from {via} via Twilio {self.line.account.key} ({self.receipt.provider_id})"


class TelephonyService:
    def __init__(self, providers: ProviderStore, provider: TelephonyProvider,
                 credentials: Callable[[int], Awaitable[dict[str, str]]], urls: TelephonyUrls, clock: Clock) -> None:
        self._providers = providers
        self._provider = provider
        self._credentials = credentials
        self._urls = urls
        self._clock = clock

    async def connected_accounts(self, installation_id: int) -> list[ProviderAccount]:
        return [a for a in await self._providers.accounts(installation_id, KIND)
                if a.status is ProviderStatus.CONNECTED]

    async def line(self, installation_id: int, channel: Channel, account_key: str = AUTO,
                   sender: str = AUTO) -> Line:
        """The account and sender for a send; SkipJob saying what to connect or pick when there is none."""
        accounts = await self._providers.accounts(installation_id, KIND)
        if account_key != AUTO:
            accounts = [a for a in accounts if a.key == account_key]
            if not accounts:
                raise SkipJob(f"Twilio account {account_key!r} does not exist (any more): pick another in the rule")
        connected = [a for a in accounts if a.status is ProviderStatus.CONNECTED]
        if not connected:
            what = "SMS" if channel is Channel.SMS else "telephony"
            detail = f" ({accounts[0].status.value}: {accounts[0].status_message})" if accounts else ""
            raise SkipJob(f"{what} provider not connected{detail}: connect a Twilio account under Providers")
        senders = [s for s in await self._providers.senders(installation_id, connected_only=True)
                   if s.kind in (SenderKind.PHONE, SenderKind.MESSAGING_SERVICE)]
        for account in connected:
            own = [s for s in senders if s.provider_account_id == account.id]
            if channel is Channel.CALL:
                own = [s for s in own if s.kind is SenderKind.PHONE]
            if sender != AUTO:
                own = [s for s in own if s.address == sender or s.external_id == sender]
            own.sort(key=lambda s: (s.kind is not SenderKind.PHONE, s.id))
            if own:
                return Line(account, own[0])
        if sender != AUTO:
            raise SkipJob(f"sender {sender} is not an enabled number or messaging service of a connected Twilio "
                          "account: pick another in the rule")
        raise SkipJob("the connected Twilio account has no phone number" +
                      (" that can call" if channel is Channel.CALL else " or messaging service") + " enabled")

    async def send_sms(self, installation_id: int, line: Line, to: str, text: str, *, job: JobAttempt | None = None,
                       order_row_id: int | None = None, is_test: bool = False) -> Sent:
        """Text `to` (E.164). SkipJob when the number opted out; the provider's errors after recording them."""
        return await self._send(installation_id, line, Channel.SMS, to, text, job, order_row_id, is_test,
                                lambda credentials, message_id: self._provider.send_sms(
                                    credentials, to=to, body=text, sender=line.provider_sender(),
                                    status_callback=self._urls.sms_status(line.account.id, message_id)))

    async def place_call(self, installation_id: int, line: Line, to: str, twiml: str, *, excerpt: str,
                         job: JobAttempt | None = None, order_row_id: int | None = None, is_test: bool = False) -> Sent:
        """Call `to` (E.164) from the line's number and run `twiml`; errors as for `send_sms`."""
        return await self._send(installation_id, line, Channel.CALL, to, excerpt, job, order_row_id, is_test,
                                lambda credentials, message_id: self._provider.place_call(
                                    credentials, to=to, from_=line.sender.address, twiml=twiml,
                                    status_callback=self._urls.call_status(line.account.id, message_id)))

    async def _send(self, installation_id: int, line: Line, channel: Channel, to: str, excerpt: str,
                    job: JobAttempt | None, order_row_id: int | None, is_test: bool,
                    call: Callable[[TelephonyCredentials, int], Awaitable[Receipt]]) -> Sent:
        suppression = await self._providers.suppressed(installation_id, SuppressionChannel.PHONE, to)
        if suppression is not None:
            raise SkipJob(f"recipient opted out: {to} ({suppression.reason or suppression.source})")
        credentials = credentials_of(await self._credentials(line.account.id))
        message_id = await self._providers.add_message(NewMessage(
            installation_id=installation_id, channel=channel, sender=line.sender.address, recipient=to,
            provider_account_id=line.account.id, sender_id=line.sender.id,
            job_id=job.job_id if job else None, attempt=job.attempt if job else None,
            order_row_id=order_row_id, is_test=is_test, excerpt=excerpt[:500]), self._clock.now())
        try:
            receipt = await call(credentials, message_id)  # its callbacks name this row: see telephony_reconcile
        except RecipientOptedOut as exc:
            await self._finish(message_id, MessageState.FAILED, str(exc))
            await self._providers.suppress(installation_id, SuppressionChannel.PHONE, to,
                                           "replied STOP (Twilio 21610)", "opt_out", self._clock.now())
            raise SkipJob(f"recipient opted out: {to} (Twilio 21610); suppressed from now on") from exc
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
        await self._providers.finish_message(message_id, MessageState.SENT, now,
                                             provider_message_id=receipt.provider_id)
        if not is_test:
            await self._providers.mark_sender_used(line.sender.id, now)
        return Sent(message_id, receipt, line)

    async def _finish(self, message_id: int, state: MessageState, reason: str) -> None:
        await self._providers.finish_message(message_id, state, self._clock.now(), reason=reason)
