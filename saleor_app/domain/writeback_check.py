"""The pre-check of a write-back plan: which step Saleor would refuse, told before the first mutation, pure.

One function serves the move itself (before it sends anything), the dry run and the order page's move choices,
so what the page offers is what the move then does. It reads only what Saleor tells: the shop's fulfilment
settings, the order's payment state, the lines left to fulfil and where they are allocated. The checks and their
messages are Saleor 3.23's own (graphql/order/mutations/order_fulfill.py, order_confirm.py, order_mark_as_paid.py),
so a refusal foreseen here reads like the one Saleor would have sent.

Step order: a Shipped plan confirms first, then fulfils. Saleor also fulfils UNCONFIRMED orders (samples README,
surprise 1), and fulfilling first would make a refused fulfilment change nothing; but an accepted one takes the
order straight to (PARTIALLY_)FULFILLED and Saleor never sends ORDER_CONFIRMED for it: no confirmation e-mail, no
order_confirmed trigger or event rule (in this app or any other) would ever see it, and orderConfirm is refused
afterwards. So the plan keeps Saleor's own order and foresees the refusal here instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from saleor_app.domain.writeback import Action, NoPlan, Step

UNPAID = ("CANNOT_FULFILL_UNPAID_ORDER", "Cannot fulfill unpaid order.")


@dataclass(frozen=True, slots=True)
class ShopRules:
    """`shop { fulfillmentAutoApprove fulfillmentAllowUnpaid }` (public fields): Saleor's defaults when unread."""

    fulfillment_auto_approve: bool = True
    fulfillment_allow_unpaid: bool = True

    @classmethod
    def from_shop(cls, shop: Mapping[str, Any] | None) -> ShopRules:
        shop = shop or {}
        return cls(bool(shop.get("fulfillmentAutoApprove", True)), bool(shop.get("fulfillmentAllowUnpaid", True)))


class WouldRefuse(NoPlan):
    """Saleor would refuse step `index` (0-based) of the plan: nothing was sent."""

    def __init__(self, steps: Sequence[Step], index: int, code: str, message: str, why: str) -> None:
        self.steps = tuple(steps)
        self.index = index
        self.code = code
        self.message = message
        self.why = why
        super().__init__(f"{steps[index].describe()} ✗ {code}: {message} ({why})")


def precheck(steps: Sequence[Step], order: Mapping[str, Any], shop: ShopRules | None) -> None:
    """Raise WouldRefuse for the first step Saleor would refuse, walking the plan as Saleor would see it after
    the steps before it (a mark as paid makes the fulfilment after it a paid one). `shop` None: the shop's
    settings are unknown here, so only what the order alone tells is checked."""
    paid = _fully_paid(order)
    status = order.get("status")
    for index, step in enumerate(steps):
        if step.action is Action.CONFIRM:
            if status != "UNCONFIRMED":
                raise WouldRefuse(steps, index, "INVALID", "Provided order id belongs to an order with status "
                                  "different than unconfirmed.", f"the order is {status}")
            if not order.get("lines"):
                raise WouldRefuse(steps, index, "INVALID", "Provided order id belongs to an order without "
                                  "products.", "the order has no lines")
            status = "UNFULFILLED"
        elif step.action is Action.MARK_PAID:
            if order.get("transactions"):
                raise WouldRefuse(steps, index, "TRANSACTION_ERROR", "Orders with transactions can not be manually "
                                  "marked as paid.", "the order has payment transactions; charge it through them")
            if not order.get("billingAddress"):
                raise WouldRefuse(steps, index, "BILLING_ADDRESS_NOT_SET", "Order billing address is required to "
                                  "mark order as paid.", "the order has no billing address")
            paid = True
        elif step.action is Action.FULFILL:
            _check_fulfil(steps, index, order, shop, paid)


def _check_fulfil(steps: Sequence[Step], index: int, order: Mapping[str, Any], shop: ShopRules | None,
                  paid: bool) -> None:
    if not steps[index].lines or sum(line.quantity for line in steps[index].lines) <= 0:
        raise WouldRefuse(steps, index, "ZERO_QUANTITY", "Total quantity must be larger than 0.",
                          "nothing is left to fulfil")
    if shop is None or paid or shop.fulfillment_allow_unpaid:
        return
    charged, total, currency = _money(order)
    owing = f"charged {charged:.2f} of {total:.2f} {currency}".strip()
    if shop.fulfillment_auto_approve:
        raise WouldRefuse(steps, index, *UNPAID, f"the order is not fully paid, {owing}, and the shop's "
                          "fulfillmentAllowUnpaid is off")
    # Auto-approval off: Saleor accepts the fulfilment as WAITING_FOR_APPROVAL, then refuses to approve it with
    # the same error while the order is unpaid (fulfillment_approve.py), so the move could never finish.
    raise WouldRefuse(steps, index, *UNPAID, f"the order is not fully paid, {owing}: Saleor would hold the "
                      "fulfilment for approval and refuse to approve it, because the shop's fulfillmentAllowUnpaid "
                      "is off")


def _fully_paid(order: Mapping[str, Any]) -> bool:
    """Saleor's Order.is_fully_paid: total charged ≥ total gross (not chargeStatus, which nets granted refunds)."""
    if order.get("total") is None or order.get("totalCharged") is None:  # a partial snapshot: Saleor's summary
        return order.get("chargeStatus") in ("FULL", "OVERCHARGED")
    charged, total, _ = _money(order)
    return charged >= total


def _money(order: Mapping[str, Any]) -> tuple[float, float, str]:
    gross = ((order.get("total") or {}).get("gross")) or {}
    charged = order.get("totalCharged") or {}
    return (float(charged.get("amount") or 0), float(gross.get("amount") or 0),
            str(gross.get("currency") or charged.get("currency") or ""))
