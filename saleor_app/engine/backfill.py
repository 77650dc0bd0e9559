"""Backfill: apply a stage rule to the orders already in its stage, as if each had just entered it.

A new rule does not apply to orders already in its stage; backfill is the merchant's explicit way to make it.
It plans exactly what normal planning would for each open entry, with the same idempotency key
(installation, order, entry, rule), so an order that has the job already gets nothing and a second backfill
plans nothing. Timing counts from now. The condition is not a filter here: as everywhere, it is judged when the
job runs (on the latest snapshot), so an order that does not meet it now is planned and skipped then unless it
changed; the preview shows today's verdict so nobody is surprised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from saleor_app.domain.automation import Activity, AutomationSettings, Job, NewJob, OrderRecord, StageEntry
from saleor_app.domain.conditions import Condition, Verdict, evaluate
from saleor_app.domain.errors import PermanentError
from saleor_app.domain.jobs import JobState
from saleor_app.domain.planning import idempotency_key
from saleor_app.domain.ports import AutomationStore, AutomationTransaction, Clock
from saleor_app.domain.rules import Repeat, Rule
from saleor_app.domain.schedule import due_at

PAGE = 500


class BackfillError(PermanentError):
    """Backfill cannot run for this rule now; `code` says why (the API maps it to a status)."""

    code = "NOT_BACKFILLABLE"


class UnknownRule(BackfillError):
    code = "UNKNOWN_RULE"


class NotAStageRule(BackfillError):
    code = "NOT_A_STAGE_RULE"


class RuleDisabled(BackfillError):
    code = "RULE_DISABLED"


class AutomationPaused(BackfillError):
    code = "AUTOMATION_PAUSED"


class Outcome(StrEnum):
    PLAN = "plan"  # a job would be planned
    HAS_JOB = "has_job"  # this entry has a job of the rule already (planned at entry, or by an earlier backfill)
    RAN_ONCE = "ran_once"  # a once-per-order rule that has a job for this order already


@dataclass(frozen=True, slots=True)
class Candidate:
    """One order in the rule's stage and what backfill would do for it."""

    entry: StageEntry
    order: OrderRecord
    outcome: Outcome
    existing: Job | None  # the job this entry has already (HAS_JOB)
    condition: Verdict | None  # today's verdict on the stored snapshot; None: the rule has no condition
    due_at: datetime | None  # when the job would run (PLAN only)


@dataclass(frozen=True, slots=True)
class Preview:
    rule: Rule
    paused: bool
    total: int  # orders in the stage now
    candidates: list[Candidate]  # one page of them, by entry
    next_after: int | None  # pass as `after` for the next page; None on the last
    notes: list[str]


@dataclass(frozen=True, slots=True)
class Result:
    rule: Rule
    planned: int
    had_job: int
    skipped: int  # once per order, ran already
    due_now: int  # planned jobs due at once (wake the runner)


class Backfill:
    def __init__(self, store: AutomationStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def preview(self, installation_id: int, rule_key: str, *, limit: int = PAGE, after: int = 0) -> Preview:
        now = self._clock.now()
        async with self._store.reading() as tx:
            rule, stage = await _stage_rule(tx, installation_id, rule_key)
            settings = await tx.settings(installation_id)
            total = await tx.count_open_entries(installation_id, stage)
            page = await tx.open_entries(installation_id, stage, limit=limit + 1, after_entry_id=after)
            more = len(page) > limit
            page = page[:limit]
            existing = await tx.jobs_by_keys([_key(rule, entry, order) for entry, order in page])
            ran = (await tx.orders_with_rule_jobs(installation_id, rule.key)
                   if rule.repeat is Repeat.ONCE_PER_ORDER else set())
        due = _due(rule, now, settings)
        condition = Condition.model_validate(rule.condition) if rule.condition else None
        candidates = []
        for entry, order in page:
            job = existing.get(_key(rule, entry, order))
            outcome = (Outcome.HAS_JOB if job is not None else Outcome.RAN_ONCE if order.id in ran else Outcome.PLAN)
            verdict = (evaluate(condition, order.snapshot, now=now, time_zone=settings.time_zone)
                       if condition is not None else None)
            candidates.append(Candidate(entry, order, outcome, job, verdict,
                                        due if outcome is Outcome.PLAN else None))
        return Preview(rule, settings.paused, total, candidates, page[-1][0].id if more else None,
                       _notes(rule, settings))

    async def apply(self, installation_id: int, rule_key: str) -> Result:
        """Plan the rule's job for every open entry of its stage, in one transaction."""
        now = self._clock.now()
        planned = had_job = skipped = 0
        async with self._store.transaction() as tx:
            rule, stage = await _stage_rule(tx, installation_id, rule_key)
            settings = await tx.settings(installation_id)
            if settings.paused:
                raise AutomationPaused("automation is paused: resume it before backfilling (nothing is planned "
                                       "while paused)")
            due = _due(rule, now, settings)
            ran = (await tx.orders_with_rule_jobs(installation_id, rule.key)
                   if rule.repeat is Repeat.ONCE_PER_ORDER else set())
            when = f"due {due.isoformat(timespec='seconds')}" + (
                "; it follows the rule above it on entry, but backfill schedules it on its own, from now"
                if rule.after_previous else "")
            after = 0
            while page := await tx.open_entries(installation_id, stage, limit=PAGE, after_entry_id=after):
                after = page[-1][0].id
                existing = await tx.jobs_by_keys([_key(rule, entry, order) for entry, order in page])
                activities: list[Activity] = []
                for entry, order in page:
                    key = _key(rule, entry, order)
                    if key in existing:
                        had_job += 1
                        continue
                    if order.id in ran:
                        skipped += 1
                        continue
                    job_id = await tx.add_job(NewJob(
                        installation_id=installation_id, order_row_id=order.id, entry_id=entry.id, rule_id=rule.id,
                        rule_key=rule.key, kind=rule.kind, idempotency_key=key, state=JobState.SCHEDULED,
                        due_at=due), now)
                    if job_id is None:  # planned meanwhile by another process
                        had_job += 1
                        continue
                    planned += 1
                    activities.append(Activity(installation_id, "job", f"planned {rule.key} ({rule.kind}) by "
                                               f"backfill, {when}", order_row_id=order.id, job_id=job_id,
                                               state=JobState.SCHEDULED.value, stage_key=stage, rule_key=rule.key))
                await tx.log_many(activities, now)
            parts = [f"planned {planned}", f"{had_job} had it already"]
            if rule.repeat is Repeat.ONCE_PER_ORDER:
                parts.append(f"{skipped} skipped (once per order, ran already)")
            await tx.log(Activity(installation_id, "backfill", f"backfill of {rule.key} in {stage}: "
                                  f"{', '.join(parts)}", stage_key=stage, rule_key=rule.key), now)
        return Result(rule, planned, had_job, skipped, planned if due <= now else 0)


async def _stage_rule(tx: AutomationTransaction, installation_id: int, rule_key: str) -> tuple[Rule, str]:
    rule = await tx.rule_by_key(installation_id, rule_key)
    if rule is None:
        raise UnknownRule(f"there is no rule {rule_key!r}")
    if rule.stage_key is None:
        raise NotAStageRule(f"{rule_key} is an event rule: it runs when {rule.event} happens, so there is no "
                            "stage to backfill; only stage rules can be backfilled")
    if not rule.enabled:
        raise RuleDisabled(f"{rule_key} is disabled: enable it before backfilling")
    return rule, rule.stage_key


def _key(rule: Rule, entry: StageEntry, order: OrderRecord) -> str:
    return idempotency_key(order.installation_id, order.order_id, f"entry:{entry.id}", rule.key)


def _due(rule: Rule, now: datetime, settings: AutomationSettings) -> datetime:
    return due_at(now, delay=rule.delay, at=rule.at, zone=settings.zone)


def _notes(rule: Rule, settings: AutomationSettings) -> list[str]:
    notes: list[str] = []
    if settings.paused:
        notes.append("automation is paused: backfill is refused until it is resumed")
    if rule.after_previous:
        notes.append("on entry this rule waits for the rule above it; backfill schedules it on its own, timed "
                     "from now")
    if rule.condition:
        notes.append("the condition is judged again when each job runs, on the latest order data: orders that "
                     "do not meet it now are planned too, and skipped then unless they changed")
    if rule.repeat is Repeat.ONCE_PER_ORDER:
        notes.append("once per order: orders this rule has a job for already are left out")
    return notes


def outcome_text(candidate: Candidate) -> str:
    """What backfill would do for one order, in a few words (the CLI's table, the API's `summary`)."""
    if candidate.outcome is Outcome.HAS_JOB:
        state = candidate.existing.state.value if candidate.existing is not None else "?"
        return f"nothing: has a job already ({state})"
    if candidate.outcome is Outcome.RAN_ONCE:
        return "nothing: once per order, ran already"
    assert candidate.due_at is not None
    return f"plan, due {candidate.due_at.isoformat(timespec='seconds')}"
