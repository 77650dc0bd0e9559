"""Automation as code: the configuration document (version 1), its problems and its durations. Pure.

The document is what a merchant writes in YAML: stages with their rules and triggers, event rules and settings.
Its models check each value where it stands, so pydantic's error locations become lines and columns
(`config_file.parse_config`); references between parts are checked in `config_file.check_config`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic import model_validator as model_check

from saleor_app.domain import conditions
from saleor_app.domain.conditions import Condition
from saleor_app.domain.config_yaml import Locator, Path, Where
from saleor_app.domain.employee_config import TeamSection
from saleor_app.domain.errors import PermanentError
from saleor_app.domain.events import event_type
from saleor_app.domain.pipeline import CHARGE_STATUSES, DEFAULT_PIPELINE, ORDER_STATUSES, STAGE_KEY, Refund, StageMatch
from saleor_app.domain.provider_config import ProviderDoc
from saleor_app.domain.providers import SuppressionSpec
from saleor_app.domain.rules import Repeat
from saleor_app.domain.sequences import SequenceSpec
from saleor_app.domain.time_zones import iana_zone
from saleor_app.domain.workflows import WorkflowSpec

VERSION = 1
RULE_KEY = r"^[a-z][a-z0-9_-]{0,62}$"
RULE_FIELDS = ("key", "name", "kind", "enabled", "delay", "at", "after_previous", "repeat", "max_age", "condition")
EVENT_RULE_FIELDS = ("event", "event_params", "cancel_on_move")
DEFAULT_STAGE_KEYS = frozenset(stage.key for stage in DEFAULT_PIPELINE.stages)


# ---------------------------------------------------------------------------------------------- problems


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    path: Path
    message: str
    where: Where | None = None
    at_key: bool = False  # points at the key itself (an unknown field), not at its value

    def __str__(self) -> str:
        at = f"line {self.where.line}, column {self.where.column}: " if self.where is not None else ""
        return f"{at}{format_path(self.path)}: {self.message}" if self.path else f"{at}{self.message}"


class ConfigFileError(PermanentError):
    """The configuration cannot be applied; nothing was changed. Every problem found is listed."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def located(self, locate: Locator | None) -> ConfigFileError:
        if locate is None:
            return self
        problems = [problem if problem.where is not None else replace(problem, where=locate(problem.path,
                                                                                            key=problem.at_key))
                    for problem in self.problems]
        return ConfigFileError(sorted(problems, key=lambda p: (p.where.line, p.where.column) if p.where else (0, 0)))


def format_path(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: Any) -> str:
    loc = error["loc"]
    if error["type"] == "extra_forbidden":
        return f"unknown field {loc[-1]!r}" if loc else "unknown field"
    if error["type"] == "missing":
        return f"missing field {loc[-1]!r}" if loc else "missing"
    if error["type"] == "too_short":
        return f"needs at least {error['ctx']['min_length']} item{'s' if error['ctx']['min_length'] != 1 else ''}"
    return str(error["msg"]).removeprefix("Value error, ")


def problems_of(exc: ValidationError, base: Path, rename: dict[str, str] | None = None) -> list[ConfigProblem]:
    found = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if rename and loc and isinstance(loc[0], str):
            loc = (rename.get(loc[0], loc[0]), *loc[1:])
        path = (*base, *loc)
        if error["type"] == "missing":  # the field is not in the text: point at the mapping that lacks it
            path = (*base, *loc[:-1])
        found.append(ConfigProblem(path, _message(error), at_key=error["type"] == "extra_forbidden"))
    return found


# ----------------------------------------------------------------------------------- durations, times

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_duration(value: object) -> int:
    """Seconds of `90s`, `10m`, `2h`, `1d` or a combination in that order (`1h30m`); `0` is no delay."""
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return 0
    if isinstance(value, str):
        text = value.strip()
        found = _DURATION.match(text)
        if text == "0":
            return 0
        if text and found is not None:
            return sum(int(count) * size for count, (_, size) in zip(found.groups(), _UNITS, strict=True) if count)
    raise ValueError(f"{value!r} is not a duration; write it like 90s, 10m, 2h, 1d or 1h30m")


def format_duration(seconds: int) -> str:
    """The shortest exact form in one unit: 600 → `10m`, 5400 → `90m`, 86400 → `1d`."""
    if seconds == 0:
        return "0s"
    unit, size = next((unit, size) for unit, size in _UNITS if seconds % size == 0)
    return f"{seconds // size}{unit}"


def parse_time_of_day(value: object) -> object:
    if isinstance(value, str):
        found = _TIME.match(value.strip())
        if found is None:
            raise ValueError(f"{value!r} is not a time of day; write it like \"09:00\" (00:00 to 23:59)")
        return time(int(found.group(1)), int(found.group(2)))
    return value


def only_true_or_false(value: object) -> object:
    """pydantic would take "on", "yes", "1" and 1 for true: the documented values are true and false only."""
    if not isinstance(value, bool):
        raise ValueError("write true or false")
    return value


Duration = Annotated[int, BeforeValidator(parse_duration)]
Flag = Annotated[bool, BeforeValidator(only_true_or_false)]
TimeOfDay = Annotated[time, BeforeValidator(parse_time_of_day)]


# ----------------------------------------------------------------------------------------- the document


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuietHoursDoc(_Doc):
    start: TimeOfDay
    end: TimeOfDay

    @model_check(mode="after")
    def _not_empty(self) -> QuietHoursDoc:
        if self.start == self.end:
            raise ValueError("quiet hours need a start and a different end")
        return self


class SettingsDoc(_Doc):
    time_zone: str = "UTC"
    quiet_hours: QuietHoursDoc | None = None

    @field_validator("time_zone")
    @classmethod
    def _iana(cls, value: str) -> str:
        iana_zone(value)  # UnknownTimeZone is a ValueError: pydantic reports it at the field
        return value


def _choices(values: Sequence[str], allowed: Iterable[str], what: str) -> tuple[str, ...]:
    ordered = tuple(allowed)
    unknown = [value for value in values if value not in ordered]
    if unknown:
        raise ValueError(f"{', '.join(map(repr, unknown))}: not a {what}; choose from {', '.join(ordered)}")
    return tuple(dict.fromkeys(values))


class MatchDoc(_Doc):
    status: tuple[str, ...] = Field(min_length=1)
    charge_status: tuple[str, ...] | None = Field(default=None, min_length=1)
    refund: Refund = Refund.ANY
    custom: Flag = False

    @field_validator("status")
    @classmethod
    def _statuses(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _choices(values, (s for s in conditions.ORDER_STATUSES if s in ORDER_STATUSES), "Saleor order status")

    @field_validator("charge_status")
    @classmethod
    def _charges(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if values is None:
            return None
        return _choices(values, (s for s in conditions.CHARGE_STATUSES if s in CHARGE_STATUSES), "charge status")

    @model_check(mode="after")
    def _custom_alone(self) -> MatchDoc:
        if self.custom and (self.charge_status is not None or self.refund is not Refund.ANY):
            raise ValueError("a custom stage only lists the statuses it allows (no charge_status or refund)")
        return self

    def to_match(self) -> StageMatch:
        charges = frozenset(self.charge_status) if self.charge_status is not None else None
        return StageMatch(frozenset(self.status), charges, self.refund, self.custom)


def _event_params(params: dict[str, str], info: ValidationInfo) -> dict[str, str]:
    name = info.data.get("event")
    if name is None:  # the event itself was refused
        return params
    allowed = event_type(name).params
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"event {name} takes no parameter {', '.join(unknown)} "
                         f"(allowed: {', '.join(allowed) or 'none'})")
    return params


class RuleDoc(BaseModel):
    """A stage rule; the fields of its kind sit beside the rule's own (`message:` of an add_note rule)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    key: str = Field(pattern=RULE_KEY)
    name: str = Field(min_length=1, max_length=200)
    kind: str
    enabled: Flag = True
    delay: Duration = Field(default=0, ge=0, le=366 * 86400)
    at: TimeOfDay | None = None
    after_previous: Flag = False
    repeat: Repeat = Repeat.EVERY_ENTRY
    max_age: Duration | None = Field(default=None, ge=60)
    condition: Condition | None = None

    @property
    def kind_fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class EventRuleDoc(RuleDoc):
    """A rule that runs each time its event happens, on whatever stage the order is."""

    event: str
    event_params: dict[str, str] = Field(default_factory=dict)
    cancel_on_move: Flag = False

    @field_validator("event")
    @classmethod
    def _known(cls, value: str) -> str:
        event_type(value)  # ValueError names the known events
        return value

    @field_validator("event_params")
    @classmethod
    def _params_of_event(cls, params: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        return _event_params(params, info)


class TriggerDoc(_Doc):
    key: str = Field(pattern=RULE_KEY)
    name: str = Field(default="", max_length=200)
    event: str
    params: dict[str, str] = Field(default_factory=dict)
    condition: Condition | None = None
    allow_back: Flag = False
    enabled: Flag = True

    @field_validator("event")
    @classmethod
    def _known(cls, value: str) -> str:
        event_type(value)
        return value

    @field_validator("params")
    @classmethod
    def _params_of_event(cls, params: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        return _event_params(params, info)


class StageDoc(_Doc):
    key: str = Field(pattern=STAGE_KEY.pattern)
    name: str = Field(min_length=1, max_length=120)
    match: MatchDoc
    rules: tuple[RuleDoc, ...] = ()
    triggers: tuple[TriggerDoc, ...] = ()


class ConfigDocument(_Doc):
    version: Literal[1]
    settings: SettingsDoc = SettingsDoc()
    stages: tuple[StageDoc, ...] = Field(min_length=1)
    event_rules: tuple[EventRuleDoc, ...] = ()
    # Employee automation (issue 7; domain/employee_config.py says what importing each does). None: not in the file.
    team: TeamSection | None = None
    sequences: tuple[SequenceSpec, ...] | None = None
    workflows: tuple[WorkflowSpec, ...] | None = None
    # Providers and suppressions (issue 5; domain/provider_config.py). None: not in the file.
    providers: tuple[ProviderDoc, ...] | None = None
    suppressions: tuple[SuppressionSpec, ...] | None = None
