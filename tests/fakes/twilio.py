"""FakeTwilio: a local fake of Twilio's REST API served over real HTTP on loopback, for the real `twilio` client.

It serves the parts the app uses, shaped like Twilio's: account fetch, Messages.json (create; list filtered by
To, From and DateSent), Calls.json (create with inline TwiML or a Url; list), IncomingPhoneNumbers (list; update
of SmsUrl) and Messaging v1 Services — form-encoded bodies, HTTP basic auth (account SID + auth token, or an API
key SID + secret), JSON errors `{"code", "message", "more_info", "status"}`. Tests can inject errors (21211,
21610, 20429, 5xx), slow answers, and a dropped connection after the request was acted on. It sends the callbacks
Twilio sends — message status, call status, inbound SMS — signed with `X-Twilio-Signature` (HMAC-SHA1 over the
URL and the sorted parameters, keyed with the account's auth token).

    async with FakeTwilio() as twilio:
        account = twilio.account
        account.add_number("+15005550006")
        # point the app's TWILIO_API_BASE_URL at twilio.base_url, then:
        await twilio.report_message(account.messages[0].sid, "delivered")
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, Router

from tests.fakes.holding import AnswerHold
from tests.fakes.loopback import LoopbackServer
from tests.fakes.tcp_proxy import DroppingProxy
from tests.fakes.twilio_model import (
    API,
    E164,
    FakeAccount,
    FakeCall,
    FakeMessage,
    FakeNumber,
    TwilioError,
    invalid_to,
    unsubscribed,
)
from tests.timing import scaled

__all__ = ["FakeTwilio", "RecordedRequest", "TwilioError", "twilio_signature"]

OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN = {"START", "YES", "UNSTOP"}


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's webhook signature, written from its documented algorithm (independent of the library)."""
    payload = url + "".join(key + params[key] for key in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    form_lists: dict[str, list[str]]
    user: str | None


class FakeTwilio:
    def __init__(self, *, trial: bool = False) -> None:
        self.accounts: list[FakeAccount] = [FakeAccount(trial=trial)]
        self.requests: list[RecordedRequest] = []
        self.callbacks: list[tuple[str, dict[str, str], int]] = []  # (url, params, status the app answered)
        self.delay = 0.0  # seconds every API request waits before it is acted on (a distant Twilio's latency)
        # `answers.hold()`: requests are acted on, their answers never come in time; `answers.delay`: they come late.
        # `answers.in_flight`: requests received and not answered yet.
        self.answers = AnswerHold()
        self._failures: list[TwilioError] = []
        self._number_failures: list[TwilioError] = []
        self._server = LoopbackServer(self.answers.around(self._asgi()))
        self._proxy: DroppingProxy | None = None
        self._http = httpx.AsyncClient(timeout=scaled(30))

    @property
    def account(self) -> FakeAccount:
        return self.accounts[0]

    @property
    def base_url(self) -> str:
        """What TWILIO_API_BASE_URL points at (through the proxy, so a connection can be dropped)."""
        assert self._proxy is not None, "start the fake first"
        return self._proxy.url

    async def __aenter__(self) -> FakeTwilio:
        await self._server.start()
        self._proxy = await DroppingProxy(self._server.port).start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.answers.release()
        try:
            if self._proxy is not None:
                await self._proxy.stop()
        finally:
            try:
                await self._server.stop()
            finally:
                await self._http.aclose()

    # -- test controls -----------------------------------------------------------------------------------------

    def fail_next(self, error: TwilioError, times: int = 1) -> None:
        """The next `times` API requests are answered with `error` and change nothing."""
        self._failures.extend([error] * times)

    def fail_number_updates(self, error: TwilioError, times: int = 1) -> None:
        """The next `times` updates of a phone number (its SMS URL) are answered with `error`; reads still work."""
        self._number_failures.extend([error] * times)

    def drop_next_responses(self, times: int = 1) -> None:
        """The next `times` requests are acted on, then the connection is reset before the answer arrives."""
        assert self._proxy is not None
        self._proxy.drop_next_responses(times)

    def creates(self, resource: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith(f"/{resource}.json")]

    # -- callbacks Twilio sends --------------------------------------------------------------------------------

    async def report_message(self, message_sid: str, status: str, *, error_code: int | None = None) -> int:
        """A message status callback (sent, delivered, undelivered, failed) to the message's StatusCallback."""
        account, message = self._find_message(message_sid)
        message.status = status
        message.error_code = error_code
        assert message.status_callback, "the message was sent without a StatusCallback"
        params = {"AccountSid": account.sid, "ApiVersion": API, "From": message.from_, "To": message.to,
                  "MessageSid": message.sid, "SmsSid": message.sid, "MessageStatus": status, "SmsStatus": status}
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return await self.post_signed(message.status_callback, params, account)

    async def report_call(self, call_sid: str, status: str, *, duration: int = 0) -> int:
        """A call status callback (completed, busy, no-answer, failed…) to the call's StatusCallback."""
        account = next(a for a in self.accounts if a.call(call_sid) is not None)
        call = account.call(call_sid)
        assert call is not None and call.status_callback, "the call was made without a StatusCallback"
        call.status = status
        params = {"AccountSid": account.sid, "ApiVersion": API, "CallSid": call.sid, "CallStatus": status,
                  "Called": call.to, "Caller": call.from_, "To": call.to, "From": call.from_,
                  "Direction": "outbound-api", "CallbackSource": "call-progress-events", "SequenceNumber": "0",
                  "Timestamp": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"),
                  "CallDuration": str(duration), "Duration": str(-(-duration // 60))}
        return await self.post_signed(call.status_callback, params, account)

    async def text_in(self, from_: str, to: str, body: str, *, account: FakeAccount | None = None) -> int | None:
        """Someone texts one of the account's numbers: Twilio's opt-out handling, then the number's SmsUrl."""
        account = account or self.account
        number = account.number(to)
        assert number is not None, f"{to} is not a number of the account"
        keyword = body.strip().upper()
        if keyword in OPT_OUT:
            account.unsubscribed.add(from_)
        elif keyword in OPT_IN:
            account.unsubscribed.discard(from_)
        message = FakeMessage(account.sid, to, from_, body, datetime.now(UTC), None, direction="inbound",
                              status="received")
        account.messages.append(message)
        if not number.sms_url:
            return None
        params = {"AccountSid": account.sid, "ApiVersion": API, "MessageSid": message.sid, "SmsSid": message.sid,
                  "SmsMessageSid": message.sid, "SmsStatus": "received", "From": from_, "To": to, "Body": body,
                  "NumMedia": "0", "NumSegments": "1", "FromCountry": "US", "ToCountry": "US"}
        return await self.post_signed(number.sms_url, params, account)

    async def post_signed(self, url: str, params: dict[str, str], account: FakeAccount, *,
                          signature: str | None = None) -> int:
        headers = {"X-Twilio-Signature": signature or twilio_signature(account.auth_token, url, params),
                   "User-Agent": "TwilioProxy/1.1"}
        response = await self._http.post(url, data=params, headers=headers)
        self.callbacks.append((url, params, response.status_code))
        return response.status_code

    # -- the REST API ------------------------------------------------------------------------------------------

    def _asgi(self) -> Router:
        base = f"/{API}/Accounts/{{account}}"
        return Router([
            Route(f"/{API}/Accounts/{{account}}.json", self._account, methods=["GET"]),
            Route(f"{base}/Messages.json", self._messages, methods=["GET", "POST"]),
            Route(f"{base}/Messages/{{sid}}.json", self._message, methods=["GET"]),
            Route(f"{base}/Calls.json", self._calls, methods=["GET", "POST"]),
            Route(f"{base}/IncomingPhoneNumbers.json", self._numbers, methods=["GET"]),
            Route(f"{base}/IncomingPhoneNumbers/{{sid}}.json", self._number, methods=["POST"]),
            Route("/v1/Services", self._services, methods=["GET"]),
        ])

    async def _begin(self, request: Request) -> tuple[FakeAccount | Response, RecordedRequest]:
        pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True) if request.method == "POST" else []
        form = dict(pairs)
        lists: dict[str, list[str]] = {}
        for key, value in pairs:
            lists.setdefault(key, []).append(value)
        user, password = _basic_auth(request)
        recorded = RecordedRequest(request.method, request.url.path, dict(request.query_params), form, lists, user)
        self.requests.append(recorded)
        if self.delay:
            await asyncio.sleep(self.delay)
        account = self._authenticate(user, password)
        if account is None:
            return _error(TwilioError(401, 20003, "Authentication Error - invalid username")), recorded
        wanted = request.path_params.get("account")
        if wanted is not None and wanted != account.sid:
            return _error(TwilioError(404, 20404, f"The requested resource /{API}/Accounts/{wanted}.json was "
                                                  "not found")), recorded
        if self._failures:
            return _error(self._failures.pop(0)), recorded
        return account, recorded

    def _authenticate(self, user: str | None, password: str | None) -> FakeAccount | None:
        for account in self.accounts:
            if user == account.sid and password == account.auth_token:
                return account
            if user is not None and account.api_keys.get(user) == password:
                return account
        return None

    async def _account(self, request: Request) -> Response:
        account, _ = await self._begin(request)
        return account if isinstance(account, Response) else JSONResponse(account.view())

    async def _messages(self, request: Request) -> Response:
        account, recorded = await self._begin(request)
        form = recorded.form
        if isinstance(account, Response):
            return account
        if request.method == "GET":
            found = [m for m in reversed(account.messages) if _matches(m, request.query_params)]
            return _page(request, "messages", [m.view() for m in found])
        to, body = form.get("To", ""), form.get("Body", "")
        sender, service_sid = form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return _error(TwilioError(400, 21604, "A 'To' phone number is required."))
        if not body:
            return _error(TwilioError(400, 21602, "Message body is required."))
        if len(body) > 1600:
            return _error(TwilioError(400, 21617, "The concatenated message body exceeds the 1600 character limit."))
        if service_sid:
            service = account.service(service_sid)
            if service is None:
                return _error(TwilioError(400, 21701, f"The Messaging Service Sid {service_sid} is invalid."))
            sender = service.numbers[0] if service.numbers else ""
        elif not sender:
            return _error(TwilioError(400, 21603, "A 'From' phone number is required."))
        elif account.number(sender) is None:
            return _error(TwilioError(400, 21606, f"The From phone number {sender} is not a valid, SMS-capable "
                                                  "inbound phone number or short code for your account."))
        if not E164.match(to):
            return _error(invalid_to(to))
        if to in account.unsubscribed:
            return _error(unsubscribed(to))
        now = datetime.now(UTC)
        message = FakeMessage(account.sid, to, sender or "", body, now, form.get("StatusCallback"),
                              messaging_service_sid=service_sid, status="accepted" if service_sid else "queued")
        account.messages.append(message)
        answer = message.view()
        message.status, message.sent = "sent", now  # the carrier has it by the time anyone asks again
        return JSONResponse(answer, status_code=201)

    async def _message(self, request: Request) -> Response:
        account, _ = await self._begin(request)
        if isinstance(account, Response):
            return account
        message = account.message(request.path_params["sid"])
        if message is None:
            return _error(TwilioError(404, 20404, "The requested resource was not found"))
        return JSONResponse(message.view())

    async def _calls(self, request: Request) -> Response:
        account, recorded = await self._begin(request)
        form = recorded.form
        if isinstance(account, Response):
            return account
        if request.method == "GET":
            found = [c for c in reversed(account.calls)
                     if all(request.query_params.get(k) in (None, v) for k, v in (("To", c.to), ("From", c.from_)))]
            return _page(request, "calls", [c.view() for c in found])
        to, sender, twiml, url = form.get("To", ""), form.get("From", ""), form.get("Twiml"), form.get("Url")
        if not (twiml or url):
            return _error(TwilioError(400, 21205, "Url parameter is required."))
        if twiml:
            try:
                ET.fromstring(twiml)
            except ET.ParseError as exc:
                return _error(TwilioError(400, 12100, f"Document parse failure: {exc}"))
            if len(twiml) > 4000:
                return _error(TwilioError(400, 21220, "Invalid TwiML: the Twiml parameter exceeds 4000 characters"))
        number = account.number(sender)
        if number is None or not number.voice:
            return _error(TwilioError(400, 21210, f"The source phone number provided, {sender}, is not yet "
                                                  "verified for your account."))
        if not E164.match(to):
            return _error(invalid_to(to))
        call = FakeCall(account.sid, to, sender, twiml, url, datetime.now(UTC), form.get("StatusCallback"),
                        recorded.form_lists.get("StatusCallbackEvent", []))
        account.calls.append(call)
        return JSONResponse(call.view(), status_code=201)

    async def _numbers(self, request: Request) -> Response:
        account, _ = await self._begin(request)
        if isinstance(account, Response):
            return account
        wanted = request.query_params.get("PhoneNumber")
        found = [n.view(account.sid) for n in account.numbers if wanted in (None, n.phone_number)]
        return _page(request, "incoming_phone_numbers", found)

    async def _number(self, request: Request) -> Response:
        account, recorded = await self._begin(request)
        form = recorded.form
        if isinstance(account, Response):
            return account
        number: FakeNumber | None = next((n for n in account.numbers if n.sid == request.path_params["sid"]), None)
        if number is None:
            return _error(TwilioError(404, 20404, "The requested resource was not found"))
        if self._number_failures:
            return _error(self._number_failures.pop(0))
        if "SmsUrl" in form:
            number.sms_url = form["SmsUrl"]
        if "SmsMethod" in form:
            number.sms_method = form["SmsMethod"]
        return JSONResponse(number.view(account.sid))

    async def _services(self, request: Request) -> Response:
        account, _ = await self._begin(request)
        if isinstance(account, Response):
            return account
        views = [s.view(account.sid) for s in account.services]
        url = "https://messaging.twilio.com/v1/Services?PageSize=50&Page=0"
        return JSONResponse({"services": views, "meta": {
            "page": 0, "page_size": 50, "first_page_url": url, "previous_page_url": None, "url": url,
            "next_page_url": None, "key": "services"}})

    def _find_message(self, message_sid: str) -> tuple[FakeAccount, FakeMessage]:
        for account in self.accounts:
            message = account.message(message_sid)
            if message is not None:
                return account, message
        raise LookupError(f"no message {message_sid}")


def _basic_auth(request: Request) -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None, None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None, None
    return user, password


def _error(error: TwilioError) -> Response:
    if error.status == 503:
        return PlainTextResponse("Service Unavailable", status_code=503)
    return JSONResponse(error.body(), status_code=error.status)


def _when(value: str) -> datetime | date:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value else date.fromisoformat(value)


def _matches(message: FakeMessage, query: Any) -> bool:
    if query.get("To") not in (None, message.to) or query.get("From") not in (None, message.from_):
        return False
    sent = message.sent
    for key, compare in (("DateSent", lambda a, b: a == b), ("DateSent>", lambda a, b: a >= b),
                         ("DateSent<", lambda a, b: a <= b)):
        if query.get(key) is None:
            continue
        if sent is None:
            return False
        bound = _when(query[key])
        ours: datetime | date = sent if isinstance(bound, datetime) else sent.date()
        if not compare(ours, bound):
            return False
    return True


def _page(request: Request, key: str, items: list[dict[str, Any]]) -> Response:
    size = int(request.query_params.get("PageSize", "50"))
    page = int(request.query_params.get("Page", "0"))
    chunk = items[page * size:(page + 1) * size]
    path = request.url.path
    more = (page + 1) * size < len(items)
    return JSONResponse({
        key: chunk, "page": page, "page_size": size, "start": page * size, "end": page * size + max(len(chunk) - 1, 0),
        "uri": f"{path}?PageSize={size}&Page={page}", "first_page_uri": f"{path}?PageSize={size}&Page=0",
        "previous_page_uri": f"{path}?PageSize={size}&Page={page - 1}" if page else None,
        "next_page_uri": f"{path}?PageSize={size}&Page={page + 1}" if more else None,
    })
