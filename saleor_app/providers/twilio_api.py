"""TwilioApi: the `twilio` library run in a bounded thread pool (it is synchronous), with its errors sorted into
the app's error tree. Everything the app asks Twilio goes through here.

How an error is sorted depends on whether the request may have reached Twilio:
- not connected (refused, DNS, TLS, connect timeout): nothing happened → RetryableError;
- Twilio answered 429 or 5xx → RetryableError; any other 4xx → ProviderRefused with Twilio's code and message
  (21610 → RecipientOptedOut, 20003/401 → CredentialsRefused);
- sent, then no answer (read timeout, connection dropped): for a send, whether the message or call exists is
  not known → OutcomeUnknown (never re-sent blindly; reconciliation asks Twilio); for a lookup → RetryableError.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

from saleor_app.domain.errors import OutcomeUnknown, RetryableError
from saleor_app.domain.telephony import (
    AccountInfo,
    CredentialsRefused,
    FoundSend,
    MessagingService,
    PhoneNumber,
    ProviderRefused,
    Receipt,
    RecipientOptedOut,
    Sender,
    TelephonyCredentials,
)
from saleor_app.providers.twilio_http import RewritingHttpClient

T = TypeVar("T")

OPTED_OUT = 21610
_AUTH_CODES = frozenset({20003, 20005})


class TwilioApi:
    """Implements `TelephonyProvider`. One instance per process: it owns the HTTP session and the thread pool."""

    def __init__(self, base_url: str | None = None, *, connect_timeout: float = 5.0, read_timeout: float = 15.0,
                 max_concurrency: int = 8) -> None:
        self._http = RewritingHttpClient(base_url, connect_timeout=connect_timeout, read_timeout=read_timeout,
                                         pool_size=max_concurrency)
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="twilio")

    def _client(self, credentials: TelephonyCredentials) -> Client:
        user = credentials.api_key_sid or credentials.account_sid
        # environment={}: the library would otherwise read TWILIO_* variables (settings.py is the only reader).
        return Client(user, credentials.secret, credentials.account_sid, http_client=self._http, environment={})

    async def _run(self, call: Callable[[], T], *, sends: bool) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, call)
        except TwilioRestException as exc:
            raise _refusal(exc) from None
        except requests.RequestException as exc:
            raise _transport_error(exc, sends=sends) from None
        except TwilioException as exc:  # an answer the library could not read
            if sends:
                raise OutcomeUnknown(f"Twilio's answer could not be read ({exc}); the send may have happened") from None
            raise RetryableError(f"Twilio's answer could not be read ({exc}); try again later") from None

    async def fetch_account(self, credentials: TelephonyCredentials) -> AccountInfo:
        client = self._client(credentials)
        account = await self._run(lambda: client.api.v2010.accounts(credentials.account_sid).fetch(), sends=False)
        return AccountInfo(str(account.sid), str(account.friendly_name or ""), str(account.status or ""),
                           str(account.type or ""))

    async def list_numbers(self, credentials: TelephonyCredentials) -> list[PhoneNumber]:
        client = self._client(credentials)
        numbers = await self._run(lambda: client.incoming_phone_numbers.list(page_size=100), sends=False)
        return [PhoneNumber(str(n.sid), str(n.phone_number), str(n.friendly_name or n.phone_number),
                            bool((n.capabilities or {}).get("sms")), bool((n.capabilities or {}).get("voice")),
                            str(n.sms_url or "")) for n in numbers]

    async def list_messaging_services(self, credentials: TelephonyCredentials) -> list[MessagingService]:
        client = self._client(credentials)
        services = await self._run(lambda: client.messaging.v1.services.list(page_size=100), sends=False)
        return [MessagingService(str(s.sid), str(s.friendly_name or s.sid)) for s in services]

    async def set_sms_url(self, credentials: TelephonyCredentials, number_sid: str, url: str) -> None:
        client = self._client(credentials)
        await self._run(lambda: client.incoming_phone_numbers(number_sid).update(sms_url=url, sms_method="POST"),
                        sends=False)

    async def send_sms(self, credentials: TelephonyCredentials, *, to: str, body: str, sender: Sender,
                       status_callback: str) -> Receipt:
        client = self._client(credentials)
        origin: dict[str, Any] = ({"messaging_service_sid": sender.messaging_service_sid}
                                  if sender.messaging_service_sid else {"from_": sender.phone_number})
        message = await self._run(lambda: client.messages.create(to=to, body=body, status_callback=status_callback,
                                                                 **origin), sends=True)
        return Receipt(str(message.sid), str(message.status or ""), str(getattr(message, "from_", "") or ""))

    async def place_call(self, credentials: TelephonyCredentials, *, to: str, from_: str, twiml: str,
                         status_callback: str) -> Receipt:
        client = self._client(credentials)
        call = await self._run(lambda: client.calls.create(
            to=to, from_=from_, twiml=twiml, status_callback=status_callback, status_callback_method="POST",
            status_callback_event=["completed"]), sends=True)
        return Receipt(str(call.sid), str(call.status or ""), from_)

    async def find_messages(self, credentials: TelephonyCredentials, *, to: str, sender: str | None,
                            since: datetime) -> list[FoundSend]:
        """Outbound messages to `to` (from `sender` when it is a number) sent on or after `since`'s day, newest
        first. Twilio filters by day only: the caller compares the exact times."""
        client = self._client(credentials)
        kwargs: dict[str, Any] = {"to": to, "date_sent_after": since.astimezone(UTC).date(), "page_size": 100,
                                  "limit": 200}
        if sender and sender.startswith("+"):
            kwargs["from_"] = sender
        messages = await self._run(lambda: client.messages.list(**kwargs), sends=False)
        return [FoundSend(str(m.sid), str(m.to), str(m.from_ or ""), str(m.status or ""), _utc(m.date_created),
                          str(m.body or ""), m.messaging_service_sid) for m in messages
                if str(m.direction or "").startswith("outbound")]

    async def find_calls(self, credentials: TelephonyCredentials, *, to: str, from_: str,
                         since: datetime) -> list[FoundSend]:
        client = self._client(credentials)
        calls = await self._run(lambda: client.calls.list(to=to, from_=from_, page_size=100, limit=200),
                                sends=False)
        found = [FoundSend(str(c.sid), str(c.to), str(c._from or ""), str(c.status or ""), _utc(c.date_created))
                 for c in calls]
        return [call for call in found if call.created >= since]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()


def _utc(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.min.replace(tzinfo=UTC)


def _refusal(exc: TwilioRestException) -> Exception:
    code = int(exc.code) if isinstance(exc.code, int) else None
    message = _plain_message(exc)
    if exc.status == 429 or exc.status >= 500:
        return RetryableError(f"Twilio is busy or failing ({exc.status}{f', code {code}' if code else ''}: "
                              f"{message}); trying again later")
    if code == OPTED_OUT:
        return RecipientOptedOut(code, message)
    if exc.status == 401 or code in _AUTH_CODES:
        return CredentialsRefused(code, f"{message}. Check the account SID and auth token (or API key) and "
                                        "connect the account again")
    return ProviderRefused(code, message)


def _plain_message(exc: TwilioRestException) -> str:
    """The library prefixes Twilio's message with "Unable to create record: " and the like; keep Twilio's."""
    text = str(exc.msg or "")
    return text.split(": ", 1)[1] if text.startswith("Unable to ") and ": " in text else text


def _transport_error(exc: requests.RequestException, *, sends: bool) -> Exception:
    never_arrived = isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError) or _not_connected(exc)
    if never_arrived or not sends:
        return RetryableError(f"Twilio could not be reached ({type(exc).__name__}); trying again later")
    return OutcomeUnknown(f"the request reached Twilio but no answer came back ({type(exc).__name__}); the "
                          "message may have been sent")


def _not_connected(exc: requests.RequestException) -> bool:
    """A connection error whose cause is that no connection was made (refused, DNS): nothing was sent."""
    if not isinstance(exc, requests.ConnectionError):
        return False
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)
