"""Configuration use cases: rules, custom stages and automation settings, validated whole before saving.

A new or re-enabled rule does not apply to orders already in its stage (as in Bitrix24). Disabling or deleting
a rule cancels its pending jobs; a changed rule's pending jobs run with the new config (jobs read it when they
run). Lifting a pause either lets the waiting jobs run or cancels them: the merchant chooses.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from saleor_app.domain.automation import Activity, AutomationSettings, Job
from saleor_app.domain.errors import PermanentError
from saleor_app.domain.jobs import JobState
from saleor_app.domain.kinds import ChangeStageConfig
from saleor_app.domain.pipeline import ORDER_STATUSES, STAGE_KEY, Pipeline, Stage, StageMatch
from saleor_app.domain.ports import AutomationStore, AutomationTransaction, Clock
from saleor_app.domain.rules import Rule, RuleSpec
from saleor_app.domain.schedule import QuietHours
from saleor_app.domain.triggers import Trigger, TriggerSpec
from saleor_app.domain.writeback import has_plan
from saleor_app.engine.execute import settle_successors


class ConfigurationError(PermanentError):
    """A configuration that cannot be saved; `field` names what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class OnResume(StrEnum):
    RUN = "run"  # jobs that waited during the pause run now (late ones may be skipped by their max age)
    CANCEL = "cancel"  # jobs that were pending when the pause was lifted are cancelled


class ConfigureAutomation:
    def __init__(self, store: AutomationStore, clock: Clock, *, encrypt: Callable[[str], str] | None = None) -> None:
        self._store = store
        self._clock = clock
        self._encrypt = encrypt

    async def save_rule(self, installation_id: int, spec: RuleSpec) -> Rule:
        now = self._clock.now()
        async with self._store.transaction() as tx:
            pipeline = await tx.pipeline(installation_id)
            if spec.stage is not None and pipeline.stage(spec.stage) is None:
                raise ConfigurationError("stage", f"there is no stage {spec.stage!r}; known: "
                                         f"{', '.join(stage.key for stage in pipeline.stages)}")
            if spec.kind == "change_stage":
                _check_target(pipeline, ChangeStageConfig.model_validate(spec.config).stage, "config.stage")
            before = await tx.rule_by_key(installation_id, spec.key)
            rule = await tx.save_rule(installation_id, spec, now)
            if before is not None and before.enabled and not rule.enabled:
                await self._cancel_rule_jobs(tx, rule, "cancelled: the rule was disabled")
            if before is not None and before.stage_key != rule.stage_key:
                await self._cancel_rule_jobs(tx, rule, "cancelled: the rule moved to another stage")
            return rule

    async def save_trigger(self, installation_id: int, spec: TriggerSpec) -> Trigger:
        """Save a trigger; an inbound-webhook trigger gets its secret on creation (see `inbound_secret`)."""
        async with self._store.transaction() as tx:
            _check_target(await tx.pipeline(installation_id), spec.stage, "stage")
            existing = await tx.trigger_by_key(installation_id, spec.key)
            secret = None
            if spec.event == "inbound_webhook" and (existing is None or await tx.trigger_secret(existing.id) is None):
                secret = self._encrypt(secrets.token_urlsafe(24)) if self._encrypt is not None else None
            return await tx.save_trigger(installation_id, spec, self._clock.now(), secret)

    async def delete_trigger(self, installation_id: int, key: str) -> None:
        async with self._store.transaction() as tx:
            trigger = await tx.trigger_by_key(installation_id, key)
            if trigger is None:
                raise ConfigurationError("key", f"there is no trigger {key!r}")
            await tx.delete_trigger(trigger.id)

    async def delete_rule(self, installation_id: int, key: str) -> None:
        async with self._store.transaction() as tx:
            rule = await tx.rule_by_key(installation_id, key)
            if rule is None:
                raise ConfigurationError("key", f"there is no rule {key!r}")
            await self._cancel_rule_jobs(tx, rule, "cancelled: the rule was deleted")
            await tx.delete_rule(rule.id)

    async def add_custom_stage(self, installation_id: int, key: str, name: str, allowed_statuses: list[str]) -> Stage:
        if not STAGE_KEY.match(key):
            raise ConfigurationError("key", "use lowercase letters, digits and dashes, starting with a letter")
        unknown = sorted(set(allowed_statuses) - ORDER_STATUSES)
        if unknown or not allowed_statuses:
            raise ConfigurationError("allowed_statuses", f"choose from {', '.join(sorted(ORDER_STATUSES))}")
        stage = Stage(key, name, StageMatch(frozenset(allowed_statuses), custom=True))
        async with self._store.transaction() as tx:
            if (await tx.pipeline(installation_id)).stage(key) is not None:
                raise ConfigurationError("key", f"a stage {key!r} exists already")
            await tx.add_stage(installation_id, stage)
        return stage

    async def set_schedule(self, installation_id: int, *, time_zone: str, quiet_start: time | None,
                           quiet_end: time | None) -> AutomationSettings:
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigurationError("time_zone", f"{time_zone!r} is not an IANA time zone (e.g. Europe/Berlin)") \
                from exc
        if (quiet_start is None) != (quiet_end is None) or (quiet_start is not None and quiet_start == quiet_end):
            raise ConfigurationError("quiet_hours", "give both a start and a different end, or neither")
        quiet = QuietHours(quiet_start, quiet_end) if quiet_start is not None and quiet_end is not None else None
        async with self._store.transaction() as tx:
            current = await tx.settings(installation_id)
            settings = AutomationSettings(paused=current.paused, time_zone=time_zone, quiet_hours=quiet)
            await tx.save_settings(installation_id, settings, self._clock.now())
        return settings

    async def pause(self, installation_id: int) -> None:
        async with self._store.transaction() as tx:
            current = await tx.settings(installation_id)
            await tx.save_settings(installation_id, _with_pause(current, True), self._clock.now())
            await tx.log(Activity(installation_id, "settings", "automation paused: nothing is planned or run"),
                         self._clock.now())

    async def resume(self, installation_id: int, on_resume: OnResume) -> int:
        """Lift the pause; returns how many waiting jobs were cancelled (0 with RUN)."""
        now = self._clock.now()
        cancelled = 0
        async with self._store.transaction() as tx:
            current = await tx.settings(installation_id)
            if on_resume is OnResume.CANCEL:
                for job in await tx.pending_jobs(installation_id):
                    await _cancel(tx, job, "cancelled: pending when the pause was lifted (cancel chosen)", now)
                    cancelled += 1
            await tx.save_settings(installation_id, _with_pause(current, False), now)
            await tx.log(Activity(installation_id, "settings", f"automation resumed ({on_resume.value} pending jobs)"),
                         now)
        return cancelled

    async def _cancel_rule_jobs(self, tx: AutomationTransaction, rule: Rule, reason: str) -> None:
        now = self._clock.now()
        for job in await tx.pending_jobs_of_rule(rule.id):
            await _cancel(tx, job, reason, now)


def _check_target(pipeline: Pipeline, key: str, field: str) -> None:
    """A move's target must exist and have a write-back plan (custom stages are metadata only)."""
    target = pipeline.stage(key)
    if target is None:
        raise ConfigurationError(field, f"there is no stage {key!r}; known: "
                                 f"{', '.join(stage.key for stage in pipeline.stages)}")
    if not has_plan(target):
        raise ConfigurationError(field, f"{target.name} follows Saleor's state and has no write-back plan, so "
                                 "orders cannot be moved there; choose a stage such as Paid, Shipped or a custom stage")


def _with_pause(settings: AutomationSettings, paused: bool) -> AutomationSettings:
    return AutomationSettings(paused=paused, time_zone=settings.time_zone, quiet_hours=settings.quiet_hours)


async def _cancel(tx: AutomationTransaction, job: Job, reason: str, now: datetime) -> None:
    await tx.update_job(job.id, now, state=JobState.CANCELLED, reason=reason, lease_until=None)
    await tx.log(Activity(job.installation_id, "job", f"{job.rule_key}: {reason}", order_row_id=job.order_row_id,
                          job_id=job.id, state=JobState.CANCELLED.value), now)
    await settle_successors(tx, job, JobState.CANCELLED, now)
