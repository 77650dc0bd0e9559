"""One ASGI layer in front of every route: bodies read within a size cap and a deadline, and no NUL or too-deep JSON.

Routes used to read the whole body and then compare its length, so a 200 MB chunked upload was held in memory
before its 413, and a client that stopped sending kept its connection (and a task) forever. This layer reads the
body first, answering 413 as soon as the bytes received pass the path's cap (before reading when Content-Length
says so) and 408 when the body has not arrived within the deadline; only a complete body reaches the app. The
server closes a connection whose body was not read, so a client never gets more than one chunk past the cap in.

It is also the one place that refuses NUL characters (in the path, the query, a form or a JSON body: PostgreSQL
cannot store them) and JSON nested deeper than documents.MAX_DEPTH, with 400. Webhook bodies are exempt from
those checks: they are stored byte for byte and read by their own code (saleor/webhooks.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saleor_app import metrics
from saleor_app.domain.documents import DocumentRefused, load_json, nul_in_text

WEBHOOK_PREFIX = "/api/webhooks/"


@dataclass(frozen=True, slots=True)
class BodyLimit:
    prefix: str
    max_bytes: int


def body_limits(*, webhook_max_bytes: int, default_max_bytes: int) -> tuple[BodyLimit, ...]:
    """Per path prefix, longest first; everything else gets `default_max_bytes`."""
    limits = (
        BodyLimit(WEBHOOK_PREFIX, webhook_max_bytes),
        BodyLimit("/api/v1/config", 1_000_000),  # a large shop's configuration is tens of kilobytes
        BodyLimit("/api/providers/postmark/", 256 * 1024),  # Postmark batches no events: one is a few KB
        BodyLimit("/api/inbound/", 64 * 1024),  # {"order": "…", "id": "…"}
        BodyLimit("/api/twilio/", 64 * 1024),  # a status callback or an SMS: a few form fields
        BodyLimit("/api/register", 16 * 1024),  # {"auth_token": "…"}
        BodyLimit("/", default_max_bytes),
    )
    return tuple(sorted(limits, key=lambda limit: len(limit.prefix), reverse=True))


class _Refusal(Exception):  # noqa: N818 - an answer, carried out of the reading loop
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class RequestGuard:
    def __init__(self, app: ASGIApp, limits: Sequence[BodyLimit], timeout_seconds: float) -> None:
        self._app = app
        self._limits = tuple(limits)
        self._timeout = timeout_seconds

    def limit_for(self, path: str) -> int:
        return next(limit.max_bytes for limit in self._limits if path.startswith(limit.prefix))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path: str = scope["path"]
        try:
            if "\x00" in path or _has_nul_escape(scope.get("query_string", b""), b"%00"):
                raise _Refusal(400, "NUL_CHARACTER", str(nul_in_text()))
            body = await self._read(scope, receive, self.limit_for(path))
            if body is None:
                return  # the client left
            if body and not path.startswith(WEBHOOK_PREFIX):
                _check_body(scope, body)
        except _Refusal as refusal:
            if path.startswith(WEBHOOK_PREFIX):
                metrics.webhook_answered(refusal.status)  # counted with the answers saleor/webhooks.py gives
            await _respond(send, refusal)
            return
        await self._app(scope, _replay(body, receive), send)

    async def _read(self, scope: Scope, receive: Receive, limit: int) -> bytes | None:
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self._timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    chunk: bytes = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        raise _too_large(limit)
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            raise _Refusal(408, "BODY_TIMEOUT", f"the body did not arrive within {self._timeout:g} seconds") from None


def _too_large(limit: int) -> _Refusal:
    return _Refusal(413, "PAYLOAD_TOO_LARGE", f"bodies sent here are limited to {limit} bytes")


def _check_body(scope: Scope, body: bytes) -> None:
    content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if b"\x00" in body or (content_type == "application/x-www-form-urlencoded" and _has_nul_escape(body, b"%00")):
        raise _Refusal(400, "NUL_CHARACTER", str(nul_in_text()))
    is_json = content_type == "application/json" or content_type.endswith("+json")
    # Some routes read JSON whatever the content type says (inbound triggers), so what looks like JSON is checked.
    if is_json or (content_type != "application/x-www-form-urlencoded" and body.lstrip()[:1] in (b"{", b"[")):
        try:
            load_json(body)
        except DocumentRefused as exc:
            raise _Refusal(400, "INVALID_DOCUMENT", str(exc)) from None
        except orjson.JSONDecodeError:
            pass  # not JSON: the route answers that in its own words


def _has_nul_escape(raw: bytes, escape: bytes) -> bool:
    return escape in raw.lower()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body in one message; after it the real channel (a streaming answer waits there for the disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _respond(send: Send, refusal: _Refusal) -> None:
    body = orjson.dumps({"success": False, "error": {"code": refusal.code, "message": refusal.message}})
    await send({
        "type": "http.response.start",
        "status": refusal.status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    *([(b"connection", b"close")] if refusal.status in (408, 413) else [])],  # the body is unread
    })
    await send({"type": "http.response.body", "body": body})
