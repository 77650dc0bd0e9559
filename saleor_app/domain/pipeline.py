"""Stages of an installation's pipeline and the pure rule that puts an order in one (DESIGN.md §4)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

STAGE_KEY = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
PRIVATE_METADATA_STAGE_KEY = "order-automation.stage"

ORDER_STATUSES = frozenset(
    {"UNCONFIRMED", "UNFULFILLED", "PARTIALLY_FULFILLED", "FULFILLED", "PARTIALLY_RETURNED", "RETURNED",
     "CANCELED", "EXPIRED"}
)
CHARGE_STATUSES = frozenset({"NONE", "PARTIAL", "FULL", "OVERCHARGED"})


class Refund(StrEnum):
    ANY = "any"
    NONE = "none"  # no refund recorded on the order
    RECORDED = "recorded"  # a refund recorded and the order not fully charged any more


@dataclass(frozen=True, slots=True)
class StageMatch:
    """Which Saleor states put an order in a stage. A custom stage has `custom=True` and matches nothing by
    itself: it is entered by a trigger, a rule or a person, and holds while the status stays in `statuses`."""

    statuses: frozenset[str]
    charge_statuses: frozenset[str] | None = None  # None: any
    refund: Refund = Refund.ANY
    custom: bool = False

    def matches(self, snapshot: Mapping[str, Any]) -> bool:
        if self.custom or snapshot.get("status") not in self.statuses:
            return False
        if self.charge_statuses is not None and snapshot.get("chargeStatus") not in self.charge_statuses:
            return False
        if self.refund is Refund.NONE:
            return not refund_recorded(snapshot)
        if self.refund is Refund.RECORDED:
            return refund_recorded(snapshot) and snapshot.get("chargeStatus") not in {"FULL", "OVERCHARGED"}
        return True

    def holds(self, snapshot: Mapping[str, Any]) -> bool:
        """Whether an order already in this (custom) stage may stay in it."""
        return snapshot.get("status") in self.statuses


@dataclass(frozen=True, slots=True)
class Stage:
    key: str
    name: str
    match: StageMatch
    has_plan: bool = False  # a write-back plan exists (next engine issue); custom stages are metadata only


@dataclass(frozen=True, slots=True)
class Pipeline:
    stages: tuple[Stage, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        keys = [stage.key for stage in self.stages]
        if len(keys) != len(set(keys)):
            raise ValueError("stage keys must be unique")

    def stage(self, key: str | None) -> Stage | None:
        return next((stage for stage in self.stages if stage.key == key), None)

    def position(self, key: str) -> int:
        return next(index for index, stage in enumerate(self.stages) if stage.key == key)


def refund_recorded(snapshot: Mapping[str, Any]) -> bool:
    refunded = (snapshot.get("totalRefunded") or {}).get("amount")
    return refunded is not None and Decimal(str(refunded)) > 0


def resolve_stage(pipeline: Pipeline, snapshot: Mapping[str, Any], current: str | None) -> str | None:
    """The stage an order is in: a custom stage holds while Saleor's status allows it; otherwise the first stage
    (in pipeline order) whose match fits. None for drafts and states no stage matches."""
    if snapshot.get("status") == "DRAFT":
        return None
    held = pipeline.stage(current)
    if held is not None and held.match.custom and held.match.holds(snapshot):
        return held.key
    for stage in pipeline.stages:
        if stage.match.matches(snapshot):
            return stage.key
    return None


def overlapping_stages(pipeline: Pipeline) -> list[tuple[str, str]]:
    """Pairs of stages whose matches can both fit one order (the first wins; the board warns)."""
    pairs = []
    plain = [stage for stage in pipeline.stages if not stage.match.custom]
    for index, first in enumerate(plain):
        for second in plain[index + 1:]:
            if _can_overlap(first.match, second.match):
                pairs.append((first.key, second.key))
    return pairs


def _can_overlap(a: StageMatch, b: StageMatch) -> bool:
    if not a.statuses & b.statuses or not _charges(a) & _charges(b):
        return False
    return {a.refund, b.refund} != {Refund.NONE, Refund.RECORDED}


def _charges(match: StageMatch) -> frozenset[str]:
    charges = match.charge_statuses if match.charge_statuses is not None else CHARGE_STATUSES
    # "Refund recorded" stages only hold orders that are not fully charged any more.
    return charges - {"FULL", "OVERCHARGED"} if match.refund is Refund.RECORDED else charges


def _stage(key: str, name: str, statuses: Sequence[str], charge: Sequence[str] | None = None,
           refund: Refund = Refund.ANY, *, has_plan: bool = False) -> Stage:
    return Stage(key, name, StageMatch(frozenset(statuses), frozenset(charge) if charge else None, refund),
                 has_plan=has_plan)


DEFAULT_PIPELINE = Pipeline(
    (
        _stage("new", "New", ["UNCONFIRMED"], refund=Refund.NONE),
        _stage("awaiting-payment", "Awaiting payment", ["UNFULFILLED"], ["NONE", "PARTIAL"], Refund.NONE,
               has_plan=True),
        _stage("paid", "Paid", ["UNFULFILLED"], ["FULL", "OVERCHARGED"], has_plan=True),
        _stage("refunded", "Refunded", ["UNCONFIRMED", "UNFULFILLED"], refund=Refund.RECORDED),
        _stage("partially-shipped", "Partially shipped", ["PARTIALLY_FULFILLED"]),
        _stage("shipped", "Shipped", ["FULFILLED"], has_plan=True),
        _stage("returned", "Returned", ["PARTIALLY_RETURNED", "RETURNED"]),
        _stage("cancelled", "Cancelled", ["CANCELED"], has_plan=True),
        _stage("expired", "Expired", ["EXPIRED"]),
    )
)
