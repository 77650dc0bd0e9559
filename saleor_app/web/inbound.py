"""POST /api/inbound/{trigger id}/{secret}: outside systems name an order and fire that trigger."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from saleor_app.domain.errors import Refused, RetryableError
from saleor_app.engine.inbound import ReceiveInbound
from saleor_app.saleor.responses import ApiError
from saleor_app.web.ids import RowId


def inbound_url(api_base_url: str, trigger_id: int, secret: str) -> str:
    return f"{api_base_url.rstrip('/')}/api/inbound/{trigger_id}/{secret}"


def inbound_router(receive: ReceiveInbound) -> APIRouter:
    router = APIRouter(tags=["inbound"])

    @router.post("/api/inbound/{trigger_id}/{secret}", status_code=202)
    async def inbound(trigger_id: RowId, secret: str, request: Request) -> JSONResponse:
        """Fire an inbound-webhook trigger for one order. Body: `{"order": "<order id or number>"}` as JSON or a
        form (or `?order=`), optionally `"id"`: your id for this call, so a retried call counts once."""
        fields = await _fields(request)
        try:
            accepted = await receive(trigger_id, secret, str(fields.get("order") or ""),
                                     str(fields["id"]) if fields.get("id") else None)
        except Refused as exc:
            raise ApiError(exc.status, exc.code, str(exc)) from exc
        except RetryableError as exc:
            raise ApiError(503, "saleor_unavailable", f"could not look the order up in Saleor: {exc}; retry "
                           "later", {"Retry-After": "30"}) from exc
        return JSONResponse({"success": True, "trigger": accepted.trigger.key, "order": accepted.order_id,
                             "duplicate": accepted.duplicate,
                             "note": "accepted: the order moves once the app has re-read it from Saleor"},
                            status_code=202)

    return router


async def _fields(request: Request) -> dict[str, Any]:
    body = await request.body()  # capped and time-bound by web/request_guard.py
    fields: dict[str, Any] = dict(request.query_params)
    if not body:
        return fields
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type == "application/x-www-form-urlencoded":
        fields.update({key: values[0] for key, values in parse_qs(body.decode(errors="replace")).items()})
        return fields
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f'the body is not JSON ({exc}); send {{"order": "<id or number>"}}') \
            from exc
    if not isinstance(parsed, dict):
        raise ApiError(400, "invalid_body", 'the body must be a JSON object like {"order": "1042"}')
    fields.update(parsed)
    return fields
