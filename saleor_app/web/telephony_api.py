"""The Dashboard API of SMS and calls: the SMS counter, "send a test to me", and the Twilio accounts' state
("last callback received")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from saleor_app.domain import templates
from saleor_app.domain.automation import OrderRecord
from saleor_app.domain.errors import Refused
from saleor_app.domain.sms import MAX_SMS_CHARS, count
from saleor_app.engine.telephony_actions import send_test
from saleor_app.saleor.dashboard_auth import DashboardUser, OrderManagerDep
from saleor_app.saleor.responses import ApiError

router = APIRouter(prefix="/api/v1", tags=["sms and calls"])


class SmsPreviewRequest(BaseModel):
    text: str = Field(max_length=5000)
    order: str | None = Field(default=None, description="order id or number; the sample order when empty")


class TestSendRequest(BaseModel):
    phone: str = Field(min_length=3, max_length=40, description="your phone number, international format")
    order: str = Field(min_length=1, max_length=100, description="the order to render the rule on (id or number)")


async def _order(request: Request, user: DashboardUser, ref: str) -> OrderRecord:
    try:
        order: OrderRecord = await request.app.state.container.dry_run.find_order(user.installation.id, ref)
    except Refused as exc:
        raise ApiError(exc.status, "unknown_order", str(exc)) from exc
    return order


@router.post("/sms/preview")
async def sms_preview(body: SmsPreviewRequest, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """What the SMS editor shows as you type: the rendering, its length against 200, encoding and SMS parts."""
    snapshot, stage = templates.sample_order(), None
    if body.order:
        order = await _order(request, user, body.order)
        snapshot, stage = order.snapshot, (order.stage_key, order.stage_key) if order.stage_key else None
    preview = templates.preview(body.text, snapshot, shop_name="", stage=stage)
    counted = count(preview.text)
    return {"text": preview.text, "characters": counted.characters, "limit": MAX_SMS_CHARS,
            "overLimit": counted.characters > MAX_SMS_CHARS, "encoding": counted.encoding,
            "segments": counted.segments, "problems": [
                {"message": p.message, "line": p.line, "column": p.column} for p in preview.problems]}


@router.post("/rules/{key}/test-phone")
async def test_phone(key: str, body: TestSendRequest, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Send an SMS or call rule, rendered on an order, to your own phone (marked as a test, never the job)."""
    container = request.app.state.container
    async with container.automation.reading() as tx:
        rule = await tx.rule_by_key(user.installation.id, key)
    if rule is None:
        raise ApiError(404, "unknown_rule", f"there is no rule {key!r}")
    order = await _order(request, user, body.order)
    try:
        sent = await send_test(container.telephony.service, user.installation.id, rule, order, body.phone)
    except Refused as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from exc
    return {"success": True, "sent": sent.describe("test " + ("SMS" if rule.kind == "sms" else "call"),
                                                   body.phone.strip())}


@router.get("/telephony")
async def telephony(user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """The Twilio accounts: connected or why not, when Twilio last reached the app, their numbers and services."""
    views = await request.app.state.container.providers.list(user.installation.id)
    return {"accounts": [{
        "key": view.account.key, "name": view.account.name, "status": view.account.status.value,
        "statusMessage": view.account.status_message,
        "lastCallbackAt": view.account.last_event_at.isoformat() if view.account.last_event_at else None,
        "inboundUrl": view.account.registered.get("inbound_url"),
        "senders": [{"kind": s.kind.value, "address": s.address, "name": s.display_name, "enabled": s.enabled}
                    for s in view.senders],
    } for view in views if view.account.kind == "twilio"]}
