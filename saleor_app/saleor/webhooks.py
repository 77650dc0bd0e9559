"""POST /api/webhooks/{orders,app}: raw body → installation → JWS check → ingest → 200 after the commit.

This is the app's hot path, so it is served as plain ASGI middleware in front of the FastAPI routes: no
dependency injection or response models, just headers, the raw body and one answer (measured: bench/ingest.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from saleor_app import metrics
from saleor_app.domain.errors import RetryableError
from saleor_app.domain.installations import InstallationStatus
from saleor_app.domain.ports import InstallationRepository
from saleor_app.domain.webhooks import DeliveryRefused
from saleor_app.engine.ingest import IngestWebhook, UnexpectedEvent
from saleor_app.saleor.keys import KeysUnavailable, SaleorKeys, SignatureInvalid

log = logging.getLogger(__name__)

WEBHOOK_PATHS = frozenset({"/api/webhooks/orders", "/api/webhooks/app"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Answer = tuple[int, bytes]
_OK: Answer = (200, b'{"success":true}')


def _error(status: int, code: str, message: str) -> Answer:
    return status, orjson.dumps({"success": False, "error": {"code": code, "message": message}})


class WebhookHandler:
    """Decides the answer to one delivery; knows nothing of ASGI."""

    def __init__(
        self, installations: InstallationRepository, keys: SaleorKeys, ingest: IngestWebhook, *, max_body_bytes: int
    ) -> None:
        self._installations = installations
        self._keys = keys
        self._ingest = ingest
        self.max_body_bytes = max_body_bytes

    def too_large(self) -> Answer:
        return _error(413, "PAYLOAD_TOO_LARGE", f"webhook bodies are limited to {self.max_body_bytes} bytes")

    async def handle(self, headers: dict[str, str], body: bytes) -> Answer:
        api_url = headers.get("saleor-api-url")
        event = headers.get("saleor-event")
        signature = headers.get("saleor-signature")
        if not api_url or not event:
            return _error(400, "MISSING_HEADER", "Saleor-Api-Url and Saleor-Event headers are required")
        if not signature:
            return _error(401, "MISSING_SIGNATURE", "the Saleor-Signature header is required")
        try:
            installation = await self._installations.get_by_url(api_url)
        except Exception:
            log.exception("installation lookup failed", extra={"saleor_api_url": api_url})
            return _error(503, "UNAVAILABLE", "the app cannot read its installations now; retry")
        if installation is None:
            return _error(401, "NOT_REGISTERED", f"{api_url} has not installed this app (no registration for that URL)")
        try:
            await self._keys.verify_webhook(installation, signature, body)
        except SignatureInvalid as exc:
            log.warning("webhook signature refused", extra={"installation_id": installation.id, "event": event})
            return _error(401, "SIGNATURE_VERIFICATION_FAILED", str(exc))
        except KeysUnavailable as exc:
            log.warning("webhook held back", extra={"installation_id": installation.id, "reason": str(exc)})
            return _error(503, "KEYS_UNAVAILABLE", str(exc))
        event = event.lower()
        if installation.status is InstallationStatus.UNINSTALLED and event != "app_deleted":
            return _error(410, "UNINSTALLED", "the app is uninstalled from this Saleor; event ignored")
        try:
            result = await self._ingest(installation, event, body)
        except UnexpectedEvent as exc:
            return _error(400, "UNEXPECTED_EVENT", str(exc))
        except DeliveryRefused as exc:  # this delivery alone: Saleor's retries would be refused alike
            log.warning("webhook delivery refused", extra={"installation_id": installation.id, "event": event,
                                                            "order_id": exc.order_id, "reason": str(exc)})
            return _error(400, "DELIVERY_REFUSED", str(exc))
        except RetryableError as exc:
            return _error(503, "UNAVAILABLE", str(exc))
        except Exception:
            log.exception("webhook ingest failed", extra={"installation_id": installation.id, "event": event})
            return _error(503, "UNAVAILABLE", "the webhook could not be stored; retry")
        if log.isEnabledFor(logging.DEBUG):
            log.debug("webhook accepted", extra={"installation_id": installation.id, "order_id": result.order_id,
                                                  "event": event, "note": result.note})
        return _OK


class WebhookIngress:
    """ASGI middleware: serves POST to the webhook paths itself and passes everything else on."""

    def __init__(self, app: ASGIApp, handler: WebhookHandler) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in WEBHOOK_PATHS:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _respond(send, _error(405, "METHOD_NOT_ALLOWED", "webhooks are delivered with POST"))
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        body = await _read_body(receive, headers.get("content-length"), self.handler.max_body_bytes)
        answer = self.handler.too_large() if body is None else await self.handler.handle(headers, body)
        metrics.webhook_answered(answer[0])
        await _respond(send, answer)


async def _read_body(receive: Receive, declared: str | None, limit: int) -> bytes | None:
    """The raw body, or None when it is larger than `limit` (checked before reading when declared)."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, answer: Answer) -> None:
    status, body = answer
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})
