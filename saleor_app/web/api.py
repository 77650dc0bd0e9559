"""The protected JSON API under /api/v1, called by the Dashboard page with the Dashboard token: who is asking,
triggers, dry runs and template previews (the activity log and its job actions are in activity_api)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from saleor_app.domain import templates
from saleor_app.domain.automation import OrderRecord
from saleor_app.domain.errors import Refused
from saleor_app.engine.dry_run import Rehearsal
from saleor_app.saleor.dashboard_auth import DashboardUser, OrderManagerDep
from saleor_app.saleor.responses import ApiError
from saleor_app.web.inbound import inbound_url

router = APIRouter(prefix="/api/v1", tags=["automation"])


@router.get("/installation")
async def installation(user: OrderManagerDep) -> dict[str, Any]:
    """Who is asking and which installation they act on."""
    inst = user.installation
    return {
        "saleorApiUrl": inst.saleor_api_url,
        "appId": inst.app_id,
        "status": inst.status.value,
        "saleorVersion": inst.saleor_version,
        "permissions": list(inst.permissions),
        "installedAt": inst.installed_at.isoformat(),
        "user": {"id": user.user_id, "email": user.email, "permissions": sorted(user.permissions)},
    }


@router.get("/triggers")
async def triggers(user: OrderManagerDep, request: Request) -> list[dict[str, Any]]:
    """The installation's triggers; an inbound-webhook trigger comes with the URL to give the outside system."""
    container = request.app.state.container
    async with container.automation.reading() as tx:
        found = await tx.triggers(user.installation.id)
    listed = []
    for trigger in found:
        item: dict[str, Any] = {"key": trigger.key, "name": trigger.name, "stage": trigger.stage_key,
                                "event": trigger.event, "params": trigger.params, "condition": trigger.condition,
                                "allowBack": trigger.allow_back, "enabled": trigger.enabled}
        if trigger.event == "inbound_webhook":
            secret = await container.inbound.secret(trigger.id)
            item["inboundUrl"] = inbound_url(container.settings.api_base_url, trigger.id, secret) if secret else None
        listed.append(item)
    return listed


@router.get("/orders/{ref}/dry-run")
async def dry_run(ref: str, stage: str, user: OrderManagerDep, request: Request, fresh: bool = True
                  ) -> dict[str, Any]:
    """What every rule of `stage` would do for this order if it entered the stage now; nothing is changed."""
    container = request.app.state.container
    order = await find_order(request, user, ref)
    try:
        rehearsals = await container.dry_run.stage(user.installation, order, stage, fresh=fresh)
    except Refused as exc:
        raise ApiError(exc.status, "dry_run_refused", str(exc)) from exc
    return {"order": order.order_id, "number": order.number, "stage": stage,
            "rules": [rehearsal_json(item) for item in rehearsals]}


async def find_order(request: Request, user: DashboardUser, ref: str) -> OrderRecord:
    try:
        order: OrderRecord = await request.app.state.container.dry_run.find_order(user.installation.id, ref)
    except Refused as exc:
        raise ApiError(exc.status, "unknown_order", str(exc)) from exc
    return order


def rehearsal_json(item: Rehearsal) -> dict[str, Any]:
    return {"rule": item.rule_key, "name": item.name, "kind": item.kind, "runs": item.runs, "when": item.when,
            "dueAt": item.due_at.isoformat() if item.due_at else None, "condition": item.condition,
            "outcome": item.outcome}


class TemplatePreviewRequest(BaseModel):
    template: str = Field(max_length=100_000)
    order: str | None = Field(default=None, description="an order's id or number; a sample order when omitted")
    html: bool = False


@router.post("/templates/preview")
async def template_preview(body: TemplatePreviewRequest, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Render a template on a real order (its latest snapshot) or the sample order, with line/column problems."""
    snapshot, stage = templates.sample_order(), None
    if body.order:
        order = await find_order(request, user, body.order)
        snapshot, stage = order.snapshot, (order.stage_key, order.stage_key) if order.stage_key else None
    result = templates.preview(body.template, snapshot, shop_name="", stage=stage, autoescape=body.html)
    return {"text": result.text, "length": result.length,
            "problems": [{"message": p.message, "line": p.line, "column": p.column} for p in result.problems]}
