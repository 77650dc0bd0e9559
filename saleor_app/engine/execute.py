"""Run one claimed job: re-check everything right before the side effect, run it, record the outcome.

Phases, each its own short transaction with the side effect outside any: decide (is the job still due, its
entry still open, its rule still enabled; too late; quiet hours), refresh (a delayed job whose snapshot is older
than its scheduling re-reads the order), check the condition on that snapshot, act, record and release or cancel
the successor.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from saleor_app.domain import kinds
from saleor_app.domain.automation import Activity, Job, OrderRecord
from saleor_app.domain.conditions import Condition, evaluate
from saleor_app.domain.errors import OutcomeUnknown, PermanentError, RetryableError, RunTakenOver, SkipJob
from saleor_app.domain.installations import Installation
from saleor_app.domain.jobs import MOVE_JOB, Chain, JobState, next_retry, successor_fate
from saleor_app.domain.planning import released_due_at
from saleor_app.domain.ports import (
    AutomationStore,
    AutomationTransaction,
    Clock,
    ExecutionInput,
    GatewayFor,
    InstallationRepository,
    OrderGateway,
)
from saleor_app.domain.rules import Rule
from saleor_app.domain.schedule import after_quiet_hours

log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class ActionContext:
    installation: Installation
    order: OrderRecord
    rule: Rule
    job: Job
    config: kinds.KindConfig
    gateway: OrderGateway
    move_to: Callable[[str, str], Awaitable[str]]  # (stage key, reason) → what happened


ActionHandler = Callable[[ActionContext], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Outcome:
    job: Job
    state: JobState
    reason: str
    due_at: datetime | None = None


class ExecuteJob:
    """Runs claimed jobs in batches: one read for everything to check, the side effects concurrently, one write
    for all outcomes (SQLite pays per statement and per commit, so the batch is what keeps the runner fast)."""

    def __init__(
        self,
        store: AutomationStore,
        installations: InstallationRepository,
        gateways: GatewayFor,
        handlers: Mapping[str, ActionHandler],
        clock: Clock,
        mover: Callable[[Installation, OrderRecord, str, str], Awaitable[str]],
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._installations = installations
        self._gateways = gateways
        self._handlers = handlers
        self._clock = clock
        self._mover = mover
        self._rng = rng or random.Random()

    async def run_batch(self, job_ids: Sequence[int]) -> dict[int, JobState]:
        now = self._clock.now()
        outcomes: list[Outcome] = []
        runnable: list[tuple[ExecutionInput, Installation]] = []
        for item in await self._store.load_for_execution(job_ids):
            if item.job.state is not JobState.RUNNING:
                continue  # cancelled meanwhile, or another worker owns it
            installation = await self._installations.get(item.job.installation_id)
            verdict = self._precheck(item, installation, now)
            if verdict is not None:
                outcomes.append(verdict)
            elif installation is not None:
                runnable.append((item, installation))
        outcomes.extend(await asyncio.gather(*(self._act(item, installation) for item, installation in runnable)))
        return await self._record(outcomes)

    def _precheck(self, item: ExecutionInput, installation: Installation | None, now: datetime) -> Outcome | None:
        job, rule = item.job, item.rule
        if job.kind == MOVE_JOB:  # a trigger's move: no rule, its target is in the payload
            if item.order is None or installation is None or not installation.is_active:
                return Outcome(job, JobState.CANCELLED, "cancelled: the order or installation is gone")
            return None
        if rule is None or not rule.enabled:
            what = "deleted" if rule is None else "disabled"
            return Outcome(job, JobState.CANCELLED, f"cancelled: the rule was {what}")
        if job.entry_id is not None and (item.entry is None or item.entry.left_at is not None):
            return Outcome(job, JobState.CANCELLED, "cancelled: the order left the stage")
        if item.order is None or installation is None or not installation.is_active:
            return Outcome(job, JobState.CANCELLED, "cancelled: the order or installation is gone")
        due = job.due_at or job.created_at
        if rule.max_age is not None and now - due > rule.max_age:
            return Outcome(job, JobState.SKIPPED, f"skipped: too late ({_duration(now - due)} after it was due; "
                                                  f"max age {_duration(rule.max_age)})")
        try:
            realtime = kinds.kind(rule.kind).realtime_customer_facing
        except kinds.UnknownKind as exc:
            return Outcome(job, JobState.FAILED, f"failed: {exc}")
        if realtime:
            deferred = after_quiet_hours(now, item.settings.quiet_hours, item.settings.zone)
            if deferred != now:
                return Outcome(job, JobState.SCHEDULED, "deferred to the end of quiet hours, "
                                                        f"{deferred.isoformat(timespec='minutes')}", due_at=deferred)
        return None

    async def _act(self, item: ExecutionInput, installation: Installation) -> Outcome:
        job, rule, order = item.job, item.rule, item.order
        assert order is not None
        try:
            if job.kind == MOVE_JOB:
                payload = job.payload or {}
                summary = await self._mover(installation, order, str(payload.get("stage")),
                                            str(payload.get("reason") or job.rule_key))
                return Outcome(job, JobState.SUCCEEDED, f"succeeded: {summary}")
            assert rule is not None
            gateway = await self._gateways(installation)
            order = await self._fresh(job, rule, order, gateway)
            config = kinds.validate_config(rule.kind, rule.config)
            if rule.condition:
                verdict = evaluate(Condition.model_validate(rule.condition), order.snapshot, now=self._clock.now(),
                                   time_zone=item.settings.time_zone)
                if not verdict.passed:
                    raise SkipJob(f"condition not met: {verdict.reason}")
            handler = self._handlers.get(rule.kind)
            if handler is None:
                raise PermanentError(f"no handler is configured for rule kind {rule.kind!r}")
            spec = kinds.kind(rule.kind)
            if not spec.idempotent and not spec.one_message:  # a one-message kind's message row marks it
                if not await self._store.hand_over(job.id, job.attempts, self._clock.now()):
                    raise RunTakenOver(f"job {job.id} is no longer held by attempt {job.attempts}")
            fresh = order
            summary = await handler(ActionContext(
                installation, fresh, rule, job, config, gateway,
                lambda stage, reason: self._mover(installation, fresh, stage, reason),
            ))
        except RunTakenOver:
            log.warning("a run stopped before handing anything over: another run holds its job now",
                        extra={"job_id": job.id, "installation_id": job.installation_id, "attempt": job.attempts})
            return Outcome(job, JobState.RUNNING, "taken over")  # not recorded: the job is no longer this run's
        except SkipJob as exc:
            return Outcome(job, JobState.SKIPPED, f"skipped: {exc}")
        except OutcomeUnknown as exc:
            return Outcome(job, JobState.UNKNOWN, f"unknown: {exc}")
        except RetryableError as exc:
            now = self._clock.now()
            when = next_retry(job.attempts, job.first_attempt_at or now, now, self._rng)
            if when is None:
                return Outcome(job, JobState.DEAD, f"dead: retries exhausted; last error: {exc}")
            return Outcome(job, JobState.RETRYING, f"retrying at {when.isoformat(timespec='seconds')}: {exc}",
                           due_at=when)
        except (PermanentError, ValidationError, kinds.UnknownKind) as exc:
            return Outcome(job, JobState.FAILED, f"failed: {exc}")
        except Exception as exc:  # a bug, not a provider's answer: fail visibly rather than loop
            log.exception("job crashed", extra={"job_id": job.id, "installation_id": job.installation_id})
            return Outcome(job, JobState.FAILED, f"failed: internal error {exc.__class__.__name__}")
        return Outcome(job, JobState.SUCCEEDED, f"succeeded: {summary}")

    async def _fresh(self, job: Job, rule: Rule, order: OrderRecord, gateway: OrderGateway) -> OrderRecord:
        """A delayed job acts on what is true now: re-read when the snapshot predates the job's scheduling
        (a "call if unpaid after 2 days" must not call a customer who paid yesterday)."""
        if rule.immediate or order.snapshot_at > job.created_at:
            return order  # a webhook refreshed it since the job was planned (every webhook re-reads the order)
        snapshot = await gateway.get_order(order.order_id)
        if snapshot is None:
            raise SkipJob("the order no longer exists in Saleor")
        async with self._store.transaction() as tx:
            return await tx.save_order(order.installation_id, order.order_id, snapshot, self._clock.now())

    async def _record(self, outcomes: Sequence[Outcome]) -> dict[int, JobState]:
        if not outcomes:
            return {}
        now = self._clock.now()
        async with self._store.transaction() as tx:
            current = await tx.jobs_by_id([outcome.job.id for outcome in outcomes])
            live = [o for o in outcomes if o.job.id in current and current[o.job.id].state is JobState.RUNNING
                    and current[o.job.id].attempts == o.job.attempts]  # a run taken over records nothing
            changes: list[dict[str, Any]] = []
            for outcome in live:
                change: dict[str, Any] = {"job_id": outcome.job.id, "state": outcome.state, "reason": outcome.reason}
                if outcome.due_at is not None:
                    change["due_at"] = outcome.due_at
                changes.append(change)
            await tx.finish_jobs(changes, now)
            await tx.log_many([
                Activity(o.job.installation_id, "job", f"{o.job.rule_key}: {o.reason}", order_row_id=o.job.order_row_id,
                         job_id=o.job.id, state=o.state.value, rule_key=o.job.rule_key) for o in live], now)
            deferred = [o for o in live if o.state is JobState.SCHEDULED]
            for outcome in deferred:  # quiet hours: the attempt does not count
                await tx.update_job(outcome.job.id, now, attempts=outcome.job.attempts - 1)
            settled = [o for o in live if successor_fate(o.state) is not Chain.HOLD]
            if settled and await tx.waiting_successors([o.job.id for o in settled]):
                for outcome in settled:
                    await settle_successors(tx, outcome.job, outcome.state, now)
        return {o.job.id: (o.state if o in live else current[o.job.id].state if o.job.id in current else o.state)
                for o in outcomes}


async def settle_successors(tx: AutomationTransaction, job: Job, state: JobState, now: datetime) -> None:
    """Release, cancel or keep holding the jobs waiting on `job` (and, for a cancel, their own successors)."""
    fate = successor_fate(state)
    if fate is Chain.HOLD:
        return
    for successor in await tx.successors(job.id):
        if successor.state is not JobState.WAITING:
            continue
        if fate is Chain.RELEASE:
            rule = await tx.rule(successor.rule_id) if successor.rule_id is not None else None
            settings = await tx.settings(successor.installation_id)
            due = released_due_at(rule, now, settings.zone) if rule is not None else now
            await tx.update_job(successor.id, now, state=JobState.SCHEDULED, due_at=due,
                                reason=f"released: {job.rule_key} {state.value}")
            await tx.log(Activity(successor.installation_id, "job",
                                  f"{successor.rule_key}: released by {job.rule_key}, due "
                                  f"{due.isoformat(timespec='seconds')}", order_row_id=successor.order_row_id,
                                  job_id=successor.id, state=JobState.SCHEDULED.value,
                                  rule_key=successor.rule_key), now)
        else:
            reason = f"cancelled: the previous rule {job.rule_key} {state.value}"
            await tx.update_job(successor.id, now, state=JobState.CANCELLED, reason=reason)
            await tx.log(Activity(successor.installation_id, "job", f"{successor.rule_key}: {reason}",
                                  order_row_id=successor.order_row_id, job_id=successor.id,
                                  state=JobState.CANCELLED.value, rule_key=successor.rule_key), now)
            cancelled = await tx.job(successor.id)
            if cancelled is not None:
                await settle_successors(tx, cancelled, JobState.CANCELLED, now)


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{value}{unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")) if value]
    return " ".join(parts) or "0s"
