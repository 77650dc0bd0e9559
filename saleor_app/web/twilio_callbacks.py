"""POST /api/twilio/{account id}/sms-status | call-status | inbound: Twilio's callbacks, signature first.

Each request must carry a valid `X-Twilio-Signature` for the URL Twilio was given — rebuilt from the app's configured
API base URL (APP_API_BASE_URL or APP_URL) and the request's path and query, never from its Host header — keyed with
that account's auth token. A status callback's `?message=<id>` (the send it reports, put there by the app on the create)
is covered by that signature. A forged or unsigned call gets 403 and changes nothing. Inbound SMS are answered with an
empty TwiML response (the app does not auto-reply; Twilio itself answers STOP/START).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from saleor_app.domain.errors import AutomationError
from saleor_app.domain.provider_ports import ProviderStore
from saleor_app.domain.providers import ProviderAccount
from saleor_app.domain.telephony import MESSAGE_PARAM, message_of
from saleor_app.engine.telephony_callbacks import ReceiveTelephonyCallbacks
from saleor_app.providers.twilio_signature import valid_signature
from saleor_app.saleor.responses import ApiError
from saleor_app.web.ids import RowId

log = logging.getLogger(__name__)

_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def twilio_router(receive: ReceiveTelephonyCallbacks, providers: ProviderStore,
                  credentials: Callable[[int], Awaitable[dict[str, str]]], api_base_url: str) -> APIRouter:
    router = APIRouter(tags=["twilio"], include_in_schema=False)
    base = api_base_url.rstrip("/")

    async def verified(account_id: RowId, request: Request) -> tuple[ProviderAccount, dict[str, str]]:
        body = await request.body()  # capped and time-bound by web/request_guard.py
        params = dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
        account = await providers.account_by_id(account_id)
        if account is None or account.kind != "twilio":
            raise ApiError(404, "unknown_account", "no Twilio account with this id")
        url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        token = (await credentials(account.id)).get("auth_token", "")
        if not valid_signature(token, url, params, request.headers.get("X-Twilio-Signature")):
            log.warning("Twilio callback with a bad signature refused",
                        extra={"installation_id": account.installation_id, "provider": account.key})
            raise ApiError(403, "bad_signature", "X-Twilio-Signature does not match this request")
        return account, params

    async def handled(call: Awaitable[str]) -> str:
        try:
            return await call
        except AutomationError as exc:  # our side failed (database): Twilio retries on 5xx
            raise ApiError(503, "unavailable", f"could not record the callback: {exc}") from exc

    @router.post("/api/twilio/{account_id}/sms-status")
    async def sms_status(account_id: RowId, request: Request) -> JSONResponse:
        account, params = await verified(account_id, request)
        message = message_of(request.query_params.get(MESSAGE_PARAM))
        return JSONResponse({"success": True, "done": await handled(receive.sms_status(account, params, message))})

    @router.post("/api/twilio/{account_id}/call-status")
    async def call_status(account_id: RowId, request: Request) -> JSONResponse:
        account, params = await verified(account_id, request)
        message = message_of(request.query_params.get(MESSAGE_PARAM))
        return JSONResponse({"success": True, "done": await handled(receive.call_status(account, params, message))})

    @router.post("/api/twilio/{account_id}/inbound")
    async def inbound(account_id: RowId, request: Request) -> Response:
        account, params = await verified(account_id, request)
        await handled(receive.inbound(account, params))
        return Response(_EMPTY_TWIML, media_type="text/xml")

    return router
