"""The activity log and what a person does about its jobs: replay a failed one, resolve one whose outcome is unknown.

The log is polled (`after`), not pushed: EventSource cannot send the Dashboard token, which travels in a header.
Each entry carries its job's state *now* beside the state it was written with, and a poll also returns the current
state of every job mentioned since, so rows already on screen are brought up to date by the same request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from saleor_app.domain.automation import ActivityDelivery, ActivityFilter, LoggedActivity
from saleor_app.domain.errors import Refused
from saleor_app.domain.jobs import JobState
from saleor_app.engine.replay import REPLAYABLE
from saleor_app.saleor.dashboard_auth import DashboardUser, OrderManagerDep
from saleor_app.saleor.responses import ApiError
from saleor_app.web.api import find_order, rehearsal_json
from saleor_app.web.ids import Cursor, RowId

router = APIRouter(prefix="/api/v1", tags=["activity"])

STATES = {state.value for state in JobState}
REPLAYABLE_STATES = {state.value for state in REPLAYABLE}


@router.get("/activity")
async def activity(
    user: OrderManagerDep, request: Request, order: str | None = None, stage: str | None = None,
    rule: str | None = None, trigger: str | None = None,
    state: str | None = Query(None, description="a job state, or several separated by commas: dead,unknown"),
    since: datetime | None = None, until: datetime | None = None, before: Cursor | None = None,
    after: Annotated[Cursor | None, Query(description="only entries newer than this id (polling); the oldest "
                                                      "first `limit` of them, so nothing is skipped")] = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """The store-wide activity log, newest first, narrowed by order (id or number), stage, rule, trigger, job state
    and time; page back with `before` (the last entry's id), poll forward with `after` (the newest entry's id)."""
    container = request.app.state.container
    states = _states(state)
    order_row_id = (await find_order(request, user, order)).id if order else None
    where = ActivityFilter(order_row_id=order_row_id, stage_key=stage or None, rule_key=rule or None,
                           trigger_key=trigger or None, states=states, since=since, until=until, before_id=before,
                           after_id=after, limit=limit)
    async with container.automation.reading() as tx:
        newest = await tx.newest_activity_id(user.installation.id)
        entries = await tx.activity(user.installation.id, where)
        changed = await tx.job_changes(user.installation.id, after) if after is not None else []
    full = len(entries) == limit
    # `newest` is read first: a filtered view polls from the log's newest id, not from its own last (maybe old)
    # match, so each poll looks at a few new lines only; an entry written meanwhile comes again next time.
    answer: dict[str, Any] = {"entries": [_entry(entry) for entry in entries],
                              "next": entries[-1].id if full and after is None else None, "newest": newest}
    if after is not None:
        answer["more"] = full  # poll again at once (after the last entry): more new entries wait
        answer["changed"] = [{"job": c.job_id, "state": c.state, "reason": c.reason, "actions": _actions(c.state)}
                             for c in changed]
    return answer


@router.get("/jobs/{job_id}/replay")
async def replay_preview(job_id: RowId, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Exactly what replaying this failed, dead or unknown job would do now."""
    try:
        preview = await request.app.state.container.replay.preview(user.installation, job_id)
    except Refused as exc:
        raise ApiError(exc.status, "replay_refused", str(exc)) from exc
    return {"job": job_id, "state": preview.job.state.value, "reason": preview.job.reason,
            "rule": preview.job.rule_key, "wouldDo": rehearsal_json(preview.rehearsal), "notes": list(preview.notes)}


@router.post("/jobs/{job_id}/replay")
async def replay(job_id: RowId, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Run a failed, dead or unknown job again, now, with its rule as it is today."""
    try:
        job = await request.app.state.container.replay.replay(user.installation, job_id, asked_by=_who(user))
    except Refused as exc:
        raise ApiError(exc.status, "replay_refused", str(exc)) from exc
    return {"job": job.id, "state": job.state.value, "reason": job.reason, "actions": _actions(job.state.value)}


class ResolveRequest(BaseModel):
    sent: bool = Field(description="true: it reached the customer (it succeeds, the next rule follows); "
                                   "false: it did not (it is sent again now)")


@router.post("/jobs/{job_id}/resolve")
async def resolve(job_id: RowId, body: ResolveRequest, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Settle a job whose outcome is unknown (a send interrupted mid-way) on the word of the person who checked."""
    try:
        job = await request.app.state.container.replay.resolve(user.installation, job_id, sent=body.sent,
                                                               decided_by=_who(user))
    except Refused as exc:
        raise ApiError(exc.status, "resolve_refused", str(exc)) from exc
    return {"job": job.id, "state": job.state.value, "reason": job.reason, "actions": _actions(job.state.value)}


def _who(user: DashboardUser) -> str:
    return user.email or user.user_id or "a staff member"


def _states(raw: str | None) -> tuple[str, ...]:
    states = tuple(dict.fromkeys(part.strip().lower() for part in (raw or "").split(",") if part.strip()))
    unknown = [state for state in states if state not in STATES]
    if unknown:
        raise ApiError(422, "invalid_state", f"unknown job state {', '.join(unknown)}; use one or more of "
                                             f"{', '.join(sorted(STATES))}, separated by commas")
    return states


def _actions(job_state: str | None) -> list[str]:
    """What a person can do about the job now: replay (failed, dead, unknown) and resolve (unknown)."""
    actions = ["replay"] if job_state in REPLAYABLE_STATES else []
    return [*actions, "resolve"] if job_state == JobState.UNKNOWN.value else actions


def _reason(entry: LoggedActivity) -> str:
    """The line without its rule's key in front ("thanks: skipped: no email address" → "skipped: no email
    address"); the row names the rule itself."""
    prefix = f"{entry.rule_key}: " if entry.rule_key else ""
    return entry.message.removeprefix(prefix) if prefix else entry.message


def _entry(entry: LoggedActivity) -> dict[str, Any]:
    return {"id": entry.id, "at": entry.at.isoformat(), "kind": entry.kind, "message": entry.message,
            "reason": _reason(entry), "state": entry.state, "order": entry.order_id, "orderNumber": entry.order_number,
            "job": entry.job_id, "jobState": entry.job_state, "jobReason": entry.job_reason, "jobKind": entry.job_kind,
            "actions": _actions(entry.job_state), "stage": entry.stage_key, "rule": entry.rule_key,
            "trigger": entry.trigger_key, "delivery": _delivery(entry.delivery)}


def _delivery(send: ActivityDelivery | None) -> dict[str, Any] | None:
    if send is None:
        return None
    return {"channel": send.channel, "sender": send.sender, "recipient": send.recipient,
            "providerId": send.provider_message_id, "state": send.state, "reason": send.reason,
            "lastEvent": send.last_event, "lastEventAt": send.last_event_at.isoformat() if send.last_event_at else None,
            "excerpt": send.excerpt}
