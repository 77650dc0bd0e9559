"""Automation as code: parse and check a configuration file, and write an installation's configuration out. Pure.

`parse_config` turns YAML (or JSON, which is YAML) into a `ConfigDocument` and checks every reference in it,
reporting each problem with its line and column; `check_config` gives the pipeline, rule and trigger specs the
store saves; `document_from` and `dump_config` write a stored configuration back out, in a stable order, so that
an export imported again changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import TypeAdapter, ValidationError

from saleor_app.domain import conditions
from saleor_app.domain.automation import AutomationSettings
from saleor_app.domain.conditions import Condition
from saleor_app.domain.config_document import (
    EVENT_RULE_FIELDS,
    RULE_FIELDS,
    VERSION,
    ConfigDocument,
    ConfigFileError,
    ConfigProblem,
    EventRuleDoc,
    RuleDoc,
    StageDoc,
    TriggerDoc,
    format_duration,
    format_path,
    problems_of,
)
from saleor_app.domain.config_yaml import Flow, Locator, Path, Quoted, YamlProblem, dump_yaml, parse_yaml
from saleor_app.domain.kinds import UnknownKind, kind
from saleor_app.domain.pipeline import Pipeline, Refund, Stage
from saleor_app.domain.rules import Repeat, Rule, RuleSpec
from saleor_app.domain.schedule import QuietHours
from saleor_app.domain.triggers import Trigger, TriggerSpec
from saleor_app.domain.writeback import has_plan

HEADER = "Order automation as code (saleor-automation config import/export). The vocabulary is in the README."


# ------------------------------------------------------------------------------------------- checking


@dataclass(frozen=True, slots=True)
class CheckedConfig:
    """What the store saves, each rule and trigger with its place in the document (for error messages)."""

    time_zone: str
    quiet_hours: QuietHours | None
    pipeline: Pipeline
    rules: tuple[tuple[Path, RuleSpec], ...]
    triggers: tuple[tuple[Path, TriggerSpec], ...]


def target_problem(pipeline: Pipeline, key: str) -> str | None:
    """Why a move (trigger, change_stage rule) cannot target stage `key`; None when it can."""
    target = pipeline.stage(key)
    if target is None:
        return f"there is no stage {key!r}; known: {', '.join(stage.key for stage in pipeline.stages)}"
    if not has_plan(target):
        return (f"{target.name} follows Saleor's state and has no write-back plan, so orders cannot be moved there; "
                "choose a stage such as Paid, Shipped or a custom stage")
    return None


def _kind_fields(doc: RuleDoc, path: Path, problems: list[ConfigProblem]) -> dict[str, Any] | None:
    """The kind's config from the rule's extra fields, or None (problems recorded) when it does not fit."""
    try:
        rule_kind = kind(doc.kind)
    except UnknownKind as exc:
        problems.append(ConfigProblem((*path, "kind"), str(exc)))
        return None
    names = tuple(rule_kind.config.model_fields)
    reserved = set(RULE_FIELDS) | set(EVENT_RULE_FIELDS)
    clash = sorted(reserved & set(names))
    if clash:  # a kind that names a field like the rule's own cannot be written flat; refuse rather than guess
        problems.append(ConfigProblem((*path, "kind"), f"kind {doc.kind} has a field named like a rule field "
                                                       f"({', '.join(clash)}); it cannot be written in a file"))
        return None
    config = doc.kind_fields
    ok = True
    for name in config:
        if name not in names:
            own = ", ".join(RULE_FIELDS + (EVENT_RULE_FIELDS if isinstance(doc, EventRuleDoc) else ()))
            problems.append(ConfigProblem((*path, name), f"unknown field {name!r} for kind {doc.kind}; rule fields: "
                                          f"{own}; {doc.kind} fields: {', '.join(names) or 'none'}", at_key=True))
            ok = False
    try:
        rule_kind.config.model_validate(config)
    except ValidationError as exc:
        problems.extend(p if not p.message.startswith("missing field") else replace(p, message=f"{p.message} "
                        f"(kind {doc.kind} takes {', '.join(names)})") for p in problems_of(exc, path)
                        if not p.at_key)
        ok = False
    return config if ok else None


def _rule_spec(doc: RuleDoc, path: Path, stage: str | None, problems: list[ConfigProblem]) -> RuleSpec | None:
    config = _kind_fields(doc, path, problems)
    if config is None:
        return None
    values: dict[str, Any] = {
        "key": doc.key, "name": doc.name, "kind": doc.kind, "config": config, "enabled": doc.enabled,
        "delay_seconds": doc.delay, "at": doc.at, "after_previous": doc.after_previous, "repeat": doc.repeat,
        "condition": doc.condition, "max_age_seconds": doc.max_age, "stage": stage,
    }
    if isinstance(doc, EventRuleDoc):
        values.update(event=doc.event, event_params=doc.event_params, cancel_on_move=doc.cancel_on_move)
    try:
        return RuleSpec.model_validate(values)
    except ValidationError as exc:
        problems.extend(problems_of(exc, path, {"delay_seconds": "delay", "max_age_seconds": "max_age"}))
        return None


def _duplicates(items: Iterable[tuple[Path, str]], what: str, problems: list[ConfigProblem]) -> None:
    first: dict[str, Path] = {}
    for path, key in items:
        if key in first:
            problems.append(ConfigProblem((*path, "key"), f"{what} key {key!r} is used twice "
                                                          f"(first at {format_path(first[key])})"))
        else:
            first[key] = path


def check_config(document: ConfigDocument) -> CheckedConfig:
    """Every reference in the document checked together; ConfigFileError lists all problems (paths, no lines)."""
    problems: list[ConfigProblem] = []
    _duplicates(((("stages", index), stage.key) for index, stage in enumerate(document.stages)), "stage", problems)
    stages: dict[str, Stage] = {}
    for doc in document.stages:
        match = doc.match.to_match()
        stages.setdefault(doc.key, Stage(doc.key, doc.name, match, has_plan=has_plan(Stage(doc.key, doc.name, match))))
    pipeline = Pipeline(tuple(stages.values()))

    located_rules: list[tuple[Path, RuleDoc, str | None]] = [
        (("stages", i, "rules", j), rule, stage.key)
        for i, stage in enumerate(document.stages) for j, rule in enumerate(stage.rules)
    ] + [(("event_rules", j), rule, None) for j, rule in enumerate(document.event_rules)]
    _duplicates(((path, rule.key) for path, rule, _ in located_rules), "rule", problems)
    rules: list[tuple[Path, RuleSpec]] = []
    for path, rule_doc, stage_key in located_rules:
        spec = _rule_spec(rule_doc, path, stage_key, problems)
        if spec is None:
            continue
        if spec.kind == "change_stage":
            reason = target_problem(pipeline, str(spec.config.get("stage")))
            if reason is not None:
                problems.append(ConfigProblem((*path, "stage"), reason))
        rules.append((path, spec))

    located_triggers = [(("stages", i, "triggers", j), trigger, stage)
                        for i, stage in enumerate(document.stages) for j, trigger in enumerate(stage.triggers)]
    _duplicates(((path, trigger.key) for path, trigger, _ in located_triggers), "trigger", problems)
    triggers: list[tuple[Path, TriggerSpec]] = []
    for path, trigger_doc, stage_doc in located_triggers:
        reason = target_problem(pipeline, stage_doc.key)
        if reason is not None:
            problems.append(ConfigProblem(path, f"a trigger moves orders into stage {stage_doc.key}, but {reason}"))
            continue
        try:
            trigger = TriggerSpec.model_validate({**trigger_doc.model_dump(), "stage": stage_doc.key,
                                                  "condition": trigger_doc.condition})
        except ValidationError as exc:
            problems.extend(problems_of(exc, path))
            continue
        triggers.append((path, trigger))
    if problems:
        raise ConfigFileError(problems)
    quiet = document.settings.quiet_hours
    return CheckedConfig(
        time_zone=document.settings.time_zone,
        quiet_hours=QuietHours(quiet.start, quiet.end) if quiet is not None else None,
        pipeline=pipeline, rules=tuple(rules), triggers=tuple(triggers),
    )


@dataclass(frozen=True, slots=True)
class ParsedConfig:
    document: ConfigDocument
    locate: Locator | None = None
    checked: CheckedConfig | None = None  # check_config's result, so that applying it does not check again


def parse_config(text: str) -> ParsedConfig:
    """Parse and check a configuration; ConfigFileError with the line and column of every problem."""
    try:
        data, locate = parse_yaml(text)
    except YamlProblem as exc:
        raise ConfigFileError([ConfigProblem((), exc.message, exc.where)]) from None
    try:
        document = ConfigDocument.model_validate(data)
    except ValidationError as exc:
        raise ConfigFileError(problems_of(exc, ())).located(locate) from None
    try:
        checked = check_config(document)
    except ConfigFileError as exc:
        raise exc.located(locate) from None
    return ParsedConfig(document, locate, checked)


def data_of(document: ConfigDocument) -> dict[str, Any]:
    """The document as plain data (JSON-able) in the order a person reads it, defaults left out."""
    settings: dict[str, Any] = {"time_zone": document.settings.time_zone}
    if document.settings.quiet_hours is not None:
        quiet = document.settings.quiet_hours
        settings["quiet_hours"] = {"start": Quoted(f"{quiet.start:%H:%M}"), "end": Quoted(f"{quiet.end:%H:%M}")}
    data: dict[str, Any] = {"version": VERSION, "settings": settings,
                            "stages": [_stage_data(stage) for stage in document.stages]}
    if document.event_rules:
        data["event_rules"] = [_rule_data(rule) for rule in document.event_rules]
    for name in ("team", "sequences", "workflows",  # employee automation (issue 7): only when there is some
                 "providers", "suppressions"):  # issue 5: credentials only as ${ENV_VAR} references
        section = getattr(document, name)
        if section:
            data[name] = _plain(TypeAdapter(type(section)).dump_python(section, mode="json", exclude_defaults=True))
    return data


def _stage_data(stage: StageDoc) -> dict[str, Any]:
    match: dict[str, Any] = {"custom": True} if stage.match.custom else {}
    match["status"] = Flow(stage.match.status)
    if stage.match.charge_status is not None:
        match["charge_status"] = Flow(stage.match.charge_status)
    if stage.match.refund is not Refund.ANY:
        match["refund"] = stage.match.refund.value
    data: dict[str, Any] = {"key": stage.key, "name": stage.name, "match": match}
    if stage.rules:
        data["rules"] = [_rule_data(rule) for rule in stage.rules]
    if stage.triggers:
        data["triggers"] = [_trigger_data(trigger) for trigger in stage.triggers]
    return data


def _plain(value: Any) -> Any:
    """Nones dropped from mappings; short lists of texts on one line."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        items = [_plain(item) for item in value]
        return Flow(items) if all(isinstance(item, str | int | float) for item in items) else items
    return value


def _condition_data(condition: Condition) -> dict[str, Any]:
    return {"match": condition.match, "rules": _plain(condition.model_dump(mode="json")["rules"])}


def _rule_data(rule: RuleDoc) -> dict[str, Any]:
    data: dict[str, Any] = {"key": rule.key, "name": rule.name}
    if isinstance(rule, EventRuleDoc):
        data["event"] = rule.event
        if rule.event_params:
            data["event_params"] = dict(rule.event_params)
        if rule.cancel_on_move:
            data["cancel_on_move"] = True
    data["kind"] = rule.kind
    data.update(_plain(rule.kind_fields))
    data["enabled"] = rule.enabled
    if rule.delay:
        data["delay"] = format_duration(rule.delay)
    if rule.at is not None:
        data["at"] = Quoted(f"{rule.at:%H:%M}")
    if rule.after_previous:
        data["after_previous"] = True
    if rule.repeat is not Repeat.EVERY_ENTRY:
        data["repeat"] = rule.repeat.value
    if rule.max_age is not None:
        data["max_age"] = format_duration(rule.max_age)
    if rule.condition is not None:
        data["condition"] = _condition_data(rule.condition)
    return data


def _trigger_data(trigger: TriggerDoc) -> dict[str, Any]:
    data: dict[str, Any] = {"key": trigger.key, "name": trigger.name or trigger.key, "event": trigger.event}
    if trigger.params:
        data["params"] = dict(trigger.params)
    if trigger.condition is not None:
        data["condition"] = _condition_data(trigger.condition)
    if trigger.allow_back:
        data["allow_back"] = True
    data["enabled"] = trigger.enabled
    return data


def dump_config(document: ConfigDocument) -> str:
    return dump_yaml(data_of(document), header=HEADER)


# ---------------------------------------------------------------------------------- from stored state


def _stored_rule(rule: Rule) -> dict[str, Any]:
    data: dict[str, Any] = {
        **rule.config, "key": rule.key, "name": rule.name, "kind": rule.kind, "enabled": rule.enabled,
        "delay": format_duration(int(rule.delay.total_seconds())), "at": rule.at,
        "after_previous": rule.after_previous, "repeat": rule.repeat, "condition": rule.condition,
        "max_age": format_duration(int(rule.max_age.total_seconds())) if rule.max_age is not None else None,
    }
    if rule.event is not None:
        data.update(event=rule.event, event_params=rule.event_params or {}, cancel_on_move=rule.cancel_on_move)
    return data


def document_from(settings: AutomationSettings, pipeline: Pipeline, rules: Sequence[Rule],
                  triggers: Sequence[Trigger]) -> ConfigDocument:
    """The document of a stored configuration. Rules come in their stored order (position); a rule or trigger
    on a stage the pipeline no longer has cannot be placed and is left out."""
    quiet = settings.quiet_hours
    stages = []
    for stage in pipeline.stages:
        stages.append({
            "key": stage.key, "name": stage.name,
            "match": {"status": sorted(stage.match.statuses, key=conditions.ORDER_STATUSES.index),
                      "charge_status": sorted(stage.match.charge_statuses, key=conditions.CHARGE_STATUSES.index)
                      if stage.match.charge_statuses is not None else None,
                      "refund": stage.match.refund, "custom": stage.match.custom},
            "rules": [_stored_rule(rule) for rule in rules if rule.stage_key == stage.key and rule.event is None],
            "triggers": [{"key": t.key, "name": t.name, "event": t.event, "params": t.params,
                          "condition": t.condition, "allow_back": t.allow_back, "enabled": t.enabled}
                         for t in triggers if t.stage_key == stage.key],
        })
    event_rules = sorted((rule for rule in rules if rule.event is not None),
                         key=lambda rule: (rule.event or "", rule.position, rule.id))
    return ConfigDocument.model_validate({
        "version": VERSION,
        "settings": {"time_zone": settings.time_zone,
                     "quiet_hours": {"start": quiet.start, "end": quiet.end} if quiet is not None else None},
        "stages": stages,
        "event_rules": [_stored_rule(rule) for rule in event_rules],
    })
