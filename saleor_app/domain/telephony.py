"""What the engine knows about an SMS and voice provider: credentials, senders, sends and what a lookup found.

Vendor-neutral in shape (the only provider today is Twilio); the port that uses these types is
`TelephonyProvider` in domain/ports.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from saleor_app.domain.errors import PermanentError


@dataclass(frozen=True, slots=True)
class TelephonyCredentials:
    """An account SID with its auth token, or with an API key SID and secret (Twilio's recommended way)."""

    account_sid: str
    secret: str  # the auth token, or the API key's secret
    api_key_sid: str | None = None

    def __repr__(self) -> str:  # never in logs or tracebacks
        return f"TelephonyCredentials(account_sid={self.account_sid!r}, secret='***')"


def credentials_of(stored: Mapping[str, str]) -> TelephonyCredentials:
    """Twilio credentials from the stored dict: account_sid + auth_token, optionally an API key for the REST
    calls (callbacks are always signed with the auth token, so it is needed either way)."""
    if stored.get("api_key_sid") and stored.get("api_key_secret"):
        return TelephonyCredentials(stored["account_sid"], stored["api_key_secret"], stored["api_key_sid"])
    return TelephonyCredentials(stored.get("account_sid", ""), stored.get("auth_token", ""))


@dataclass(frozen=True, slots=True)
class AccountInfo:
    sid: str
    friendly_name: str
    status: str  # active, suspended, closed
    type: str  # Full, Trial


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    sid: str
    phone_number: str  # E.164
    friendly_name: str
    sms: bool
    voice: bool
    sms_url: str


@dataclass(frozen=True, slots=True)
class MessagingService:
    sid: str
    friendly_name: str


@dataclass(frozen=True, slots=True)
class Sender:
    """Who an SMS comes from: one of the account's numbers, or a messaging service (it picks the number)."""

    phone_number: str | None = None
    messaging_service_sid: str | None = None

    def __post_init__(self) -> None:
        if (self.phone_number is None) == (self.messaging_service_sid is None):
            raise ValueError("a sender is either a phone number or a messaging service")

    def __str__(self) -> str:
        return self.phone_number or f"messaging service {self.messaging_service_sid}"


@dataclass(frozen=True, slots=True)
class Receipt:
    """The provider accepted the send: its id (message or call SID) and first status."""

    provider_id: str
    status: str
    sender: str  # the number it went from ("" while a messaging service has not picked one yet)


@dataclass(frozen=True, slots=True)
class FoundSend:
    """A message or call the provider has, as a reconciliation lookup sees it."""

    provider_id: str
    to: str
    sender: str
    status: str
    created: datetime
    body: str = ""
    messaging_service_sid: str | None = None


class ProviderRefused(PermanentError):
    """The provider refused the request for good (an invalid number, a bad sender…): its code and message."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(f"Twilio refused it ({code}): {message}" if code else f"Twilio refused it: {message}")
        self.code = code
        self.provider_message = message


class RecipientOptedOut(ProviderRefused):
    """The recipient replied STOP to this sender: the provider refuses every send until they reply START."""


class CredentialsRefused(ProviderRefused):
    """The provider does not accept the account's credentials (changed token, closed account)."""


MESSAGE_PARAM = "message"  # the status callback's query parameter naming our message row


@dataclass(frozen=True, slots=True)
class TelephonyUrls:
    """Where Twilio reports to, per account, joined to the app's public API URL (never the request's Host).

    A status callback URL also names the message row it is for (`?message=<id>`): Twilio signs the whole URL, query
    included, so a callback tells exactly which send it reports even when the create's answer never arrived."""

    base_url: str

    def sms_status(self, account_id: int, message_id: int | None = None) -> str:
        return _with_message(f"{self.base_url}/api/twilio/{account_id}/sms-status", message_id)

    def call_status(self, account_id: int, message_id: int | None = None) -> str:
        return _with_message(f"{self.base_url}/api/twilio/{account_id}/call-status", message_id)

    def inbound(self, account_id: int) -> str:
        return f"{self.base_url}/api/twilio/{account_id}/inbound"


def _with_message(url: str, message_id: int | None) -> str:
    return url if message_id is None else f"{url}?{MESSAGE_PARAM}={message_id}"


def message_of(query_value: str | None) -> int | None:
    """The message id a status callback URL carries, or None (absent or not a plain positive number)."""
    if query_value is None or not query_value.isascii() or not query_value.isdigit() or len(query_value) > 18:
        return None
    value = int(query_value)
    return value or None


class TelephonyProvider(Protocol):
    """SMS and calls at one provider (Twilio: providers/twilio_api.py). Errors: RetryableError (not sent, or a
    429/5xx), ProviderRefused and its subclasses (Twilio's code and message), OutcomeUnknown (a send that may
    have happened)."""

    async def fetch_account(self, credentials: TelephonyCredentials) -> AccountInfo: ...

    async def list_numbers(self, credentials: TelephonyCredentials) -> list[PhoneNumber]: ...

    async def list_messaging_services(self, credentials: TelephonyCredentials) -> list[MessagingService]: ...

    async def set_sms_url(self, credentials: TelephonyCredentials, number_sid: str, url: str) -> None: ...

    async def send_sms(self, credentials: TelephonyCredentials, *, to: str, body: str, sender: Sender,
                       status_callback: str) -> Receipt: ...

    async def place_call(self, credentials: TelephonyCredentials, *, to: str, from_: str, twiml: str,
                         status_callback: str) -> Receipt: ...

    async def find_messages(self, credentials: TelephonyCredentials, *, to: str, sender: str | None,
                            since: datetime) -> list[FoundSend]: ...

    async def find_calls(self, credentials: TelephonyCredentials, *, to: str, from_: str,
                         since: datetime) -> list[FoundSend]: ...
