"""Configuration use cases: rules, custom stages and automation settings, validated whole before saving.

A new or re-enabled rule does not apply to orders already in its stage (as in Bitrix24). Disabling or deleting
a rule cancels its pending jobs; a changed rule's pending jobs run with the new config (jobs read it when they
run). Lifting a pause either lets the waiting jobs run or cancels them: the merchant chooses.

Automation as code: `export_config` gives the whole configuration as one document and `apply_config` makes the
installation's configuration the document's, in ONE transaction, after every reference has been checked; a
problem anywhere leaves everything as it was.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime, time
from enum import StrEnum
from typing import Protocol

from saleor_app.domain.automation import Activity, AutomationSettings, Job
from saleor_app.domain.config_document import ConfigDocument, ConfigFileError, ConfigProblem
from saleor_app.domain.config_file import CheckedConfig, check_config, document_from, target_problem
from saleor_app.domain.config_yaml import Locator, Path
from saleor_app.domain.errors import PermanentError
from saleor_app.domain.jobs import JobState
from saleor_app.domain.kinds import ChangeStageConfig
from saleor_app.domain.pipeline import ORDER_STATUSES, STAGE_KEY, Pipeline, Stage, StageMatch
from saleor_app.domain.ports import AutomationStore, AutomationTransaction, Clock
from saleor_app.domain.provider_needs import PROVIDERS_OF_KIND, provider_problem
from saleor_app.domain.rules import Rule, RuleSpec
from saleor_app.domain.schedule import QuietHours
from saleor_app.domain.time_zones import UnknownTimeZone, iana_zone
from saleor_app.domain.triggers import Trigger, TriggerSpec
from saleor_app.domain.writeback import has_plan
from saleor_app.engine.config_plan import ApplyReport, ConfigPlan, plan_config
from saleor_app.engine.execute import settle_successors


class ConfigurationError(PermanentError):
    """A configuration that cannot be saved; `field` names what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


RuleCheck = Callable[[int, RuleSpec], Awaitable[list[tuple[str, str]]]]
"""A check a rule kind needs beyond its config model, with I/O (a connected account, a reachable link): the
problems as (field, message); run before any transaction, on save and on import."""


class ConfigSections(Protocol):
    """Sections of the configuration another feature keeps (issue 7: team, sequences, workflows) and the checks
    of what rules name in them."""

    async def rule_problems(self, installation_id: int, spec: RuleSpec) -> list[tuple[str, str]]:
        """(field, problem) for a rule saved on its own, against the stored state."""
        ...

    async def problems(self, installation_id: int, document: ConfigDocument,
                       rules: Sequence[tuple[Path, RuleSpec]]) -> list[ConfigProblem]:
        """Problems in the sections and in what the document's rules name (stored state plus the document)."""
        ...

    async def apply(self, tx: AutomationTransaction, installation_id: int, document: ConfigDocument, *,
                    dry_run: bool) -> list[str]:
        """Write the sections in the import's transaction `tx`, after the rules; what changed, in words."""
        ...

    async def export(self, installation_id: int, document: ConfigDocument) -> ConfigDocument: ...


class PreparedProviders(Protocol):
    """A document's new and changed providers after their real checks (`problems`: those that failed)."""

    problems: list[ConfigProblem]

    async def write(self, tx: AutomationTransaction, *, dry_run: bool) -> list[str]:
        """Write them in the import's transaction; what changed, in words."""
        ...

    async def finish(self) -> list[str]:
        """After the commit: register their callbacks; what could not be, in words."""
        ...


class ProviderSections(Protocol):
    """The configuration's providers, which rules send through (provider_config.py ProviderConfigSections)."""

    async def connected(self, installation_id: int, document: ConfigDocument | None) -> Collection[tuple[str, str]]:
        """(kind, key) of the connected providers, and of the document's new and changed ones."""
        ...

    async def prepare(self, installation_id: int, document: ConfigDocument, *, call: bool) -> PreparedProviders:
        """Check the document's new and changed providers with a real call (`call`), outside any transaction."""
        ...


class OnResume(StrEnum):
    RUN = "run"  # jobs that waited during the pause run now (late ones may be skipped by their max age)
    CANCEL = "cancel"  # jobs that were pending when the pause was lifted are cancelled


class ConfigureAutomation:
    def __init__(self, store: AutomationStore, clock: Clock, *, encrypt: Callable[[str], str] | None = None,
                 rule_checks: Sequence[RuleCheck] = (), sections: ConfigSections | None = None,
                 providers: ProviderSections | None = None) -> None:
        self._store = store
        self._clock = clock
        self._encrypt = encrypt
        self._rule_checks = tuple(rule_checks)
        self._sections = sections
        self._providers = providers

    async def save_rule(self, installation_id: int, spec: RuleSpec) -> Rule:
        if self._providers is not None and spec.kind in PROVIDERS_OF_KIND:
            connected = await self._providers.connected(installation_id, None)
            problem = provider_problem(spec.kind, spec.enabled, spec.config, connected)
            if problem is not None:
                raise ConfigurationError("provider", problem)
        for check in self._rule_checks:
            for field, message in await check(installation_id, spec):
                raise ConfigurationError(field, message)
        if self._sections is not None:
            for field, message in await self._sections.rule_problems(installation_id, spec):
                raise ConfigurationError(field, message)
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
            iana_zone(time_zone)
        except UnknownTimeZone as exc:
            raise ConfigurationError("time_zone", str(exc)) from exc
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

    async def export_config(self, installation_id: int) -> ConfigDocument:
        async with self._store.transaction() as tx:
            document = document_from(await tx.settings(installation_id), await tx.pipeline(installation_id),
                                     await tx.all_rules(installation_id), await tx.triggers(installation_id))
        return await self._sections.export(installation_id, document) if self._sections is not None else document

    async def apply_config(self, installation_id: int, document: ConfigDocument, *, dry_run: bool = False,
                           check_providers: bool = False, locate: Locator | None = None,
                           checked: CheckedConfig | None = None) -> ApplyReport:
        """Make the installation's configuration the document's, all or nothing; with `dry_run`, only say what
        would change (and, with `check_providers`, check its new and changed providers with a real call).
        ConfigFileError (located with `locate`, the parsed text's positions) lists every problem.
        `checked`: check_config(document) done already (off the event loop: a large document takes seconds).

        In order: everything is checked, the document's own providers counting as connected; its new and changed
        providers are checked with a real call, outside any transaction (a failure: nothing is written); one
        transaction writes providers, settings, stages, rules, triggers and the other sections (team, sequences,
        workflows, suppressions), so a failure anywhere in it leaves all of them as they were; after the commit
        the providers' callbacks are registered (a failure there is reported and retried, never rolled back)."""
        try:
            checked = checked if checked is not None else check_config(document)
            found = [ConfigProblem((*path, field), message) for path, spec in checked.rules
                     for check in self._rule_checks for field, message in await check(installation_id, spec)]
            if self._providers is not None:
                connected = await self._providers.connected(installation_id, document)
                for path, spec in checked.rules:
                    problem = provider_problem(spec.kind, spec.enabled, spec.config, connected)
                    if problem is not None:
                        found.append(ConfigProblem((*path, "provider"), problem))
            if self._sections is not None:
                found += await self._sections.problems(installation_id, document, checked.rules)
            if found:
                raise ConfigFileError(found)
            prepared = None
            if self._providers is not None:
                prepared = await self._providers.prepare(installation_id, document,
                                                         call=not dry_run or check_providers)
                if prepared.problems:
                    raise ConfigFileError(prepared.problems)
            async with self._store.transaction() as tx:
                plan = plan_config(checked, await tx.settings(installation_id), await tx.pipeline(installation_id),
                                   await tx.all_rules(installation_id), await tx.triggers(installation_id))
                problems = []
                for key in plan.stage_deletes:
                    count = await tx.orders_in_stage(installation_id, key)
                    if count:
                        problems.append(ConfigProblem(("stages",), f"stage {key!r} is missing, but {count} order(s) "
                                                                   "are in it; keep it until they have left"))
                if problems:
                    raise ConfigFileError(problems)
                cancellations = _cancellations(plan)
                plan.report.dry_run = dry_run
                for rule, _ in cancellations:
                    plan.report.cancelled_jobs += len(await tx.pending_jobs_of_rule(rule.id))
                if prepared is not None:  # first: the rules that follow send through them
                    plan.report.sections += await prepared.write(tx, dry_run=dry_run)
                if not dry_run:
                    await self._write(tx, installation_id, plan, cancellations)
                if self._sections is not None:
                    plan.report.sections += await self._sections.apply(tx, installation_id, document,
                                                                       dry_run=dry_run)
                if not dry_run and not plan.report.unchanged:  # the last write: any failure before undoes all
                    await tx.log(Activity(installation_id, "settings",
                                          f"configuration imported: {plan.report.summary()}"), self._clock.now())
            if prepared is not None and not dry_run:
                plan.report.sections += await prepared.finish()
            return plan.report
        except ConfigFileError as exc:
            raise exc.located(locate) from None

    async def _write(self, tx: AutomationTransaction, installation_id: int, plan: ConfigPlan,
                     cancellations: list[tuple[Rule, str]]) -> None:
        now = self._clock.now()
        if plan.settings is not None:
            await tx.save_settings(installation_id, plan.settings, now)
        for rule, reason in cancellations:
            await self._cancel_rule_jobs(tx, rule, reason)
        for rule in plan.rule_deletes:
            await tx.delete_rule(rule.id)
        for trigger in plan.trigger_deletes:
            await tx.delete_trigger(trigger.id)
        for key in plan.stage_deletes:
            await tx.delete_stage(installation_id, key)
        for stage, position in plan.stage_writes:
            await tx.save_stage(installation_id, stage, position)
        for spec, _ in plan.rule_saves:
            await tx.save_rule(installation_id, spec, now)
        for key, position in plan.rule_positions.items():
            saved = await tx.rule_by_key(installation_id, key)
            if saved is not None and saved.position != position:
                await tx.set_rule_position(saved.id, position, now)
        for trigger_spec, stored in plan.trigger_saves:
            secret = None
            if trigger_spec.event == "inbound_webhook" and self._encrypt is not None and (
                    stored is None or await tx.trigger_secret(stored.id) is None):
                secret = self._encrypt(secrets.token_urlsafe(24))
            await tx.save_trigger(installation_id, trigger_spec, now, secret)
        for key, position in plan.trigger_positions.items():
            placed = await tx.trigger_by_key(installation_id, key)
            if placed is not None and placed.position != position:
                await tx.set_trigger_position(placed.id, position, now)

    async def reorder_rules(self, installation_id: int, stage_key: str, keys: Sequence[str]) -> None:
        """Run a stage's rules in this order (each of them once). Entries opened from now on chain after-previous
        rules in the new order; jobs already planned keep theirs."""
        async with self._store.transaction() as tx:
            rules = await tx.rules(installation_id, stage_key)
            if sorted(keys) != sorted(rule.key for rule in rules):
                raise ConfigurationError("keys", f"list each rule of stage {stage_key!r} once: "
                                                 f"{', '.join(rule.key for rule in rules) or 'it has none'}")
            by_key = {rule.key: rule for rule in rules}
            now = self._clock.now()
            for key, position in zip(keys, sorted(rule.position for rule in rules), strict=True):
                if by_key[key].position != position:
                    await tx.set_rule_position(by_key[key].id, position, now)

    async def update_stage(self, installation_id: int, key: str, *, name: str, match: StageMatch) -> Stage:
        """Rename a stage or change what puts an order in it; orders already in it stay until their next change."""
        if match.custom and (not match.statuses or not match.statuses <= ORDER_STATUSES):
            raise ConfigurationError("match.status", f"choose from {', '.join(sorted(ORDER_STATUSES))}")
        async with self._store.transaction() as tx:
            current = (await tx.pipeline(installation_id)).stage(key)
            if current is None:
                raise ConfigurationError("key", f"there is no stage {key!r}")
            stage = Stage(key, name, match, has_plan=has_plan(Stage(key, name, match)))
            await tx.save_stage(installation_id, stage, None)
        return stage

    async def reorder_stages(self, installation_id: int, keys: Sequence[str]) -> None:
        """Put the pipeline's stages in this order (each once); the first matching stage wins an order."""
        async with self._store.transaction() as tx:
            pipeline = await tx.pipeline(installation_id)
            if sorted(keys) != sorted(stage.key for stage in pipeline.stages):
                raise ConfigurationError("keys", "list each stage of the pipeline once")
            for position, key in enumerate(keys):
                stage = pipeline.stage(key)
                assert stage is not None
                await tx.save_stage(installation_id, stage, position)

    async def _cancel_rule_jobs(self, tx: AutomationTransaction, rule: Rule, reason: str) -> None:
        now = self._clock.now()
        for job in await tx.pending_jobs_of_rule(rule.id):
            await _cancel(tx, job, reason, now)


def _check_target(pipeline: Pipeline, key: str, field: str) -> None:
    """A move's target must exist and have a write-back plan (custom stages are metadata only)."""
    problem = target_problem(pipeline, key)
    if problem is not None:
        raise ConfigurationError(field, problem)


def _cancellations(plan: ConfigPlan) -> list[tuple[Rule, str]]:
    """Rules whose pending jobs an import cancels, as saving them one by one would: removed, disabled, moved."""
    found = [(rule, "cancelled: the rule was removed (configuration import)") for rule in plan.rule_deletes]
    for spec, before in plan.rule_saves:
        if before is not None and before.enabled and not spec.enabled:
            found.append((before, "cancelled: the rule was disabled"))
        elif before is not None and before.stage_key != spec.stage:
            found.append((before, "cancelled: the rule moved to another stage"))
    return found


def _with_pause(settings: AutomationSettings, paused: bool) -> AutomationSettings:
    return AutomationSettings(paused=paused, time_zone=settings.time_zone, quiet_hours=settings.quiet_hours)


async def _cancel(tx: AutomationTransaction, job: Job, reason: str, now: datetime) -> None:
    await tx.update_job(job.id, now, state=JobState.CANCELLED, reason=reason, lease_until=None)
    await tx.log(Activity(job.installation_id, "job", f"{job.rule_key}: {reason}", order_row_id=job.order_row_id,
                          job_id=job.id, state=JobState.CANCELLED.value, rule_key=job.rule_key), now)
    await settle_successors(tx, job, JobState.CANCELLED, now)
