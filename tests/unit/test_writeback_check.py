"""The write-back pre-check: the step Saleor would refuse, told from what Saleor says, in Saleor's words."""

from __future__ import annotations

from typing import Any

import pytest

from saleor_app.domain.ports import FulfillmentLine
from saleor_app.domain.writeback import Action, Step
from saleor_app.domain.writeback_check import ShopRules, WouldRefuse, precheck

SHIP = [Step(Action.CONFIRM), Step(Action.FULFILL, (FulfillmentLine("line-1", "wh-1", 2),))]
STRICT = ShopRules(fulfillment_auto_approve=True, fulfillment_allow_unpaid=False)


def order(charged: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {"status": "UNCONFIRMED", "lines": [{"id": "line-1"}], "billingAddress": {"city": "X"},
            "total": {"gross": {"amount": 10.0, "currency": "USD"}}, "totalCharged": {"amount": charged}, **extra}


def test_an_unpaid_order_is_refused_at_the_fulfilment_before_the_confirm_is_sent() -> None:
    with pytest.raises(WouldRefuse) as refused:
        precheck(SHIP, order(), STRICT)
    assert refused.value.index == 1 and refused.value.code == "CANNOT_FULFILL_UNPAID_ORDER"
    assert refused.value.message == "Cannot fulfill unpaid order."  # Saleor 3.23.28's own message
    assert "charged 0.00 of 10.00 USD" in str(refused.value)


def test_paid_orders_lenient_shops_and_unknown_settings_pass() -> None:
    precheck(SHIP, order(charged=10.0), STRICT)
    precheck(SHIP, order(), ShopRules(fulfillment_auto_approve=True, fulfillment_allow_unpaid=True))
    precheck(SHIP, order(), None)  # the shop's settings unread: only what the order alone tells is checked


def test_a_mark_as_paid_earlier_in_the_plan_makes_the_fulfilment_a_paid_one() -> None:
    precheck([Step(Action.MARK_PAID), *SHIP[1:]], order(status="UNFULFILLED"), STRICT)


def test_approval_of_an_unpaid_fulfilment_is_refused_too() -> None:
    with pytest.raises(WouldRefuse, match="refuse to approve it"):
        precheck(SHIP, order(), ShopRules(fulfillment_auto_approve=False, fulfillment_allow_unpaid=False))


def test_mark_as_paid_needs_no_transactions_and_a_billing_address() -> None:
    with pytest.raises(WouldRefuse, match="TRANSACTION_ERROR: Orders with transactions can not be manually"):
        precheck([Step(Action.MARK_PAID)], order(transactions=[{"id": "t"}]), STRICT)
    with pytest.raises(WouldRefuse, match="BILLING_ADDRESS_NOT_SET"):
        precheck([Step(Action.MARK_PAID)], order(billingAddress=None), STRICT)


def test_shop_rules_default_to_saleors_defaults() -> None:
    assert ShopRules.from_shop(None) == ShopRules(True, True)
    assert ShopRules.from_shop({"fulfillmentAutoApprove": True, "fulfillmentAllowUnpaid": False}) == STRICT
