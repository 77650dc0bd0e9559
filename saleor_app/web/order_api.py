"""One order's automation for the Dashboard's order page: the widget's view, move to stage, run a rule now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from saleor_app.domain.automation import Job, OrderRecord
from saleor_app.domain.errors import Refused
from saleor_app.domain.jobs import JobState
from saleor_app.engine.order_desk import MovePreview, OrderDesk, OrderView
from saleor_app.saleor.dashboard_auth import DashboardUser, OrderManagerDep
from saleor_app.saleor.responses import ApiError

router = APIRouter(prefix="/api/v1", tags=["automation"])


class MoveRequest(BaseModel):
    stage: str = Field(min_length=1, max_length=64, description="the key of the stage to move the order to")


@router.get("/orders/{ref}/automation")
async def order_automation(ref: str, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """The order's stage, stage history, timeline (newest first), pending jobs with why they wait, the pipeline's
    stages and the current stage's enabled rules. `ref` is the Saleor order id or the number. An order the app
    has never seen is adopted from Saleor first (404 `adopting` while that takes longer than a few seconds)."""
    desk = _desk(request)
    try:
        order = await desk.find(user.installation, ref)
        view = await desk.view(user.installation, order)
    except Refused as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from exc
    return _view(view)


@router.get("/orders/{ref}/move")
async def move_preview(ref: str, stage: str, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """What moving the order to `stage` would ask Saleor to do (nothing is changed)."""
    desk = _desk(request)
    try:
        order = await desk.find(user.installation, ref)
        preview = await desk.preview_move(user.installation, order, stage)
    except Refused as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from exc
    return _preview(order, preview)


@router.post("/orders/{ref}/move", response_model=None)
async def move(ref: str, body: MoveRequest, user: OrderManagerDep, request: Request) -> dict[str, Any] | JSONResponse:
    """Move the order to a stage through its write-back plan, now. 200: done; 409: Saleor refused a step (its
    message) or the order is there already; 422: no plan can get the order there; 202: Saleor did not answer
    and the app retries."""
    desk = _desk(request)
    try:
        order = await desk.find(user.installation, ref)
        job = await desk.move(user.installation, order, body.stage, by=_who(user))
    except Refused as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from exc
    answer = {"job": job.id, "state": job.state.value, "message": job.reason, "order": order.order_id}
    if job.state is JobState.SUCCEEDED:
        return answer
    if job.state in (JobState.FAILED, JobState.SKIPPED, JobState.CANCELLED, JobState.DEAD):
        raise ApiError(409, "move_refused", job.reason.removeprefix("failed: ").removeprefix("skipped: "))
    return JSONResponse(answer, status_code=202)  # retrying, unknown: the runner carries on


@router.post("/orders/{ref}/rules/{key}/run")
async def run_rule(ref: str, key: str, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Run this rule of the order's current stage now (a new job, due now, logged as asked by this user)."""
    desk = _desk(request)
    try:
        order = await desk.find(user.installation, ref)
        job = await desk.run_rule(user.installation, order, key, by=_who(user))
    except Refused as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from exc
    return {"job": job.id, "state": job.state.value, "rule": job.rule_key, "order": order.order_id}


def _desk(request: Request) -> OrderDesk:
    desk: OrderDesk = request.app.state.container.order_desk
    return desk


def _who(user: DashboardUser) -> str:
    return user.email or user.user_id or "staff"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _order(order: OrderRecord) -> dict[str, Any]:
    snapshot = order.snapshot
    return {"id": order.order_id, "number": order.number, "status": snapshot.get("status"),
            "chargeStatus": snapshot.get("chargeStatus"), "movingTo": order.moving_to}


def _job(job: Job) -> dict[str, Any]:
    return {"id": job.id, "rule": job.rule_key, "kind": job.kind, "state": job.state.value,
            "dueAt": _iso(job.due_at), "attempts": job.attempts}


def _view(view: OrderView) -> dict[str, Any]:
    return {
        "order": _order(view.order),
        "stage": {"key": view.stage.key, "name": view.stage.name, "since": _iso(view.since)} if view.stage else None,
        "timeZone": view.time_zone,
        "history": [{"stage": item.entry.stage_key, "name": item.name, "enteredAt": _iso(item.entry.entered_at),
                     "leftAt": _iso(item.entry.left_at), "reason": item.reason, "adopted": item.entry.adopted}
                    for item in view.history],
        "timeline": [{"id": entry.id, "at": entry.at.isoformat(), "kind": entry.kind, "message": entry.message,
                      "state": entry.state, "job": entry.job_id, "stage": entry.stage_key, "rule": entry.rule_key,
                      "trigger": entry.trigger_key} for entry in view.timeline],
        "pending": [{**_job(item.job), "why": item.why} for item in view.pending],
        "stages": [{"key": stage.key, "name": stage.name} for stage in view.stages],
        "rules": [{"key": rule.key, "name": rule.name, "kind": rule.kind} for rule in view.rules],
    }


def _preview(order: OrderRecord, preview: MovePreview) -> dict[str, Any]:
    return {"order": order.order_id, "from": order.stage_key, "stage": preview.stage.key,
            "name": preview.stage.name, "possible": preview.possible, "wouldDo": preview.outcome,
            "rules": preview.rules}
