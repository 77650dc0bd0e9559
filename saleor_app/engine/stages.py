"""Moving an order into a stage: close the old entry, cancel what it had pending, open the new one, plan jobs.

Always inside the caller's transaction, so the move and its jobs commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from saleor_app.domain.automation import Activity, NewJob, OrderRecord, StageEntry
from saleor_app.domain.events import OrderEvent
from saleor_app.domain.jobs import JobState
from saleor_app.domain.planning import idempotency_key, plan_entry
from saleor_app.domain.ports import AutomationTransaction, Clock
from saleor_app.domain.rules import Repeat, Rule


async def enter_stage(
    tx: AutomationTransaction,
    clock: Clock,
    order: OrderRecord,
    target: str,
    *,
    reason: str,
    adopted: bool = False,
    without_rules: str | None = None,
) -> StageEntry | None:
    """Move `order` into `target`; None when it is there already (moving into the current stage does nothing).
    `without_rules` says why the stage's rules do not run (an order passing through on its way elsewhere)."""
    current = await tx.open_entry(order.id)
    if current is not None and current.stage_key == target:
        return None
    now = clock.now()
    installation_id = order.installation_id
    activities: list[Activity] = []
    if current is not None:
        activities += [
            Activity(installation_id, "job", f"cancelled: order moved to {target}", order_row_id=order.id,
                     job_id=job_id, state=JobState.CANCELLED.value, stage_key=current.stage_key)
            for job_id in await tx.cancel_pending(current.id, f"order moved to {target}", now)
        ]
    entry = await tx.enter(installation_id, order.id, target, now, adopted=adopted, reason=reason,
                           leaving=current.id if current is not None else None)
    move = f"entered {target}" if current is None else f"moved from {current.stage_key} to {target}"
    activities.append(Activity(installation_id, "stage", f"{move}: {reason}", order_row_id=order.id,
                               stage_key=target))
    if adopted:
        activities.append(Activity(installation_id, "adopted", f"adopted in {target}: the order predates the "
                                   "installation, its rules do not run", order_row_id=order.id, stage_key=target))
    elif without_rules is not None:
        activities.append(Activity(installation_id, "stage", f"the rules of {target} do not run: {without_rules}",
                                   order_row_id=order.id, stage_key=target))
    else:
        settings = await tx.settings(installation_id)
        if settings.paused:
            activities.append(Activity(installation_id, "stage", f"automation is paused: the rules of {target} do "
                                       "not run", order_row_id=order.id))
        else:
            activities += await plan_jobs(tx, order, entry, settings.zone)
    await tx.log_many(activities, now)
    return entry


async def plan_jobs(
    tx: AutomationTransaction, order: OrderRecord, entry: StageEntry, zone: ZoneInfo
) -> list[Activity]:
    """Insert the entry's jobs; returns what to log. Jobs are inserted one by one: a chain needs its ids."""
    installation_id = order.installation_id
    rules = await tx.rules(installation_id, entry.stage_key)
    if not rules:
        return []
    once = any(rule.repeat is Repeat.ONCE_PER_ORDER for rule in rules)
    plan = plan_entry(rules, entered_at=entry.entered_at, zone=zone,
                      ran_once=await tx.ran_once(order.id) if once else ())
    ids: list[int | None] = []
    activities: list[Activity] = []
    for planned in plan:
        predecessor = ids[planned.predecessor] if planned.predecessor is not None else None
        job = NewJob(
            installation_id=installation_id,
            order_row_id=order.id,
            entry_id=entry.id,
            rule_id=planned.rule.id,
            rule_key=planned.rule.key,
            kind=planned.rule.kind,
            idempotency_key=idempotency_key(installation_id, order.order_id, f"entry:{entry.id}", planned.rule.key),
            state=planned.state,
            due_at=planned.due_at,
            predecessor_id=predecessor,
        )
        job_id = await tx.add_job(job, entry.entered_at)
        ids.append(job_id)
        if job_id is None:
            continue  # planned before (same idempotency key): nothing twice
        when = (f"due {planned.due_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if planned.due_at is not None
                else f"waiting for {plan[planned.predecessor].rule.key}" if planned.predecessor is not None else "")
        activities.append(Activity(installation_id, "job", f"planned {planned.rule.key} ({planned.rule.kind}), "
                                   f"{when}", order_row_id=order.id, job_id=job_id, state=planned.state.value,
                                   rule_key=planned.rule.key, stage_key=entry.stage_key))
    return activities


async def plan_event_jobs(
    tx: AutomationTransaction, order: OrderRecord, event: OrderEvent, rules: Sequence[Rule], now: datetime,
    zone: ZoneInfo,
) -> list[Activity]:
    """Jobs of the rules bound to `event`, once per occurrence (keyed by the event's identity). They outlive stage
    moves, unless a rule says cancel_on_move: then they belong to the order's open stage entry."""
    chosen = [rule for rule in rules if rule.event == event.name and event.matches(rule.event_params or {})]
    if not chosen:
        return []
    once = any(rule.repeat is Repeat.ONCE_PER_ORDER for rule in chosen)
    plan = plan_entry(chosen, entered_at=now, zone=zone, ran_once=await tx.ran_once(order.id) if once else ())
    entry = await tx.open_entry(order.id) if any(rule.cancel_on_move for rule in chosen) else None
    ids: list[int | None] = []
    activities: list[Activity] = []
    for planned in plan:
        rule = planned.rule
        job_id = await tx.add_job(NewJob(
            installation_id=order.installation_id, order_row_id=order.id,
            entry_id=entry.id if entry is not None and rule.cancel_on_move else None,
            rule_id=rule.id, rule_key=rule.key, kind=rule.kind,
            idempotency_key=idempotency_key(order.installation_id, order.order_id, f"event:{event.identity}", rule.key),
            state=planned.state, due_at=planned.due_at,
            predecessor_id=ids[planned.predecessor] if planned.predecessor is not None else None,
        ), now)
        ids.append(job_id)
        if job_id is not None:
            activities.append(Activity(order.installation_id, "job", f"planned {rule.key} ({rule.kind}) on "
                                       f"{event.name}", order_row_id=order.id, job_id=job_id,
                                       state=planned.state.value, rule_key=rule.key))
    return activities


LOOP_WINDOW = timedelta(minutes=10)
LOOP_LIMIT = 12


async def loop_detected(tx: AutomationTransaction, order_row_id: int, now: datetime) -> str | None:
    """Triggers and change-stage rules can send an order back and forth forever; past a limit they stop."""
    moves = await tx.entries_since(order_row_id, now - LOOP_WINDOW)
    if moves < LOOP_LIMIT:
        return None
    return (f"stopped: the order changed stage {moves} times in {int(LOOP_WINDOW.total_seconds() // 60)} minutes, "
            "which looks like a loop between triggers and change-stage rules; check them")

