"""Failure alerts under /api/v1: the banner's summary of dead and unknown jobs in the last 24 hours, the daily
digest's settings, and a test digest to the signed-in staff member. Every route needs MANAGE_ORDERS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from saleor_app.domain.alerts import (
    AlertSettings,
    DigestState,
    FailedJob,
    ProblemState,
    default_dashboard_url,
    headline,
)
from saleor_app.domain.errors import Refused
from saleor_app.engine.alerts import FailureAlerts, InvalidAlertSettings
from saleor_app.saleor.dashboard_auth import OrderManagerDep
from saleor_app.saleor.responses import ApiError

router = APIRouter(prefix="/api/v1", tags=["automation"])


def _alerts(request: Request) -> FailureAlerts:
    alerts: FailureAlerts = request.app.state.container.alerts  # built in wiring (composition root)
    return alerts


def _failure(job: FailedJob) -> dict[str, Any]:
    return {"job": job.job_id, "state": job.state.value, "rule": job.rule_key, "ruleName": job.rule_name,
            "order": job.order_id, "orderNumber": job.order_number, "reason": job.reason, "at": job.at.isoformat()}


def _digest(state: DigestState) -> dict[str, Any]:
    return {"day": state.day.isoformat() if state.day else None, "at": state.at.isoformat() if state.at else None,
            "outcome": state.outcome, "failed": state.failed}


def _problems(state: ProblemState) -> dict[str, Any]:
    return {"reportedAt": state.at.isoformat() if state.at else None, "error": state.error or None,
            "open": {key: {"count": value.count, "at": value.at.isoformat()} for key, value in state.reported.items()}}


@router.get("/alerts")
async def alerts(user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Jobs that died or whose outcome is unknown in the last 24 hours (each once, in its current state): the
    counts, the newest few and the window; with the last digest's and the last Saleor report's outcome."""
    overview = await _alerts(request).overview(user.installation.id)
    summary = overview.summary
    return {"since": summary.since.isoformat(), "until": summary.until.isoformat(), "dead": summary.dead,
            "unknown": summary.unknown, "total": summary.total, "headline": headline(summary),
            "newest": [_failure(job) for job in summary.newest], "newestId": summary.newest_id,
            "digest": _digest(overview.digest), "problems": _problems(overview.problems)}


@router.get("/alerts/settings")
async def alert_settings(user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """The daily digest's settings, the shop's time zone its hour is in, and the last digest and report."""
    manage = _alerts(request)
    overview = await manage.overview(user.installation.id)
    async with request.app.state.container.automation.reading() as tx:
        zone = (await tx.settings(user.installation.id)).time_zone
    return {**(await manage.settings(user.installation.id)).model_dump(mode="json"), "time_zone": zone,
            "default_dashboard_url": default_dashboard_url(user.installation.saleor_api_url),
            "digest": _digest(overview.digest), "problems": _problems(overview.problems)}


@router.put("/alerts/settings")
async def save_alert_settings(body: dict[str, Any], user: OrderManagerDep, request: Request) -> Any:
    """Turn the digest on or off, choose its recipients (team member keys) and its hour; 422 with `error.fields`
    when something is wrong (an unknown member, an hour out of range)."""
    try:
        await _alerts(request).save_settings(user.installation.id, AlertSettings.model_validate(body))
    except ValidationError as exc:
        return _invalid([{"field": ".".join(str(part) for part in error["loc"]),
                          "message": str(error["msg"]).removeprefix("Value error, ")} for error in exc.errors()])
    except InvalidAlertSettings as exc:
        return _invalid(exc.fields)
    return {"success": True, **await alert_settings(user, request)}


@router.post("/alerts/digest/test")
async def test_digest(user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Send the digest as it would be now to the signed-in staff member only (whatever the recipients are)."""
    try:
        outcome = await _alerts(request).send_test(user.installation, user.email)
    except Refused as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from exc
    return {"success": True, "outcome": outcome, "to": user.email}


def _invalid(fields: list[dict[str, str]]) -> JSONResponse:
    message = "; ".join(f"{item['field']}: {item['message']}" if item["field"] else item["message"]
                        for item in fields)
    return JSONResponse({"success": False, "error": {"code": "INVALID", "message": message, "fields": fields}},
                        status_code=422)
