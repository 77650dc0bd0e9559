"""Backfill over the JSON API: preview which orders a stage rule would be applied to, then apply it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from saleor_app.engine.backfill import Backfill, BackfillError, Candidate, UnknownRule, outcome_text
from saleor_app.saleor.dashboard_auth import OrderManagerDep
from saleor_app.saleor.responses import ApiError
from saleor_app.web.ids import Cursor

router = APIRouter(prefix="/api/v1", tags=["backfill"])


class _Public(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class RulePublic(_Public):
    key: str
    name: str
    kind: str
    stage: str


class ConditionVerdictPublic(_Public):
    passed: bool
    reason: str


class BackfillOrderPublic(_Public):
    order_id: str
    number: str | None
    entered_at: datetime
    adopted: bool  # the order predates the installation: no rules ran for it on entry
    outcome: str  # plan | has_job | ran_once
    existing_job_state: str | None
    condition: ConditionVerdictPublic | None  # today's verdict; judged again when the job runs
    due_at: datetime | None
    summary: str


class BackfillPreviewPublic(_Public):
    rule: RulePublic
    paused: bool
    total: int
    orders: list[BackfillOrderPublic]
    next_after: int | None  # pass as `after` for the next page
    notes: list[str]


class BackfillResultPublic(_Public):
    rule: RulePublic
    planned: int
    had_job: int
    skipped: int


def _backfill(request: Request) -> Backfill:
    backfill: Backfill = request.app.state.container.backfill  # the container is built in wiring (composition root)
    return backfill


def _refused(exc: BackfillError) -> ApiError:
    return ApiError(404 if isinstance(exc, UnknownRule) else 409, exc.code, str(exc))


def _order(candidate: Candidate) -> BackfillOrderPublic:
    verdict = candidate.condition
    return BackfillOrderPublic(
        order_id=candidate.order.order_id, number=candidate.order.number, entered_at=candidate.entry.entered_at,
        adopted=candidate.entry.adopted, outcome=candidate.outcome.value,
        existing_job_state=candidate.existing.state.value if candidate.existing is not None else None,
        condition=ConditionVerdictPublic(passed=verdict.passed, reason=verdict.reason) if verdict else None,
        due_at=candidate.due_at, summary=outcome_text(candidate),
    )


@router.get("/rules/{key}/backfill", response_model=BackfillPreviewPublic)
async def preview_backfill(
    key: str, user: OrderManagerDep, request: Request,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    after: Annotated[Cursor, Query(description="the previous page's nextAfter")] = 0,
) -> BackfillPreviewPublic:
    """The orders in the rule's stage now, and what applying the rule to them would do."""
    try:
        preview = await _backfill(request).preview(user.installation.id, key, limit=limit, after=after)
    except BackfillError as exc:
        raise _refused(exc) from exc
    rule = preview.rule
    return BackfillPreviewPublic(
        rule=RulePublic(key=rule.key, name=rule.name, kind=rule.kind, stage=rule.stage_key or ""),
        paused=preview.paused, total=preview.total, orders=[_order(c) for c in preview.candidates],
        next_after=preview.next_after, notes=preview.notes,
    )


@router.post("/rules/{key}/backfill", response_model=BackfillResultPublic)
async def apply_backfill(key: str, user: OrderManagerDep, request: Request) -> BackfillResultPublic:
    """Plan the rule for every order in its stage, as if it had just entered (nothing is planned twice)."""
    try:
        result = await _backfill(request).apply(user.installation.id, key)
    except BackfillError as exc:
        raise _refused(exc) from exc
    if result.due_now:
        request.app.state.container.runner.wake()  # jobs due now run at once, not at the runner's next poll
    rule = result.rule
    return BackfillResultPublic(
        rule=RulePublic(key=rule.key, name=rule.name, kind=rule.kind, stage=rule.stage_key or ""),
        planned=result.planned, had_job=result.had_job, skipped=result.skipped,
    )
