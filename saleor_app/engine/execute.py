"""Run one claimed job: re-check everything right before the side effect, run it, record the outcome.

Phases, each its own short transaction with the side effect outside any: decide (is the job still due, its
entry still open, its rule still enabled; too late; quiet hours), refresh (a delayed job whose snapshot is older
than its scheduling re-reads the order), check the condition on that snapshot, act, record and release or cancel
the successor.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError

from saleor_app.domain import kinds
from saleor_app.domain.automation import Activity, Job, OrderRecord
from saleor_app.domain.conditions import Condition, evaluate
from saleor_app.domain.errors import PermanentError, RetryableError, SkipJob
from saleor_app.domain.installations import Installation
from saleor_app.domain.jobs import Chain, JobState, next_retry, successor_fate
from saleor_app.domain.planning import released_due_at
from saleor_app.domain.ports import AutomationStore, AutomationTransaction, Clock, InstallationRepository, OrderGateway
from saleor_app.domain.rules import Rule
from saleor_app.domain.schedule import after_quiet_hours

log = logging.getLogger(__name__)

GatewayFor = Callable[[Installation], Awaitable[OrderGateway]]


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


class ExecuteJob:
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

    async def __call__(self, job_id: int) -> JobState | None:
        decided = await self._decide(job_id)
        if decided is None:
            return None
        job, rule, order, installation = decided
        try:
            gateway = await self._gateways(installation)
            order = await self._fresh(job, rule, order, gateway)
            config = kinds.validate_config(rule.kind, rule.config)
            await self._check_condition(rule, order, installation.id)
            handler = self._handlers.get(rule.kind)
            if handler is None:
                raise PermanentError(f"no handler is configured for rule kind {rule.kind!r}")
            summary = await handler(ActionContext(
                installation, order, rule, job, config, gateway,
                lambda stage, reason: self._mover(installation, order, stage, reason),
            ))
        except SkipJob as exc:
            return await self._finish(job, JobState.SKIPPED, f"skipped: {exc}")
        except RetryableError as exc:
            return await self._retry(job, str(exc))
        except (PermanentError, ValidationError, kinds.UnknownKind) as exc:
            return await self._finish(job, JobState.FAILED, f"failed: {exc}")
        except Exception as exc:  # a bug, not a provider's answer: fail visibly rather than loop
            log.exception("job crashed", extra={"job_id": job.id, "installation_id": job.installation_id})
            return await self._finish(job, JobState.FAILED, f"failed: internal error {exc.__class__.__name__}")
        return await self._finish(job, JobState.SUCCEEDED, f"succeeded: {summary}")

    async def _decide(self, job_id: int) -> tuple[Job, Rule, OrderRecord, Installation] | None:
        now = self._clock.now()
        async with self._store.transaction() as tx:
            job = await tx.job(job_id)
            if job is None or job.state is not JobState.RUNNING:
                return None  # cancelled meanwhile, or another worker owns it
            rule = await tx.rule(job.rule_id) if job.rule_id is not None else None
            if rule is None or not rule.enabled:
                what = "deleted" if rule is None else "disabled"
                await self._close(tx, job, JobState.CANCELLED, f"cancelled: the rule was {what}", now)
                return None
            if job.entry_id is not None:
                entry = await tx.entry(job.entry_id)
                if entry is None or entry.left_at is not None:
                    await self._close(tx, job, JobState.CANCELLED, "cancelled: the order left the stage", now)
                    return None
            order = await tx.order_by_row(job.order_row_id)
            installation = await self._installations.get(job.installation_id)
            if order is None or installation is None or not installation.is_active:
                await self._close(tx, job, JobState.CANCELLED, "cancelled: the order or installation is gone", now)
                return None
            due = job.due_at or job.created_at
            if rule.max_age is not None and now - due > rule.max_age:
                late = now - due
                await self._close(tx, job, JobState.SKIPPED,
                                  f"skipped: too late ({_duration(late)} after it was due; max age "
                                  f"{_duration(rule.max_age)})", now)
                return None
            if kinds.kind(rule.kind).realtime_customer_facing:
                settings = await tx.settings(job.installation_id)
                deferred = after_quiet_hours(now, settings.quiet_hours, settings.zone)
                if deferred != now:
                    await tx.update_job(job.id, now, state=JobState.SCHEDULED, due_at=deferred, lease_until=None,
                                        attempts=job.attempts - 1)
                    await tx.log(Activity(job.installation_id, "job", "deferred to the end of quiet hours, "
                                          f"{deferred.isoformat(timespec='minutes')}", order_row_id=job.order_row_id,
                                          job_id=job.id, state=JobState.SCHEDULED.value), now)
                    return None
        return job, rule, order, installation

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

    async def _check_condition(self, rule: Rule, order: OrderRecord, installation_id: int) -> None:
        if not rule.condition:
            return
        async with self._store.transaction() as tx:
            settings = await tx.settings(installation_id)
        verdict = evaluate(Condition.model_validate(rule.condition), order.snapshot, now=self._clock.now(),
                           time_zone=settings.time_zone)
        if not verdict.passed:
            raise SkipJob(f"condition not met: {verdict.reason}")

    async def _retry(self, job: Job, reason: str) -> JobState:
        now = self._clock.now()
        when = next_retry(job.attempts, job.first_attempt_at or now, now, self._rng)
        if when is None:
            return await self._finish(job, JobState.DEAD, f"dead: retries exhausted; last error: {reason}")
        async with self._store.transaction() as tx:
            await tx.update_job(job.id, now, state=JobState.RETRYING, due_at=when, lease_until=None,
                                reason=f"retrying: {reason}")
            await tx.log(Activity(job.installation_id, "job", f"retrying at {when.isoformat(timespec='seconds')}: "
                                  f"{reason}", order_row_id=job.order_row_id, job_id=job.id,
                                  state=JobState.RETRYING.value), now)
        return JobState.RETRYING

    async def _finish(self, job: Job, state: JobState, reason: str) -> JobState:
        async with self._store.transaction() as tx:
            current = await tx.job(job.id)
            if current is None or current.state is not JobState.RUNNING:
                return current.state if current else state  # finished or cancelled by someone else meanwhile
            await self._close(tx, job, state, reason, self._clock.now())
        return state

    async def _close(self, tx: AutomationTransaction, job: Job, state: JobState, reason: str, now: datetime) -> None:
        await tx.update_job(job.id, now, state=state, lease_until=None, reason=reason)
        await tx.log(Activity(job.installation_id, "job", f"{job.rule_key}: {reason}", order_row_id=job.order_row_id,
                              job_id=job.id, state=state.value), now)
        await settle_successors(tx, job, state, now)


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
                                  job_id=successor.id, state=JobState.SCHEDULED.value), now)
        else:
            reason = f"cancelled: the previous rule {job.rule_key} {state.value}"
            await tx.update_job(successor.id, now, state=JobState.CANCELLED, reason=reason)
            await tx.log(Activity(successor.installation_id, "job", f"{successor.rule_key}: {reason}",
                                  order_row_id=successor.order_row_id, job_id=successor.id,
                                  state=JobState.CANCELLED.value), now)
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
