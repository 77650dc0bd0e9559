"""The pipeline board as the Dashboard page shows it: stages in order with their triggers and rules, each rule
with a one-line timing and condition summary and health badges (what would stop it from ever doing its work)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from saleor_app.domain import conditions
from saleor_app.domain.automation import AutomationSettings
from saleor_app.domain.config_document import format_duration
from saleor_app.domain.config_file import target_problem
from saleor_app.domain.kinds import UnknownKind, kind
from saleor_app.domain.pipeline import Pipeline, Stage, overlapping_stages
from saleor_app.domain.provider_needs import has_provider
from saleor_app.domain.rules import Rule
from saleor_app.domain.triggers import Trigger


def board(settings: AutomationSettings, pipeline: Pipeline, rules: Sequence[Rule], triggers: Sequence[Trigger],
          connected: Collection[tuple[str, str]]) -> dict[str, Any]:
    """`connected`: (provider kind, account key) of every connected provider account."""
    shadowed = {second: first for first, second in overlapping_stages(pipeline)}
    entered = {trigger.stage_key for trigger in triggers if trigger.enabled} | {
        str(rule.config.get("stage")) for rule in rules if rule.kind == "change_stage" and rule.enabled}
    stages = []
    for stage in pipeline.stages:
        stage_rules = sorted((rule for rule in rules if rule.stage_key == stage.key), key=lambda r: (r.position, r.id))
        warnings = []
        if stage.key in shadowed:
            first = pipeline.stage(shadowed[stage.key])
            warnings.append(f"orders that also match {first.name if first else shadowed[stage.key]} go there "
                            "(the first matching stage wins)")
        if stage.match.custom and stage.key not in entered:
            warnings.append("nothing moves orders into this custom stage: add a trigger or a change-stage rule")
        stages.append({
            "key": stage.key, "name": stage.name, "custom": stage.match.custom, "hasPlan": stage.has_plan,
            "match": _match(stage), "warnings": warnings,
            "triggers": [trigger_view(t) for t in sorted(triggers, key=lambda t: (t.position, t.id))
                         if t.stage_key == stage.key],
            "rules": [rule_view(rule, pipeline, connected, stage) for rule in stage_rules],
        })
    event_rules = sorted((rule for rule in rules if rule.event is not None), key=lambda r: (r.event, r.position))
    quiet = settings.quiet_hours
    return {
        "settings": {"timeZone": settings.time_zone, "paused": settings.paused,
                     "quietHours": {"start": quiet.start.strftime("%H:%M"), "end": quiet.end.strftime("%H:%M")}
                     if quiet else None},
        "stages": stages,
        "eventRules": [rule_view(rule, pipeline, connected, None) for rule in event_rules],
    }


def _match(stage: Stage) -> dict[str, Any]:
    match = stage.match
    return {"status": sorted(match.statuses), "custom": match.custom, "refund": match.refund.value,
            "chargeStatus": sorted(match.charge_statuses) if match.charge_statuses is not None else None}


def trigger_view(trigger: Trigger) -> dict[str, Any]:
    return {"key": trigger.key, "name": trigger.name, "stage": trigger.stage_key, "event": trigger.event,
            "enabled": trigger.enabled, "allowBack": trigger.allow_back,
            "conditionSummary": _condition_summary(trigger.condition),
            "spec": {"key": trigger.key, "name": trigger.name, "stage": trigger.stage_key, "event": trigger.event,
                     "params": trigger.params, "condition": trigger.condition, "allow_back": trigger.allow_back,
                     "enabled": trigger.enabled}}


def rule_view(rule: Rule, pipeline: Pipeline, connected: Collection[tuple[str, str]],
              stage: Stage | None) -> dict[str, Any]:
    try:
        label = kind(rule.kind).label
    except UnknownKind:
        label = rule.kind
    return {
        "key": rule.key, "name": rule.name, "kind": rule.kind, "kindLabel": label, "enabled": rule.enabled,
        "stage": rule.stage_key, "event": rule.event, "afterPrevious": rule.after_previous,
        "repeat": rule.repeat.value, "timing": timing(rule), "conditionSummary": _condition_summary(rule.condition),
        "health": health(rule, pipeline, connected, stage),
        "spec": {  # what the editor edits and saves back: the fields of RuleSpec
            "key": rule.key, "name": rule.name, "stage": rule.stage_key, "event": rule.event,
            "event_params": rule.event_params or {}, "cancel_on_move": rule.cancel_on_move, "kind": rule.kind,
            "config": rule.config, "enabled": rule.enabled, "delay_seconds": int(rule.delay.total_seconds()),
            "at": rule.at.strftime("%H:%M") if rule.at else None, "after_previous": rule.after_previous,
            "repeat": rule.repeat.value, "condition": rule.condition,
            "max_age_seconds": int(rule.max_age.total_seconds()) if rule.max_age else None,
        },
    }


def timing(rule: Rule) -> str:
    parts = ["after the previous rule" if rule.after_previous else ""]
    delay = int(rule.delay.total_seconds())
    if delay:
        parts.append(f"wait {format_duration(delay)}")
    if rule.at is not None:
        parts.append(f"at {rule.at.strftime('%H:%M')}")
    text = ", ".join(part for part in parts if part)
    return text or "immediately"


def _condition_summary(condition: dict[str, Any] | None) -> str | None:
    if not condition:
        return None
    try:
        return conditions.summary(conditions.Condition.model_validate(condition))
    except ValueError:
        return "a condition that no longer validates: open the rule to fix it"


def health(rule: Rule, pipeline: Pipeline, connected: Collection[tuple[str, str]],
           stage: Stage | None) -> list[dict[str, str]]:
    """Badges: what stops the rule from doing its work (error) or makes it unlikely to (warning)."""
    badges = []
    if not has_provider(rule.kind, rule.config, connected):
        badges.append({"level": "error", "code": "provider_not_connected",
                       "message": "no connected provider: connect one under Providers"})
    if rule.kind == "change_stage":
        problem = target_problem(pipeline, str(rule.config.get("stage", "")))
        if problem is not None:
            badges.append({"level": "error", "code": "no_write_back", "message": problem})
    if stage is not None and rule.condition and not stage.match.custom:
        statuses = _condition_statuses(rule.condition)
        if statuses is not None and not statuses & stage.match.statuses:
            badges.append({"level": "warning", "code": "never_fires",
                           "message": f"can never run: its condition needs status {', '.join(sorted(statuses))}, "
                                      f"which orders in {stage.name} never have"})
    return badges


def _condition_statuses(condition: dict[str, Any]) -> set[str] | None:
    """The statuses an all-of condition allows, when it tests the status with eq or in; None otherwise."""
    if condition.get("match", "all") != "all":
        return None
    allowed: set[str] | None = None
    for comparison in condition.get("rules") or ():
        if comparison.get("field") != "status" or comparison.get("op") not in ("eq", "in"):
            continue
        value = comparison.get("value")
        values = {str(value)} if isinstance(value, str) else {str(v) for v in value or ()}
        allowed = values if allowed is None else allowed & values
    return allowed
