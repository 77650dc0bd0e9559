"""POST /api/providers/postmark/{account id}/events: Postmark's webhooks (delivery, bounce, spam complaint, open,
click) for one connected Postmark account.

Postmark signs nothing, so the app registers the webhook with HTTP basic-auth credentials of that account (a
secret only the app and that Postmark server know) and refuses any call without them (401). A payload for a
message the app did not send is acknowledged (200) and logged: an error would only make Postmark retry it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from saleor_app.domain.errors import AutomationError
from saleor_app.domain.ports import Clock
from saleor_app.engine.provider_events import ReceiveProviderEvents
from saleor_app.engine.providers import CALLBACK_USER, ManageProviders
from saleor_app.providers.postmark_events import PayloadError, read_event
from saleor_app.saleor.responses import ApiError
from saleor_app.web.ids import RowId

log = logging.getLogger(__name__)

ROUTE_NAME = "postmark_events"


def postmark_events_url(api_base_url: str, account_id: int) -> str:
    return f"{api_base_url.rstrip('/')}/api/providers/postmark/{account_id}/events"


def postmark_router(providers: ManageProviders, receive: ReceiveProviderEvents, clock: Clock) -> APIRouter:
    router = APIRouter(tags=["providers"])

    @router.post("/api/providers/postmark/{account_id}/events", name=ROUTE_NAME)
    async def postmark_events(account_id: RowId, request: Request) -> JSONResponse:
        """A Postmark webhook; authenticated with the account's basic-auth credentials."""
        try:
            account = await providers.account_by_id(account_id)
            expected = await providers.callback_password(account_id) if account is not None else None
        except AutomationError as exc:
            raise ApiError(503, "unavailable", "the app cannot read its providers now; retry") from exc
        if account is None or account.kind != "postmark" or expected is None \
                or not _authorised(request.headers.get("authorization", ""), expected):
            raise ApiError(401, "unauthorised", "wrong or missing credentials for this Postmark webhook",
                           {"WWW-Authenticate": 'Basic realm="postmark"'})
        body = await request.body()  # capped and time-bound by web/request_guard.py
        try:
            payload = orjson.loads(body)
            if not isinstance(payload, dict):
                raise PayloadError("the body must be a JSON object")
            event = read_event(payload, clock.now())
        except (orjson.JSONDecodeError, PayloadError) as exc:
            raise ApiError(422, "invalid_payload", f"not a Postmark webhook payload: {exc}") from exc
        if event is None:
            await receive.seen(account)
            return JSONResponse({"success": True, "note": f"{payload.get('RecordType')} ignored"})
        try:
            note = await receive(account, event)
        except AutomationError as exc:
            log.warning("a Postmark event could not be stored; Postmark retries it",
                        extra={"installation_id": account.installation_id, "reason": str(exc)})
            raise ApiError(503, "unavailable", "the event could not be stored now; retry") from exc
        return JSONResponse({"success": True, "note": note})

    return router


def _authorised(header: str, password: str) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return False
    try:
        user, _, given = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(user.encode(), CALLBACK_USER.encode()) & hmac.compare_digest(
        given.encode(), password.encode())
