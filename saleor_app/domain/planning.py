"""Planning: which jobs a stage entry gets, in which state and when (pure)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from saleor_app.domain.jobs import JobState
from saleor_app.domain.rules import Repeat, Rule
from saleor_app.domain.schedule import due_at


@dataclass(frozen=True, slots=True)
class PlannedJob:
    rule: Rule
    state: JobState  # SCHEDULED, or WAITING for the job at `predecessor` (an index into the plan)
    due_at: datetime | None
    predecessor: int | None = None


def plan_entry(
    rules: Sequence[Rule], *, entered_at: datetime, zone: ZoneInfo, ran_once: Collection[str] = ()
) -> list[PlannedJob]:
    """Enabled rules in order; parallel ones start at entry, after-previous ones wait for the nearest planned
    rule above them. A once-per-order rule that already ran for this order is not planned again."""
    plan: list[PlannedJob] = []
    for rule in sorted(rules, key=lambda r: r.position):
        if not rule.enabled or (rule.repeat is Repeat.ONCE_PER_ORDER and rule.key in ran_once):
            continue
        if rule.after_previous and plan:
            plan.append(PlannedJob(rule, JobState.WAITING, None, predecessor=len(plan) - 1))
        else:
            plan.append(PlannedJob(rule, JobState.SCHEDULED, due_at(entered_at, delay=rule.delay, at=rule.at,
                                                                     zone=zone)))
    return plan


def released_due_at(rule: Rule, released_at: datetime, zone: ZoneInfo) -> datetime:
    """An after-previous job's delay counts from the moment its predecessor finished."""
    return due_at(released_at, delay=rule.delay, at=rule.at, zone=zone)


def idempotency_key(installation_id: int, order_id: str, origin: str, rule_key: str) -> str:
    """One job per (installation, order, what started it, rule): a duplicate webhook or replay plans nothing."""
    return f"{installation_id}:{order_id}:{origin}:{rule_key}"
