"""Rule kinds, registered in one place: each kind's config model and how the engine must treat it.

Later issues add kinds (email, SMS, call, tasks…) by registering them here and giving wiring a handler; the
engine never names a kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from saleor_app.domain import templates


class KindConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class RuleKind:
    name: str
    label: str
    config: type[KindConfig]
    idempotent: bool  # running it twice has the effect of running it once: retried after a crash mid-run
    realtime_customer_facing: bool = False  # deferred by quiet hours (SMS, calls)
    # A run sends exactly one message through the messages ledger, whose row (written just before the provider
    # call) is the job's hand-over mark and, once sent, its outcome. Any other non-idempotent kind is marked
    # handed over by the engine as its handler starts (engine/execute.py).
    one_message: bool = False


class UnknownKind(ValueError):
    pass


_REGISTRY: dict[str, RuleKind] = {}


def register(kind: RuleKind) -> RuleKind:
    if kind.name in _REGISTRY and _REGISTRY[kind.name] != kind:
        raise ValueError(f"rule kind {kind.name!r} is registered twice")
    _REGISTRY[kind.name] = kind
    return kind


def kind(name: str) -> RuleKind:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownKind(f"unknown rule kind {name!r}; known kinds: {known}") from None


def kinds() -> list[RuleKind]:
    return sorted(_REGISTRY.values(), key=lambda k: k.name)


def validate_config(kind_name: str, config: dict[str, Any]) -> KindConfig:
    """Field-level errors come back as pydantic's ValidationError; nothing is saved then."""
    return kind(kind_name).config.model_validate(config)


class AddNoteConfig(KindConfig):
    message: str = Field(min_length=1, max_length=5000, description="note text (a template)")

    @field_validator("message")
    @classmethod
    def _valid_template(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the note must not be empty (Saleor refuses blank notes)")
        return checked_template(value)


def checked_template(source: str) -> str:
    """Refuse a template with syntax errors, unknown variables or filters, or limits broken on a sample order."""
    problems = templates.validate(source)
    if problems:
        raise ValueError("; ".join(f"line {p.line}, column {p.column}: {p.message}" for p in problems))
    return source


class ChangeStageConfig(KindConfig):
    stage: str = Field(min_length=1, max_length=63, description="key of the stage to move the order to")


ADD_NOTE = register(RuleKind("add_note", "Add order note", AddNoteConfig, idempotent=False))
CHANGE_STAGE = register(RuleKind("change_stage", "Change stage", ChangeStageConfig, idempotent=True))

# Kinds defined in their own modules register on import; importing them here makes every kind known wherever
# rules are validated. At the end: they import this module.
from saleor_app.domain import email, employee_kinds, sms, voice  # noqa: E402, F401 - register their kinds
