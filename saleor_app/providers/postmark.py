"""Postmark: connector (check a server token, list mailboxes, register the app's webhook) and email transport.

Through `postmarker`, Postmark's Python client, which is synchronous (requests): every call runs in a bounded
thread pool so a slow Postmark never blocks the event loop and never takes more than `threads` threads.

Each call uses a fresh client (a fresh connection). A pooled keep-alive connection that the server closed in the
meantime fails like a connection dropped after the request was sent, and for a send that must mean "unknown"
(Postmark has no idempotency key, so a blind resend could send twice): a new connection per call keeps
"dropped" meaning "dropped". The price is a connection set-up per email.

What a failure means (PermanentError / RetryableError / OutcomeUnknown, domain/email.py EmailTransport):
a JSON error answer (4xx: 300 invalid request, 406 inactive recipient, 422…) is refused with Postmark's own
message; 429 and 5xx are retried (Postmark did not take the message); a connection that could not be opened is
retried; a read timeout or a connection dropped after the request was written is OutcomeUnknown.

Mailboxes are the server's confirmed sender signatures (needs the account token: Postmark lists signatures per
account) and/or the addresses the merchant lists in `settings.mailboxes`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import requests
from postmarker.core import PostmarkClient
from postmarker.exceptions import ClientError
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from saleor_app.domain.email import OutgoingEmail
from saleor_app.domain.errors import OutcomeUnknown, PermanentError, RetryableError
from saleor_app.domain.provider_ports import CallbackTarget, Credentials
from saleor_app.domain.providers import SenderInfo, SenderKind, normalise_email

T = TypeVar("T")
DEFAULT_STREAM = "outbound"
_CREDENTIALS = frozenset({"server_token", "account_token"})
_SETTINGS = frozenset({"message_stream", "mailboxes"})


class PostmarkProvider:
    """The ProviderConnector, EmailTransport and EmailLookup of kind "postmark"."""

    kind = "postmark"
    label = "Postmark"
    secret_fields: tuple[str, ...] = ("server_token", "account_token")
    credential_bound: tuple[str, ...] = ()  # always Postmark's own API

    def __init__(self, *, base_url: str, timeout: float, threads: int) -> None:
        self._base_url = base_url.rstrip("/") + "/"
        self._timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="postmark")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # connector

    def validate(self, credentials: Credentials, settings: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(credentials) - _CREDENTIALS
        if unknown:
            raise ValueError(f"unknown credential {', '.join(sorted(unknown))}; Postmark takes server_token "
                             "(Server → API Tokens) and optionally account_token (to list sender signatures)")
        if not (credentials.get("server_token") or "").strip():
            raise ValueError("server_token is required (Postmark: your server → API Tokens)")
        unknown = set(settings) - _SETTINGS
        if unknown:
            raise ValueError(f"unknown setting {', '.join(sorted(unknown))}; Postmark takes message_stream and "
                             "mailboxes")
        stream = str(settings.get("message_stream") or DEFAULT_STREAM)
        mailboxes = []
        for item in settings.get("mailboxes") or []:
            entry = {"address": item} if isinstance(item, str) else item
            if not isinstance(entry, Mapping) or normalise_email(str(entry.get("address", ""))) is None:
                raise ValueError(f"mailboxes: {item!r} is not an email address (write {{address, name}})")
            mailboxes.append({"address": normalise_email(str(entry["address"])), "name": str(entry.get("name", ""))})
        return {"message_stream": stream, "mailboxes": mailboxes}

    async def check(self, credentials: Credentials, settings: Mapping[str, Any]) -> str:  # noqa: ARG002
        server = await self._call(credentials, lambda client: client.call("GET", "/server"), sending=False)
        return f"Postmark server {server.get('Name', '?')!r} (id {server.get('ID', '?')})"

    async def senders(self, credentials: Credentials, settings: Mapping[str, Any]) -> list[SenderInfo]:
        found: dict[str, SenderInfo] = {}
        if credentials.get("account_token"):
            answer = await self._call(credentials, lambda client: client.call(
                "GET", "/senders", token_type="account", count=500, offset=0), sending=False)
            for signature in answer.get("SenderSignatures") or []:
                address = normalise_email(str(signature.get("EmailAddress") or ""))
                if address:
                    found[address] = SenderInfo(SenderKind.EMAIL, address, str(signature.get("Name") or ""),
                                                str(signature.get("ID")), usable=bool(signature.get("Confirmed")))
        for mailbox in settings.get("mailboxes") or []:
            found.setdefault(mailbox["address"], SenderInfo(SenderKind.EMAIL, mailbox["address"], mailbox["name"]))
        if not found:
            raise PermanentError("no mailbox: list your from addresses in settings.mailboxes, or give an "
                                 "account_token so the app can read your confirmed sender signatures")
        return list(found.values())

    async def register_callbacks(self, credentials: Credentials, settings: Mapping[str, Any],
                                 target: CallbackTarget, registered: Mapping[str, Any]) -> dict[str, Any]:
        stream = str(settings.get("message_stream") or DEFAULT_STREAM)
        body = {"Url": target.url, "MessageStream": stream,
                "HttpAuth": {"Username": target.username, "Password": target.password},
                "Triggers": {"Open": {"Enabled": True, "PostFirstOpenOnly": False}, "Click": {"Enabled": True},
                             "Delivery": {"Enabled": True}, "Bounce": {"Enabled": True, "IncludeContent": False},
                             "SpamComplaint": {"Enabled": True, "IncludeContent": False},
                             "SubscriptionChange": {"Enabled": False}}}

        def register(client: PostmarkClient) -> dict[str, Any]:
            # One webhook per account: update the one the app made before (or that points at its URL) if it is
            # still there, so reconnecting never stacks duplicates that would report every event twice.
            existing = client.call("GET", "/webhooks", MessageStream=stream).get("Webhooks") or []
            ours = [hook for hook in existing if hook.get("ID") == registered.get("webhook_id")
                    or str(hook.get("Url", "")).split("?")[0] == target.url]
            if ours:
                answer = client.call("PUT", f"/webhooks/{ours[0]['ID']}", data=body)
            else:
                answer = client.call("POST", "/webhooks", data=body)
            return {"webhook_id": answer.get("ID", ours[0]["ID"] if ours else None), "message_stream": stream}

        return await self._call(credentials, register, sending=False)

    async def unregister_callbacks(self, credentials: Credentials, settings: Mapping[str, Any],  # noqa: ARG002
                                   registered: Mapping[str, Any]) -> None:
        webhook = registered.get("webhook_id")
        if webhook is not None:
            await self._call(credentials, lambda client: client.call("DELETE", f"/webhooks/{int(webhook)}"),
                             sending=False)

    # transport

    async def send(self, credentials: Credentials, settings: Mapping[str, Any], email: OutgoingEmail) -> str:
        sender = f"{_quoted(email.from_name)} <{email.from_address}>" if email.from_name else email.from_address
        data: dict[str, Any] = {
            "From": sender, "To": email.to, "Subject": email.subject, "HtmlBody": email.html or None,
            "TextBody": email.text or None, "ReplyTo": email.reply_to,
            "Headers": [{"Name": name, "Value": value} for name, value in email.headers.items()],
            "Metadata": dict(email.metadata), "TrackOpens": email.track_opens,
            "TrackLinks": "HtmlAndText" if email.track_links else "None",
            "MessageStream": email.message_stream or settings.get("message_stream") or DEFAULT_STREAM,
        }
        answer = await self._call(credentials, lambda client: client.call(
            "POST", "/email", data={key: value for key, value in data.items() if value is not None}), sending=True)
        message_id = answer.get("MessageID")
        if not message_id:
            raise OutcomeUnknown(f"Postmark answered without a message id: {answer.get('Message', answer)!r}")
        return str(message_id)

    async def find_sent(self, credentials: Credentials, settings: Mapping[str, Any],  # noqa: ARG002
                        *, to: str, job_id: int) -> str | None:
        """Postmark's outbound message search by recipient (newest first), matched on the job id the app puts in
        every message's Metadata."""
        answer = await self._call(credentials, lambda client: client.call(
            "GET", "/messages/outbound", count=100, offset=0, recipient=to), sending=False)
        for message in answer.get("Messages") or []:
            if str((message.get("Metadata") or {}).get("job_id")) == str(job_id):
                return str(message["MessageID"])
        return None

    async def _call(self, credentials: Credentials, action: Callable[[PostmarkClient], T], *, sending: bool) -> T:
        def run() -> T:
            client = PostmarkClient(server_token=credentials["server_token"],
                                    account_token=credentials.get("account_token") or None,
                                    timeout=(min(self._timeout, 5.0), self._timeout), root_api_url=self._base_url)
            try:
                return action(client)
            finally:
                client.session.close()

        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, run)
        except ClientError as exc:
            raise _refusal(exc) from exc
        except requests.HTTPError as exc:  # an answer that is not Postmark's JSON (a proxy's 502 page…)
            status = exc.response.status_code if exc.response is not None else 0
            if status == 429 or status >= 500:
                raise RetryableError(f"Postmark is unavailable (HTTP {status}); retrying") from exc
            raise PermanentError(f"Postmark refused the request (HTTP {status})") from exc
        except requests.RequestException as exc:
            if _before_hand_over(exc) or not sending:
                raise RetryableError(f"Postmark could not be reached: {_short(exc)}") from exc
            raise OutcomeUnknown(f"the connection to Postmark timed out or dropped after the email was handed "
                                 f"over, so it may have been sent: {_short(exc)}") from exc


def _refusal(exc: ClientError) -> Exception:
    cause = exc.__cause__
    status = cause.response.status_code if isinstance(cause, requests.HTTPError) and cause.response is not None \
        else 0
    if status == 429 or status >= 500:
        return RetryableError(f"Postmark is busy or unavailable (HTTP {status}): {exc}; retrying")
    if status == 401:
        return PermanentError(f"Postmark refused the token: {exc}")
    return PermanentError(f"Postmark refused it: {exc}")


def _before_hand_over(exc: requests.RequestException) -> bool:
    """True when no byte of the request can have reached Postmark (the connection was never opened)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError) or isinstance(exc, requests.ReadTimeout):
        return False
    inner = exc.args[0] if exc.args else None
    reason = getattr(inner, "reason", inner)
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def _short(exc: Exception) -> str:
    return str(exc)[:300]


def _quoted(name: str) -> str:
    cleaned = " ".join(name.replace('"', "'").split())
    return f'"{cleaned}"'
