"""Write-back plans: the Saleor mutations that put an order into a stage's Saleor state (DESIGN.md §3), pure.

A plan is derived from the stage's match, so a merchant's own stage that matches like a default one gets the
same plan, and computed from the order's current state, so running it again after a crash or a partial success
only does what is left (every step is "if needed").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from saleor_app.domain.pipeline import Refund, Stage, StageMatch
from saleor_app.domain.ports import FulfillmentLine

PAID = frozenset({"FULL", "OVERCHARGED"})


class Action(StrEnum):
    CONFIRM = "confirm"
    MARK_PAID = "mark_paid"
    FULFILL = "fulfill"
    CANCEL = "cancel"


class Goal(StrEnum):
    CONFIRMED = "confirmed"  # e.g. Awaiting payment
    PAID = "paid"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    METADATA = "metadata"  # a custom stage: nothing to do in Saleor


@dataclass(frozen=True, slots=True)
class Step:
    action: Action
    lines: tuple[FulfillmentLine, ...] = ()

    def describe(self) -> str:
        if self.action is Action.FULFILL:
            return f"fulfil {sum(line.quantity for line in self.lines)} item(s)"
        return {Action.CONFIRM: "confirm", Action.MARK_PAID: "mark as paid", Action.CANCEL: "cancel"}[self.action]

    def done(self) -> str:
        """The step once Saleor accepted it, for the log."""
        if self.action is Action.FULFILL:
            return f"fulfilled {sum(line.quantity for line in self.lines)} item(s)"
        return {Action.CONFIRM: "confirmed", Action.MARK_PAID: "marked as paid",
                Action.CANCEL: "cancelled"}[self.action]


class NoPlan(ValueError):
    """The stage implies a Saleor state the app cannot produce (or, now, this order cannot reach)."""


def goal(match: StageMatch) -> Goal | None:
    """What entering a stage with this match asks of Saleor; None when no plan exists (New, Returned, …)."""
    if match.custom:
        return Goal.METADATA
    if match.refund is Refund.RECORDED:
        return None
    if match.statuses == {"CANCELED"}:
        return Goal.CANCELLED
    if match.statuses == {"FULFILLED"}:
        return Goal.SHIPPED
    if "UNFULFILLED" in match.statuses and match.statuses <= {"UNFULFILLED", "UNCONFIRMED"}:
        charges = match.charge_statuses
        if charges is not None and charges <= PAID:
            return Goal.PAID
        if charges is None or not charges & PAID:
            return Goal.CONFIRMED
    return None


def has_plan(stage: Stage) -> bool:
    return goal(stage.match) is not None


def plan(stage: Stage, order: Mapping[str, Any]) -> list[Step]:
    """The steps still needed to put `order` into `stage`; raises NoPlan when it cannot be done."""
    wanted = goal(stage.match)
    status = order.get("status")
    if wanted is None:
        raise NoPlan(f"stage {stage.key} has no write-back plan: it follows Saleor and cannot be a move's target")
    if wanted is Goal.METADATA:
        if not stage.match.holds(order):
            allowed = ", ".join(sorted(stage.match.statuses)) or "none"
            raise NoPlan(f"stage {stage.key} allows Saleor statuses {allowed}; the order is {status}")
        return []
    if status in ("CANCELED", "EXPIRED", "DRAFT") and wanted is not Goal.CANCELLED:
        raise NoPlan(f"the order is {status} in Saleor; it cannot be moved to {stage.key}")
    if wanted is Goal.CANCELLED:
        if status in ("FULFILLED", "PARTIALLY_FULFILLED", "RETURNED", "PARTIALLY_RETURNED"):
            raise NoPlan(f"the order is {status}; Saleor cancels only orders with no fulfilment left "
                         "(cancel its fulfilments in the Dashboard first)")
        return [] if status == "CANCELED" else [Step(Action.CANCEL)]
    if status in ("FULFILLED", "RETURNED", "PARTIALLY_RETURNED") and wanted is not Goal.SHIPPED:
        raise NoPlan(f"the order is {status} in Saleor; it cannot go back to {stage.key}")
    steps = [Step(Action.CONFIRM)] if status == "UNCONFIRMED" else []
    if wanted is Goal.PAID and order.get("chargeStatus") not in PAID:
        steps.append(Step(Action.MARK_PAID))
    if wanted is Goal.SHIPPED and status != "FULFILLED":
        steps.append(Step(Action.FULFILL, remaining_lines(order)))
    if not steps and not stage.match.matches(order):
        raise NoPlan(f"the order is {status} with charge {order.get('chargeStatus')} in Saleor, which does not fit "
                     f"{stage.key}, and no mutation the app may send changes that")
    return steps


def remaining_lines(order: Mapping[str, Any]) -> tuple[FulfillmentLine, ...]:
    """What is left to fulfil, taken from the warehouses the lines are allocated in."""
    lines: list[FulfillmentLine] = []
    for line in order.get("lines") or []:
        left = int(line.get("quantityToFulfill") or 0)
        if left <= 0:
            continue
        name = " ".join(str(part) for part in (line.get("productName"), line.get("variantName")) if part) \
            or line.get("id")
        if ((line.get("variant") or {}).get("preorder")) is not None:
            raise NoPlan(f"line {name!r} is a preorder; Saleor cannot fulfil it until the preorder ends")
        for allocation in line.get("allocations") or []:
            take = min(left, int(allocation.get("quantity") or 0))
            warehouse = (allocation.get("warehouse") or {}).get("id")
            if take > 0 and warehouse:
                lines.append(FulfillmentLine(str(line["id"]), str(warehouse), take))
                left -= take
        if left > 0:
            raise NoPlan(f"line {name!r} has {left} item(s) without an allocated warehouse; "
                         "fulfil it in the Dashboard")
    if not lines:
        raise NoPlan("nothing is left to fulfil, yet Saleor does not call the order fulfilled")
    return tuple(lines)


def awaiting_approval(order: Mapping[str, Any]) -> bool:
    """Fulfilments wait for staff approval (the channel's auto-approval is off): the status stays UNFULFILLED."""
    return any(f.get("status") == "WAITING_FOR_APPROVAL" for f in order.get("fulfillments") or [])
