"""The state of the fake Twilio: accounts, their numbers, messaging services, messages and calls, as Twilio's
REST API (2010-04-01, Messaging v1) shows them: snake_case JSON, RFC 2822 dates, string counters, SIDs with
their two-letter prefixes (AC, PN, MG, SM, CA, SK)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from tests.secret_watch import remember

API = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def rfc2822(moment: datetime | None) -> str | None:
    return None if moment is None else format_datetime(moment.astimezone(UTC))  # "Tue, 24 Nov 2026 17:30:07 +0000"


def gsm_segments(body: str) -> int:
    """What Twilio reports as num_segments (GSM-7 160/153, UCS-2 70/67)."""
    gsm = all(ord(char) < 128 for char in body)
    single, multi = (160, 153) if gsm else (70, 67)
    length = len(body) if gsm else len(body.encode("utf-16-le")) // 2
    return 1 if length <= single else -(-length // multi)


@dataclass
class FakeNumber:
    phone_number: str
    friendly_name: str
    sid: str = field(default_factory=lambda: sid("PN"))
    sms_url: str = ""
    sms_method: str = "POST"
    voice: bool = True
    sms: bool = True

    def view(self, account_sid: str) -> dict[str, Any]:
        return {
            "sid": self.sid, "account_sid": account_sid, "friendly_name": self.friendly_name,
            "phone_number": self.phone_number, "sms_url": self.sms_url, "sms_method": self.sms_method,
            "voice_url": "", "voice_method": "POST", "status": "in-use", "api_version": API,
            "capabilities": {"voice": self.voice, "sms": self.sms, "mms": self.sms, "fax": False},
            "uri": f"/{API}/Accounts/{account_sid}/IncomingPhoneNumbers/{self.sid}.json",
        }


@dataclass
class FakeService:
    friendly_name: str
    numbers: list[str]  # E.164 numbers in its sender pool
    sid: str = field(default_factory=lambda: sid("MG"))

    def view(self, account_sid: str) -> dict[str, Any]:
        return {"sid": self.sid, "account_sid": account_sid, "friendly_name": self.friendly_name,
                "url": f"https://messaging.twilio.com/v1/Services/{self.sid}", "inbound_request_url": None,
                "use_inbound_webhook_on_number": True}


@dataclass
class FakeMessage:
    account_sid: str
    to: str
    from_: str
    body: str
    created: datetime
    status_callback: str | None
    messaging_service_sid: str | None = None
    direction: str = "outbound-api"
    status: str = "queued"
    sent: datetime | None = None
    error_code: int | None = None
    sid: str = field(default_factory=lambda: sid("SM"))

    def view(self) -> dict[str, Any]:
        return {
            "sid": self.sid, "account_sid": self.account_sid, "api_version": API, "body": self.body,
            "date_created": rfc2822(self.created), "date_updated": rfc2822(self.sent or self.created),
            "date_sent": rfc2822(self.sent), "direction": self.direction, "error_code": self.error_code,
            "error_message": None, "from": self.from_, "to": self.to,
            "messaging_service_sid": self.messaging_service_sid, "num_media": "0",
            "num_segments": str(gsm_segments(self.body)), "price": None, "price_unit": "USD", "status": self.status,
            "uri": f"/{API}/Accounts/{self.account_sid}/Messages/{self.sid}.json",
            "subresource_uris": {"media": f"/{API}/Accounts/{self.account_sid}/Messages/{self.sid}/Media.json"},
        }


@dataclass
class FakeCall:
    account_sid: str
    to: str
    from_: str
    twiml: str | None
    url: str | None
    created: datetime
    status_callback: str | None
    status_callback_events: list[str]
    status: str = "queued"
    sid: str = field(default_factory=lambda: sid("CA"))

    def view(self) -> dict[str, Any]:
        return {
            "sid": self.sid, "account_sid": self.account_sid, "api_version": API, "to": self.to,
            "to_formatted": self.to, "from": self.from_, "from_formatted": self.from_, "status": self.status,
            "direction": "outbound-api", "date_created": rfc2822(self.created), "date_updated": rfc2822(self.created),
            "start_time": None, "end_time": None, "duration": None, "answered_by": None, "price": None,
            "price_unit": "USD", "parent_call_sid": None, "phone_number_sid": None,
            "uri": f"/{API}/Accounts/{self.account_sid}/Calls/{self.sid}.json",
        }


@dataclass
class FakeAccount:
    friendly_name: str = "My first Twilio account"
    trial: bool = False
    sid: str = field(default_factory=lambda: sid("AC"))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    api_keys: dict[str, str] = field(default_factory=dict)  # SK… → secret
    numbers: list[FakeNumber] = field(default_factory=list)
    services: list[FakeService] = field(default_factory=list)
    messages: list[FakeMessage] = field(default_factory=list)
    calls: list[FakeCall] = field(default_factory=list)
    unsubscribed: set[str] = field(default_factory=set)  # numbers that texted STOP to this account (21610)
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        remember(self.auth_token, "a Twilio auth token")

    def view(self) -> dict[str, Any]:
        return {
            "sid": self.sid, "owner_account_sid": self.sid, "friendly_name": self.friendly_name,
            "status": "active", "type": "Trial" if self.trial else "Full", "auth_token": self.auth_token,
            "date_created": rfc2822(self.created), "date_updated": rfc2822(self.created),
            "uri": f"/{API}/Accounts/{self.sid}.json",
            "subresource_uris": {"messages": f"/{API}/Accounts/{self.sid}/Messages.json",
                                 "calls": f"/{API}/Accounts/{self.sid}/Calls.json"},
        }

    def add_number(self, phone_number: str, friendly_name: str | None = None, *, sms: bool = True,
                   voice: bool = True) -> FakeNumber:
        number = FakeNumber(phone_number, friendly_name or phone_number, sms=sms, voice=voice)
        self.numbers.append(number)
        return number

    def add_service(self, friendly_name: str, numbers: list[str]) -> FakeService:
        service = FakeService(friendly_name, numbers)
        self.services.append(service)
        return service

    def number(self, phone_number: str) -> FakeNumber | None:
        return next((n for n in self.numbers if n.phone_number == phone_number), None)

    def service(self, service_sid: str) -> FakeService | None:
        return next((s for s in self.services if s.sid == service_sid), None)

    def message(self, message_sid: str) -> FakeMessage | None:
        return next((m for m in self.messages if m.sid == message_sid), None)

    def call(self, call_sid: str) -> FakeCall | None:
        return next((c for c in self.calls if c.sid == call_sid), None)


@dataclass(frozen=True)
class TwilioError:
    """An error answer as Twilio sends it: `{"code", "message", "more_info", "status"}`."""

    status: int
    code: int
    message: str

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}", "status": self.status}


INVALID_NUMBER = 21211
UNSUBSCRIBED = 21610
TOO_MANY_REQUESTS = TwilioError(429, 20429, "Too Many Requests")
INTERNAL_ERROR = TwilioError(500, 20500, "An internal server error has occurred")


def invalid_to(to: str) -> TwilioError:
    return TwilioError(400, INVALID_NUMBER, f"Invalid 'To' Phone Number: {to}")


def unsubscribed(to: str) -> TwilioError:
    return TwilioError(400, UNSUBSCRIBED, f"Attempt to send to unsubscribed recipient {to}")
