"""The protected JSON API under /api/v1, called by the Dashboard page with the Dashboard token."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from saleor_app.domain import templates
from saleor_app.domain.automation import ActivityFilter, LoggedActivity, OrderRecord
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


@router.get("/activity")
async def activity(
    user: OrderManagerDep, request: Request, order: str | None = None, stage: str | None = None,
    rule: str | None = None, trigger: str | None = None, state: str | None = None, since: datetime | None = None,
    until: datetime | None = None, before: int | None = None, limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """The store-wide activity log, newest first, narrowed by order (id or number), stage, rule, trigger, job state
    and time; page with `before` (the last entry's id)."""
    container = request.app.state.container
    order_row_id = (await _order(request, user, order)).id if order else None
    where = ActivityFilter(order_row_id=order_row_id, stage_key=stage, rule_key=rule, trigger_key=trigger,
                           state=state, since=since, until=until, before_id=before, limit=limit)
    async with container.automation.reading() as tx:
        entries = await tx.activity(user.installation.id, where)
    return {"entries": [_activity(entry) for entry in entries],
            "next": entries[-1].id if len(entries) == limit else None}


@router.get("/orders/{ref}/dry-run")
async def dry_run(ref: str, stage: str, user: OrderManagerDep, request: Request, fresh: bool = True
                  ) -> dict[str, Any]:
    """What every rule of `stage` would do for this order if it entered the stage now; nothing is changed."""
    container = request.app.state.container
    order = await _order(request, user, ref)
    try:
        rehearsals = await container.dry_run.stage(user.installation, order, stage, fresh=fresh)
    except Refused as exc:
        raise ApiError(exc.status, "dry_run_refused", str(exc)) from exc
    return {"order": order.order_id, "number": order.number, "stage": stage,
            "rules": [_rehearsal(item) for item in rehearsals]}


@router.get("/jobs/{job_id}/replay")
async def replay_preview(job_id: int, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Exactly what replaying this failed, dead or unknown job would do now."""
    try:
        preview = await request.app.state.container.replay.preview(user.installation, job_id)
    except Refused as exc:
        raise ApiError(exc.status, "replay_refused", str(exc)) from exc
    return {"job": job_id, "state": preview.job.state.value, "reason": preview.job.reason,
            "wouldDo": _rehearsal(preview.rehearsal), "notes": list(preview.notes)}


@router.post("/jobs/{job_id}/replay")
async def replay(job_id: int, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Run a failed, dead or unknown job again, now, with its rule as it is today."""
    try:
        job = await request.app.state.container.replay.replay(user.installation, job_id,
                                                              asked_by=user.email or user.user_id or "staff")
    except Refused as exc:
        raise ApiError(exc.status, "replay_refused", str(exc)) from exc
    return {"job": job.id, "state": job.state.value, "reason": job.reason}


async def _order(request: Request, user: DashboardUser, ref: str) -> OrderRecord:
    try:
        order: OrderRecord = await request.app.state.container.dry_run.find_order(user.installation.id, ref)
    except Refused as exc:
        raise ApiError(exc.status, "unknown_order", str(exc)) from exc
    return order


def _activity(entry: LoggedActivity) -> dict[str, Any]:
    return {"id": entry.id, "at": entry.at.isoformat(), "kind": entry.kind, "message": entry.message,
            "state": entry.state, "order": entry.order_id, "orderNumber": entry.order_number, "job": entry.job_id,
            "stage": entry.stage_key, "rule": entry.rule_key, "trigger": entry.trigger_key}


def _rehearsal(item: Rehearsal) -> dict[str, Any]:
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
        order = await _order(request, user, body.order)
        snapshot, stage = order.snapshot, (order.stage_key, order.stage_key) if order.stage_key else None
    result = templates.preview(body.template, snapshot, shop_name="", stage=stage, autoescape=body.html)
    return {"text": result.text, "length": result.length,
            "problems": [{"message": p.message, "line": p.line, "column": p.column} for p in result.problems]}
