"""Rules on a stage: what runs when an order enters it, when, after what, how often, and on which condition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from saleor_app.domain.conditions import Condition
from saleor_app.domain.events import event_type
from saleor_app.domain.kinds import UnknownKind, validate_config


class Repeat(StrEnum):
    EVERY_ENTRY = "every_entry"  # every time the order enters the stage (Bitrix24's default)
    ONCE_PER_ORDER = "once_per_order"  # e.g. a payment reminder that a refund sending the order back must not resend


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    installation_id: int
    stage_key: str | None  # a stage rule runs when an order enters its stage;
    key: str
    name: str
    kind: str
    config: dict[str, Any]
    position: int
    enabled: bool = True
    delay: timedelta = timedelta(0)
    at: time | None = None  # run at the next such wall-clock time (after the delay), in the merchant's zone
    after_previous: bool = False  # start when the rule above finishes (its delay counts from then)
    repeat: Repeat = Repeat.EVERY_ENTRY
    condition: dict[str, Any] | None = None
    max_age: timedelta | None = None  # skip as "too late" when it would run this long after it was due
    event: str | None = None  # an event rule runs each time its event happens (stage_key is None then)
    event_params: dict[str, Any] | None = None
    cancel_on_move: bool = False  # an event rule's pending jobs stop when the order changes stage

    @property
    def immediate(self) -> bool:
        return self.delay == timedelta(0) and self.at is None


class RuleSpec(BaseModel):
    """A rule as the merchant (API, YAML) writes it; validated whole before anything is saved."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    name: str = Field(min_length=1, max_length=200)
    stage: str | None = Field(default=None, min_length=1, max_length=63)
    event: str | None = None  # instead of a stage: run each time this event happens
    event_params: dict[str, str] = Field(default_factory=dict)
    cancel_on_move: bool = False
    kind: str
    config: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    delay_seconds: int = Field(default=0, ge=0, le=366 * 86400)
    at: time | None = None
    after_previous: bool = False
    repeat: Repeat = Repeat.EVERY_ENTRY
    condition: Condition | None = None
    max_age_seconds: int | None = Field(default=None, ge=60)

    @model_validator(mode="after")
    def _stage_or_event(self) -> RuleSpec:
        if (self.stage is None) == (self.event is None):
            raise ValueError("a rule belongs to a stage or to an event: give exactly one of stage and event")
        if self.event is not None:
            known = event_type(self.event)
            unknown = set(self.event_params) - set(known.params)
            if unknown:
                raise ValueError(f"event {self.event} takes no parameter {', '.join(sorted(unknown))}")
        elif self.event_params or self.cancel_on_move:
            raise ValueError("event_params and cancel_on_move are for event rules")
        return self

    @model_validator(mode="after")
    def _config_fits_kind(self) -> RuleSpec:
        try:
            validate_config(self.kind, self.config)
        except UnknownKind as exc:
            raise ValueError(str(exc)) from exc
        except ValidationError as exc:
            details = "; ".join(f"config.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ValueError(details) from exc
        return self
