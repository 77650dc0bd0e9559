"""What importing a configuration changes: the difference between the stored state and a checked document.

Everything is matched by key. A stage, rule or trigger whose stored form equals the document's is not written
at all, so an export imported again changes nothing (not even `updated_at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from saleor_app.domain.automation import AutomationSettings
from saleor_app.domain.config_document import DEFAULT_STAGE_KEYS, ConfigFileError, ConfigProblem
from saleor_app.domain.config_file import CheckedConfig
from saleor_app.domain.pipeline import Pipeline, Stage
from saleor_app.domain.rules import Rule, RuleSpec
from saleor_app.domain.triggers import Trigger, TriggerSpec


@dataclass
class Section:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass
class ApplyReport:
    """What an import added, changed and removed (or, in a dry run, would)."""

    dry_run: bool = False
    settings: list[str] = field(default_factory=list)  # names of the settings that change
    stages: Section = field(default_factory=Section)
    rules: Section = field(default_factory=Section)
    triggers: Section = field(default_factory=Section)
    cancelled_jobs: int = 0  # pending jobs of removed, disabled or moved rules
    # lines from the other sections (team, sequences, workflows, providers, suppressions)
    sections: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not (self.settings or self.stages or self.rules or self.triggers or self.sections)

    def as_dict(self) -> dict[str, Any]:
        sections = {"stages": self.stages, "rules": self.rules, "triggers": self.triggers}
        return {
            "dryRun": self.dry_run, "unchanged": self.unchanged, "settings": list(self.settings),
            **{name: {"added": s.added, "changed": s.changed, "removed": s.removed} for name, s in sections.items()},
            "cancelledJobs": self.cancelled_jobs, "sections": list(self.sections),
        }

    def lines(self) -> list[str]:
        if self.unchanged:
            return ["nothing to change: the installation already has this configuration"]
        lines = [f"settings changed: {', '.join(self.settings)}"] if self.settings else []
        for name, section in (("stages", self.stages), ("rules", self.rules), ("triggers", self.triggers)):
            for verb, keys in (("added", section.added), ("changed", section.changed), ("removed", section.removed)):
                if keys:
                    lines.append(f"{name} {verb}: {', '.join(keys)}")
        if self.cancelled_jobs:
            lines.append(f"pending jobs cancelled: {self.cancelled_jobs}")
        return lines + self.sections

    def summary(self) -> str:
        return "; ".join(self.lines())


@dataclass
class ConfigPlan:
    """The writes an import makes, in the order it makes them."""

    report: ApplyReport
    settings: AutomationSettings | None = None
    stage_deletes: list[str] = field(default_factory=list)
    # (stage, position): new, changed or moved; position None keeps a stored stage's place or appends a new one
    stage_writes: list[tuple[Stage, int | None]] = field(default_factory=list)
    rule_deletes: list[Rule] = field(default_factory=list)
    rule_saves: list[tuple[RuleSpec, Rule | None]] = field(default_factory=list)  # (new form, stored form)
    rule_positions: dict[str, int] = field(default_factory=dict)  # rules of the groups whose order changed
    trigger_deletes: list[Trigger] = field(default_factory=list)
    trigger_saves: list[tuple[TriggerSpec, Trigger | None]] = field(default_factory=list)
    trigger_positions: dict[str, int] = field(default_factory=dict)


def rule_form(rule: Rule) -> dict[str, Any]:
    return {
        "stage": rule.stage_key, "event": rule.event, "event_params": dict(rule.event_params or {}),
        "cancel_on_move": rule.cancel_on_move, "name": rule.name, "kind": rule.kind, "config": dict(rule.config),
        "enabled": rule.enabled, "delay_seconds": int(rule.delay.total_seconds()), "at": rule.at,
        "after_previous": rule.after_previous, "repeat": rule.repeat, "condition": rule.condition,
        "max_age_seconds": int(rule.max_age.total_seconds()) if rule.max_age is not None else None,
    }


def spec_form(spec: RuleSpec) -> dict[str, Any]:
    return {
        "stage": spec.stage, "event": spec.event, "event_params": dict(spec.event_params),
        "cancel_on_move": spec.cancel_on_move, "name": spec.name, "kind": spec.kind, "config": dict(spec.config),
        "enabled": spec.enabled, "delay_seconds": spec.delay_seconds, "at": spec.at,
        "after_previous": spec.after_previous, "repeat": spec.repeat,
        "condition": spec.condition.model_dump(mode="json") if spec.condition is not None else None,
        "max_age_seconds": spec.max_age_seconds,
    }


def _trigger_form(trigger: Trigger) -> dict[str, Any]:
    return {"stage": trigger.stage_key, "name": trigger.name, "event": trigger.event, "params": dict(trigger.params),
            "condition": trigger.condition, "allow_back": trigger.allow_back, "enabled": trigger.enabled}


def _trigger_spec_form(spec: TriggerSpec) -> dict[str, Any]:
    return {"stage": spec.stage, "name": spec.name or spec.key, "event": spec.event, "params": dict(spec.params),
            "condition": spec.condition.model_dump(mode="json") if spec.condition is not None else None,
            "allow_back": spec.allow_back, "enabled": spec.enabled}


def _order(wanted: list[str], stored: list[str], brand_new: set[str]) -> dict[str, int]:
    """Positions to write in one group (a stage's rules, an event's rules, the triggers, the stages).

    Nothing when the stored items already come in the document's order and only brand-new items follow them (they
    are appended): positions are compared as an order, so gaps left by deletions change nothing. Otherwise each
    item's index in the document. `stored` holds the group's stored keys that the document keeps there, in order.
    """
    if wanted[: len(stored)] == stored and all(key in brand_new for key in wanted[len(stored):]):
        return {}
    return {key: index for index, key in enumerate(wanted)}


def _rule_group(stage: str | None, event: str | None) -> str:
    return f"stage:{stage}" if stage is not None else f"event:{event}"


def plan_config(checked: CheckedConfig, settings: AutomationSettings, pipeline: Pipeline, rules: Sequence[Rule],
                triggers: Sequence[Trigger]) -> ConfigPlan:
    """The plan from the stored state to the document; ConfigFileError for a default stage left out."""
    plan = ConfigPlan(ApplyReport())
    report = plan.report
    if settings.time_zone != checked.time_zone or settings.quiet_hours != checked.quiet_hours:
        report.settings = [name for name, changed in (("time_zone", settings.time_zone != checked.time_zone),
                                                      ("quiet_hours", settings.quiet_hours != checked.quiet_hours))
                           if changed]
        plan.settings = AutomationSettings(paused=settings.paused, time_zone=checked.time_zone,
                                           quiet_hours=checked.quiet_hours)

    wanted = {stage.key for stage in checked.pipeline.stages}
    missing_defaults = [stage.key for stage in pipeline.stages if stage.key not in wanted and stage.key in
                        DEFAULT_STAGE_KEYS]
    if missing_defaults:
        raise ConfigFileError([ConfigProblem(("stages",), f"stage {key!r} is missing; the default stages can be "
                                             "renamed, re-matched and reordered, not removed") for key in
                               missing_defaults])
    plan.stage_deletes = [stage.key for stage in pipeline.stages if stage.key not in wanted]
    report.stages.removed = list(plan.stage_deletes)
    stage_positions = _order([stage.key for stage in checked.pipeline.stages],
                             [stage.key for stage in pipeline.stages if stage.key in wanted],
                             wanted - {stage.key for stage in pipeline.stages})
    for index, stage in enumerate(checked.pipeline.stages):
        before = pipeline.stage(stage.key)
        if before is None:
            report.stages.added.append(stage.key)
        elif (before.name, before.match) != (stage.name, stage.match) or (
                stage.key in stage_positions and pipeline.position(stage.key) != index):
            report.stages.changed.append(stage.key)
        elif stage.key not in stage_positions:
            continue
        plan.stage_writes.append((stage, stage_positions.get(stage.key)))

    stored_rules = {rule.key: rule for rule in rules}
    groups: dict[str, list[str]] = {}
    for _, spec in checked.rules:
        groups.setdefault(_rule_group(spec.stage, spec.event), []).append(spec.key)
    in_document = {key: group for group, keys in groups.items() for key in keys}
    for group, keys in groups.items():
        stored = [rule.key for rule in sorted(rules, key=lambda rule: (rule.position, rule.id))
                  if _rule_group(rule.stage_key, rule.event) == group and in_document.get(rule.key) == group]
        plan.rule_positions.update(_order(keys, stored, set(keys) - set(stored_rules)))
    for _, spec in checked.rules:
        stored_rule = stored_rules.get(spec.key)
        if stored_rule is None:
            report.rules.added.append(spec.key)
            plan.rule_saves.append((spec, None))
        elif rule_form(stored_rule) != spec_form(spec):
            report.rules.changed.append(spec.key)
            plan.rule_saves.append((spec, stored_rule))
        elif stored_rule.position != plan.rule_positions.get(spec.key, stored_rule.position):
            report.rules.changed.append(spec.key)
    plan.rule_deletes = [rule for rule in rules if rule.key not in in_document]
    report.rules.removed = [rule.key for rule in plan.rule_deletes]

    stored_triggers = {trigger.key: trigger for trigger in triggers}
    wanted_triggers = {spec.key for _, spec in checked.triggers}
    plan.trigger_positions = _order(
        [spec.key for _, spec in checked.triggers],
        [trigger.key for trigger in sorted(triggers, key=lambda trigger: (trigger.position, trigger.id))
         if trigger.key in wanted_triggers],
        wanted_triggers - set(stored_triggers),
    )
    for _, trigger_spec in checked.triggers:
        stored_trigger = stored_triggers.get(trigger_spec.key)
        if stored_trigger is None:
            report.triggers.added.append(trigger_spec.key)
            plan.trigger_saves.append((trigger_spec, None))
        elif _trigger_form(stored_trigger) != _trigger_spec_form(trigger_spec):
            report.triggers.changed.append(trigger_spec.key)
            plan.trigger_saves.append((trigger_spec, stored_trigger))
        elif stored_trigger.position != plan.trigger_positions.get(trigger_spec.key, stored_trigger.position):
            report.triggers.changed.append(trigger_spec.key)
    plan.trigger_deletes = [trigger for trigger in triggers if trigger.key not in wanted_triggers]
    report.triggers.removed = [trigger.key for trigger in plan.trigger_deletes]
    return plan
