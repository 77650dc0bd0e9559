"""Triggers: move an order into their stage when an event happens (DESIGN.md §6). Choosing the target is pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from saleor_app.domain.conditions import Condition, evaluate
from saleor_app.domain.events import OrderEvent, event_type
from saleor_app.domain.pipeline import Pipeline


@dataclass(frozen=True, slots=True)
class Trigger:
    id: int
    installation_id: int
    stage_key: str  # the target
    key: str
    name: str
    event: str
    params: dict[str, Any] = field(default_factory=dict)
    condition: dict[str, Any] | None = None
    allow_back: bool = False  # otherwise only orders in an earlier stage move
    enabled: bool = True
    position: int = 0


class TriggerSpec(BaseModel):
    """A trigger as the merchant writes it (API, YAML); checked whole before anything is saved."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    name: str = Field(default="", max_length=200)
    stage: str = Field(min_length=1, max_length=63)
    event: str
    params: dict[str, str] = Field(default_factory=dict)
    condition: Condition | None = None
    allow_back: bool = False
    enabled: bool = True

    @model_validator(mode="after")
    def _event_is_known(self) -> TriggerSpec:
        known = event_type(self.event)  # ValueError names the known events
        unknown = set(self.params) - set(known.params)
        if unknown:
            allowed = ", ".join(known.params) or "none"
            raise ValueError(f"event {self.event} takes no parameter {', '.join(sorted(unknown))} "
                             f"(allowed: {allowed})")
        if self.event == "metadata_changed" and not self.params.get("key"):
            raise ValueError("a metadata_changed trigger needs params.key (the metadata key to watch)")
        return self


@dataclass(frozen=True, slots=True)
class Firing:
    trigger: Trigger
    event: OrderEvent


def choose_target(
    pipeline: Pipeline,
    triggers: Sequence[Trigger],
    events: Sequence[OrderEvent],
    current: str | None,
    snapshot: Mapping[str, Any],
    *,
    now: datetime,
    time_zone: str,
) -> tuple[Firing | None, list[tuple[str, str]]]:
    """The trigger that wins for these events, and why the others did not fire.

    A trigger fires when its event happened, its params and condition match, and its target lies after the
    order's stage (or anywhere with allow_back). When several fire, the furthest-forward target wins.
    """
    best: Firing | None = None
    best_position = -1
    notes: list[tuple[str, str]] = []  # (trigger key, why it did not fire)
    position = pipeline.position(current) if pipeline.stage(current) is not None and current is not None else -1
    for trigger in triggers:
        if not trigger.enabled or pipeline.stage(trigger.stage_key) is None:
            continue
        event = next((e for e in events if e.name == trigger.event and e.matches(trigger.params)
                      and e.detail.get("trigger_id", str(trigger.id)) == str(trigger.id)), None)
        if event is None:
            continue
        target = pipeline.position(trigger.stage_key)
        if trigger.stage_key == current:
            notes.append((trigger.key, f"trigger {trigger.key}: the order is in {current} already"))
            continue
        if target < position and not trigger.allow_back:
            notes.append((trigger.key, f"trigger {trigger.key}: {trigger.stage_key} is behind {current} "
                                       "(moving back is off)"))
            continue
        if trigger.condition:
            verdict = evaluate(Condition.model_validate(trigger.condition), snapshot, now=now, time_zone=time_zone)
            if not verdict.passed:
                notes.append((trigger.key, f"trigger {trigger.key}: condition not met: {verdict.reason}"))
                continue
        if target > best_position:
            best, best_position = Firing(trigger, event), target
    return best, notes
