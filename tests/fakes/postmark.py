"""FakePostmark: a local fake of Postmark's API over real HTTP on loopback, for the real `postmarker` client.

It serves what the app uses, shaped like Postmark's: GET /server, POST /email, GET /senders (account token),
and the webhooks API (GET/POST /webhooks, PUT/DELETE /webhooks/{id}); `X-Postmark-Server-Token` /
`X-Postmark-Account-Token` headers; errors as `{"ErrorCode", "Message"}` with Postmark's statuses (401 bad token,
422 for 300 invalid request / 406 inactive recipient / 400 unknown sender, 429, 500). Tests can queue errors,
answers held until the client gives up, and a dropped connection after Postmark accepted the email (DroppingProxy).
It answers the outbound message search (`GET /messages/outbound`, filtered by recipient) that reconciliation asks. It posts the
webhooks Postmark posts (Delivery, Bounce, SpamComplaint, Open, Click) to the registered URL with the registered
basic-auth credentials.

    async with FakePostmark() as postmark:
        server = postmark.add_server("Shop", signatures=["shop@example.com"])
        # point POSTMARK_API_BASE_URL at postmark.base_url, connect with server.token, then:
        await postmark.post_event("Open", postmark.emails[0]["MessageID"])
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from tests.fakes.holding import AnswerHold
from tests.fakes.loopback import LoopbackServer
from tests.fakes.tcp_proxy import DroppingProxy
from tests.secret_watch import remember
from tests.timing import HTTP_TIMEOUT

_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[a-z]{2,}$", re.IGNORECASE)
_IDS = itertools.count(1000)


@dataclass
class FakeServer:
    token: str
    name: str
    id: int
    account_token: str
    signatures: list[dict[str, Any]] = field(default_factory=list)
    inactive: set[str] = field(default_factory=set)  # recipients Postmark deactivated (406)
    webhooks: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Failure:
    status: int
    error_code: int
    message: str


class FakePostmark:
    def __init__(self) -> None:
        self.servers: dict[str, FakeServer] = {}
        self.emails: list[dict[str, Any]] = []  # accepted emails, with "MessageID" and "ServerToken"
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self._failures: list[Failure] = []
        # `answers.hold()`: emails are accepted, their answers never come in time; `answers.delay`: they come late.
        # `answers.in_flight`: requests received and not answered yet.
        self.answers = AnswerHold()
        self._server = LoopbackServer(self.answers.counted(Router(routes=[
            Route("/server", self._get_server, methods=["GET"]),
            Route("/email", self._send, methods=["POST"]),
            Route("/senders", self._senders, methods=["GET"]),
            Route("/messages/outbound", self._outbound, methods=["GET"]),
            Route("/webhooks", self._webhooks, methods=["GET", "POST"]),
            Route("/webhooks/{id:int}", self._webhook, methods=["PUT", "DELETE"]),
        ])))
        self.proxy: DroppingProxy | None = None

    @property
    def base_url(self) -> str:
        """Through the dropping proxy: `drop_next()` makes an accepted email's answer never arrive."""
        assert self.proxy is not None
        return self.proxy.url + "/"

    def add_server(self, name: str = "Shop", signatures: list[str] | None = None, *,
                   unconfirmed: list[str] | None = None) -> FakeServer:
        server = FakeServer(uuid.uuid4().hex, name, next(_IDS), uuid.uuid4().hex)
        remember(server.token, "a Postmark server token")
        remember(server.account_token, "a Postmark account token")
        for address, confirmed in [(a, True) for a in signatures or []] + [(a, False) for a in unconfirmed or []]:
            server.signatures.append({"ID": next(_IDS), "EmailAddress": address, "Name": name, "Confirmed": confirmed,
                                      "Domain": address.split("@")[1]})
        self.servers[server.token] = server
        return server

    def fail_next(self, status: int, error_code: int, message: str, times: int = 1) -> None:
        """The next `times` requests answer this error (Postmark did not act on them)."""
        self._failures += [Failure(status, error_code, message)] * times

    def drop_next(self) -> None:
        """Accept the next email, then reset the connection before the answer arrives."""
        assert self.proxy is not None
        self.proxy.drop_next_responses(1)

    async def post_event(self, record_type: str, message_id: str, **fields: Any) -> httpx.Response:
        """Post the webhook Postmark would post for this message, to the webhook registered on its server."""
        email = next(e for e in self.emails if e["MessageID"] == message_id)
        server = self.servers[email["ServerToken"]]
        stream = email.get("MessageStream") or "outbound"
        hook = next(h for h in server.webhooks.values() if h["MessageStream"] == stream)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
        recipient = email["To"]
        payload: dict[str, Any] = {"RecordType": record_type, "MessageID": message_id, "ServerID": server.id,
                                   "MessageStream": stream, "Metadata": email.get("Metadata") or {}, "Tag": ""}
        if record_type == "Delivery":
            payload |= {"Recipient": recipient, "DeliveredAt": now, "Details": "Test delivery webhook details"}
        elif record_type in ("Open", "Click"):
            payload |= {"Recipient": recipient, "ReceivedAt": now, "FirstOpen": True, "Platform": "WebMail",
                        "OriginalLink": "https://example.com/track", "ClickLocation": "HTML"}
        elif record_type == "Bounce":
            payload |= {"ID": next(_IDS), "Type": "HardBounce", "TypeCode": 1, "Name": "Hard bounce",
                        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox "
                                       "not found).", "Email": recipient, "BouncedAt": now, "Inactive": True}
            server.inactive.add(recipient.lower())
        elif record_type == "SpamComplaint":
            payload |= {"ID": next(_IDS), "Type": "SpamComplaint", "TypeCode": 512, "Email": recipient,
                        "BouncedAt": now, "Inactive": True}
            server.inactive.add(recipient.lower())
        payload |= fields
        auth = hook.get("HttpAuth") or {}
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            return await client.post(hook["Url"], json=payload,
                                     auth=(auth["Username"], auth["Password"]) if auth else None)

    # the API

    def _server_of(self, request: Request) -> FakeServer | Response:
        server = self.servers.get(request.headers.get("X-Postmark-Server-Token", ""))
        if server is None:
            return _error(401, 10, "The Server Token you provided in the X-Postmark-Server-Token request header was "
                                   "invalid. Please verify that you are using a valid token.")
        return server

    def _queued(self, request: Request) -> Response | None:
        self.requests.append((request.method, request.url.path))
        if self._failures:
            failure = self._failures.pop(0)
            return _error(failure.status, failure.error_code, failure.message)
        return None

    async def _get_server(self, request: Request) -> Response:
        server = self._queued(request) or self._server_of(request)
        if isinstance(server, Response):
            return server
        return JSONResponse({"ID": server.id, "Name": server.name, "ApiTokens": [server.token], "Color": "blue",
                             "SmtpApiActivated": True, "DeliveryType": "Live"})

    async def _send(self, request: Request) -> Response:
        server = self._queued(request) or self._server_of(request)
        if isinstance(server, Response):
            return server
        body = await request.json()
        sender = re.sub(r"^.*<(.+)>$", r"\1", str(body.get("From") or "")).strip().lower()
        to = str(body.get("To") or "")
        if not sender:
            return _error(422, 300, "Invalid email request: 'From' is required")
        if server.signatures and sender not in {s["EmailAddress"] for s in server.signatures if s["Confirmed"]}:
            return _error(422, 400, f"The 'From' address you supplied ({sender}) is not a Sender Signature on your "
                                    "account. Please add and confirm this address in order to be able to use it in "
                                    "the 'From' field of your messages.")
        if not _ADDRESS.match(to):
            return _error(422, 300, f"Error parsing 'To': Illegal email address '{to}'. It must contain the '@' "
                                    "symbol.")
        if not body.get("HtmlBody") and not body.get("TextBody"):
            return _error(422, 300, "Provide either email TextBody or HtmlBody or both.")
        if to.lower() in server.inactive:
            return _error(422, 406, "You tried to send to recipient(s) that have been marked as inactive. Found "
                                    "inactive addresses: " + to + ". Inactive recipients are ones that have "
                                    "generated a hard bounce, a spam complaint, or a manual suppression.")
        message_id = str(uuid.uuid4())
        self.emails.append({**body, "MessageID": message_id, "ServerToken": server.token})
        await self.answers.wait()
        return JSONResponse({"To": to, "SubmittedAt": datetime.now(UTC).isoformat(), "MessageID": message_id,
                             "ErrorCode": 0, "Message": "OK"})

    async def _outbound(self, request: Request) -> Response:
        """Outbound message search: `count` and `offset` required, `recipient` filters; newest first."""
        server = self._queued(request) or self._server_of(request)
        if isinstance(server, Response):
            return server
        try:
            count, offset = int(request.query_params["count"]), int(request.query_params["offset"])
        except (KeyError, ValueError):
            return _error(422, 1101, "The 'count' and 'offset' query parameters are required.")
        recipient = request.query_params.get("recipient", "").lower()
        found = [e for e in reversed(self.emails) if e["ServerToken"] == server.token
                 and (not recipient or e["To"].lower() == recipient)]
        return JSONResponse({"TotalCount": len(found), "Messages": [
            {"MessageID": e["MessageID"], "To": [{"Email": e["To"], "Name": None}], "Recipients": [e["To"]],
             "From": e["From"], "Subject": e.get("Subject"), "Status": "Sent", "Metadata": e.get("Metadata") or {},
             "MessageStream": e.get("MessageStream") or "outbound"} for e in found[offset:offset + count]]})

    async def _senders(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        token = request.headers.get("X-Postmark-Account-Token", "")
        server = next((s for s in self.servers.values() if s.account_token == token), None)
        if server is None:
            return _error(401, 10, "The Account Token you provided in the X-Postmark-Account-Token request header "
                                   "was invalid.")
        return JSONResponse({"TotalCount": len(server.signatures), "SenderSignatures": server.signatures})

    async def _webhooks(self, request: Request) -> Response:
        server = self._queued(request) or self._server_of(request)
        if isinstance(server, Response):
            return server
        if request.method == "GET":
            stream = request.query_params.get("MessageStream")
            hooks = [h for h in server.webhooks.values() if stream is None or h["MessageStream"] == stream]
            return JSONResponse({"Webhooks": hooks})
        body = await request.json()
        if not str(body.get("Url") or "").startswith(("http://", "https://")):
            return _error(422, 1200, "Url is required and must be an http(s) URL.")
        hook = {**body, "ID": next(_IDS), "MessageStream": body.get("MessageStream") or "outbound"}
        server.webhooks[hook["ID"]] = hook
        return JSONResponse(hook)

    async def _webhook(self, request: Request) -> Response:
        server = self._queued(request) or self._server_of(request)
        if isinstance(server, Response):
            return server
        hook_id = request.path_params["id"]
        if hook_id not in server.webhooks:
            return _error(422, 1201, f"Webhook {hook_id} was not found.")
        if request.method == "DELETE":
            del server.webhooks[hook_id]
            return JSONResponse({"ErrorCode": 0, "Message": f"Webhook {hook_id} removed."})
        server.webhooks[hook_id] = {**server.webhooks[hook_id], **(await request.json()), "ID": hook_id}
        return JSONResponse(server.webhooks[hook_id])

    async def __aenter__(self) -> FakePostmark:
        await self._server.start()
        self.proxy = await DroppingProxy(self._server.port).start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.answers.release()
        try:
            if self.proxy is not None:
                await self.proxy.stop()
        finally:
            await self._server.stop()


def _error(status: int, code: int, message: str) -> Response:
    return JSONResponse({"ErrorCode": code, "Message": message}, status_code=status)
