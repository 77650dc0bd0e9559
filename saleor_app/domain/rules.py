"""Rules on a stage: what runs when an order enters it, when, after what, how often, and on which condition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from enum import StrEnum
from typing import Any


class Repeat(StrEnum):
    EVERY_ENTRY = "every_entry"  # every time the order enters the stage (Bitrix24's default)
    ONCE_PER_ORDER = "once_per_order"  # e.g. a payment reminder that a refund sending the order back must not resend


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    installation_id: int
    stage_key: str
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

    @property
    def immediate(self) -> bool:
        return self.delay == timedelta(0) and self.at is None
