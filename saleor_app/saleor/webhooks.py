"""POST /api/webhooks/{orders,app}: raw body → installation → JWS check → ingest → 200 after the commit."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response

from saleor_app.domain.errors import RetryableError
from saleor_app.domain.installations import InstallationStatus
from saleor_app.domain.ports import InstallationRepository
from saleor_app.engine.ingest import IngestWebhook, UnexpectedEvent
from saleor_app.saleor.keys import KeysUnavailable, SaleorKeys, SignatureInvalid
from saleor_app.saleor.responses import error_response

log = logging.getLogger(__name__)

_OK_BODY = b'{"success":true}'


class BodyTooLarge(Exception):
    pass


async def read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_router(
    installations: InstallationRepository, keys: SaleorKeys, ingest: IngestWebhook, *, max_body_bytes: int
) -> APIRouter:
    router = APIRouter()

    async def receive(request: Request) -> Response:
        headers = request.headers
        try:
            body = await read_capped(request, max_body_bytes)
        except BodyTooLarge:
            return error_response(413, "PAYLOAD_TOO_LARGE", f"webhook bodies are limited to {max_body_bytes} bytes")
        api_url = headers.get("saleor-api-url")
        event = headers.get("saleor-event")
        signature = headers.get("saleor-signature")
        if not api_url or not event:
            return error_response(400, "MISSING_HEADER", "Saleor-Api-Url and Saleor-Event headers are required")
        if not signature:
            return error_response(401, "MISSING_SIGNATURE", "the Saleor-Signature header is required")
        try:
            installation = await installations.get_by_url(api_url)
        except Exception:
            log.exception("installation lookup failed", extra={"saleor_api_url": api_url})
            return error_response(503, "UNAVAILABLE", "the app cannot read its installations now; retry")
        if installation is None:
            return error_response(
                401, "NOT_REGISTERED", f"{api_url} has not installed this app (no registration for that URL)"
            )
        try:
            await keys.verify_webhook(installation, signature, body)
        except SignatureInvalid as exc:
            log.warning("webhook signature refused", extra={"installation_id": installation.id, "event": event})
            return error_response(401, "SIGNATURE_VERIFICATION_FAILED", str(exc))
        except KeysUnavailable as exc:
            log.warning("webhook held back", extra={"installation_id": installation.id, "reason": str(exc)})
            return error_response(503, "KEYS_UNAVAILABLE", str(exc))
        if installation.status is InstallationStatus.UNINSTALLED and event != "app_deleted":
            return error_response(410, "UNINSTALLED", "the app is uninstalled from this Saleor; event ignored")
        try:
            result = await ingest(installation, event.lower(), body)
        except UnexpectedEvent as exc:
            return error_response(400, "UNEXPECTED_EVENT", str(exc))
        except RetryableError as exc:
            return error_response(503, "UNAVAILABLE", str(exc))
        except Exception:
            log.exception("webhook ingest failed", extra={"installation_id": installation.id, "event": event})
            return error_response(503, "UNAVAILABLE", "the webhook could not be stored; retry")
        if log.isEnabledFor(logging.DEBUG):
            log.debug("webhook accepted", extra={"installation_id": installation.id, "event": event,
                                                  "note": result.note})
        return Response(content=_OK_BODY, media_type="application/json")

    router.add_api_route("/api/webhooks/orders", receive, methods=["POST"], include_in_schema=False)
    router.add_api_route("/api/webhooks/app", receive, methods=["POST"], include_in_schema=False)
    return router
