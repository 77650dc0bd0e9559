"""What a merchant sets up first, each from a YAML file, end to end: the fake Saleor, the app over real HTTP, the
real `twilio` library against the fake Twilio. (The e-mail on every new order is in test_employee_email.py, with
a real SMTP server.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from saleor_app.domain.config_file import dump_config, parse_config
from saleor_app.domain.providers import ProviderSpec, ProviderStatus
from saleor_app.domain.tasks import TaskState
from saleor_app.saleor import documents
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.fakes.twilio import FakeTwilio

SHOP = "+15005550006"


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as fake:
        fake.account.add_number(SHOP, "Shop line")
        yield fake


@pytest.fixture
async def stack(settings, twilio: FakeTwilio) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings.model_copy(update={"twilio_api_base_url": twilio.base_url})):
        view = await built.container.providers.connect(built.installation.id, ProviderSpec(
            key="twilio-main", kind="twilio",
            credentials={"account_sid": twilio.account.sid, "auth_token": twilio.account.auth_token}))
        assert view.account.status is ProviderStatus.CONNECTED, view.account.status_message
        yield built


async def import_yaml(stack: EngineStack, *, stage_rules: dict[str, str] | None = None, extra: str = "") -> None:
    """The installation's own export with the merchant's additions, imported like `config import` does."""
    text = dump_config(await stack.container.configure.export_config(stack.installation.id))
    for stage, rules in (stage_rules or {}).items():
        marker = f"  - key: {stage}\n"
        start = text.index(marker)
        end = text.find("\n  - key: ", start + len(marker))
        end = len(text) if end < 0 else end + 1
        text = text[:end] + rules + text[end:]
    parsed = parse_config(text + extra)
    await stack.container.configure.apply_config(stack.installation.id, parsed.document, locate=parsed.locate)


async def staff_fulfil(stack: EngineStack, order: Any, tracking: str) -> None:
    lines = [{"orderLineId": line.id, "stocks": [{"warehouse": stack.saleor.warehouse_id,
                                                   "quantity": line.spec.quantity}]} for line in order.lines]
    response = await stack.saleor.graphql(documents.load("OrderFulfill"), {"order": order.id, "input": {
        "lines": lines, "notifyCustomer": False, "trackingNumber": tracking}}, token=stack.saleor.staff_token())
    assert not response.json()["data"]["orderFulfill"]["errors"]


async def test_an_sms_with_the_tracking_number_when_shipped(stack: EngineStack, twilio: FakeTwilio) -> None:
    await import_yaml(stack, extra="""\
event_rules:
  - key: tracking-sms
    name: Tracking number by SMS
    event: tracking_number_added
    kind: sms
    phone_type: shipping
    text: "Order {{ order.number }} is on its way: {{ order.tracking_numbers | last }}"
""")
    order = await stack.saleor.place_order(auto_confirm=True, shipping_phone="+14155550100")
    await stack.saleor.charge(order, order.total)
    await stack.settle()
    await staff_fulfil(stack, order, "TRACK-9")
    await stack.settle()
    assert await stack.order_stage(order.id) == "shipped"
    [sms] = twilio.creates("Messages")
    assert (sms.form["To"], sms.form["Body"]) == ("+14155550100", f"Order {order.number} is on its way: TRACK-9")


CALL_IF_UNPAID = """\
    rules:
      - key: unpaid-call
        name: Call if still unpaid after 2 days
        kind: call
        delay: 2d
        text: "Hello {{ customer.first_name }}, order {{ order.number }} still awaits your payment."
"""


async def test_a_call_when_still_unpaid_after_two_days(stack: EngineStack, twilio: FakeTwilio) -> None:
    await import_yaml(stack, stage_rules={"awaiting-payment": CALL_IF_UNPAID})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    await stack.advance(timedelta(days=2) - timedelta(minutes=1))
    assert twilio.creates("Calls") == []
    await stack.advance(timedelta(minutes=1))
    [call] = twilio.creates("Calls")
    assert f"order {order.number} still awaits your payment" in call.form["Twiml"]


async def test_no_call_when_paid_in_between(stack: EngineStack, twilio: FakeTwilio) -> None:
    await import_yaml(stack, stage_rules={"awaiting-payment": CALL_IF_UNPAID})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    await stack.advance(timedelta(days=1))
    await stack.saleor.charge(order, order.total)
    await stack.settle()
    await stack.advance(timedelta(days=2))
    assert twilio.creates("Calls") == []
    assert (await stack.job_states())["unpaid-call"] == "cancelled"


async def test_a_task_for_staff_when_a_payment_fails(stack: EngineStack) -> None:
    await import_yaml(stack, extra="""\
event_rules:
  - key: payment-failed-task
    name: Check the failed payment
    event: payment_failed
    kind: create_task
    title: "Payment failed on order {{ order.number }}"
    description: "{{ order.total | money }} could not be charged; call {{ customer.full_name }}."
    assignee: {group: billing}
    due_in: 4h
    priority: urgent
team:
  members:
    - {key: ann, name: Ann Accounts, email: ann@shop.example}
    - {key: bob, name: Bob Books, email: bob@shop.example, away: true}
  groups:
    - {key: billing, members: [bob, ann]}
""")
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    await stack.saleor.fail_charge(order, order.total)
    await stack.settle()
    [task] = await stack.container.employees.work.tasks(stack.installation.id, state=TaskState.OPEN)
    assert task.title == f"Payment failed on order {order.number}" and task.assignee_key == "ann"  # bob is away
    assert task.priority == "urgent" and "could not be charged; call Ashley Cook." in task.description
    assert stack.notes() == [f"Task #{task.id} for Ann Accounts <ann@shop.example> (urgent, due "
                             f"{(stack.clock.now() + timedelta(hours=4)).isoformat(timespec='minutes')}): "
                             f"{task.title}"]


async def test_generate_a_number_then_send_it_by_sms(stack: EngineStack, twilio: FakeTwilio) -> None:
    await import_yaml(stack, stage_rules={"awaiting-payment": """\
    rules:
      - key: number
        name: Our order number
        kind: update_order
        external_reference: "{{ sequence.next }}"
      - key: tell
        name: Send it
        kind: sms
        after_previous: true
        text: "Your order number is {{ automation.number }}"
"""}, extra="""\
sequences:
  - {key: order-number, prefix: "WEB-", padding: 6, start: 1000}
""")
    orders = [await stack.saleor.place_order(auto_confirm=True) for _ in range(3)]
    await stack.settle()
    numbers = sorted(order.external_reference or "" for order in orders)
    assert numbers == ["WEB-001000", "WEB-001001", "WEB-001002"]
    texts = sorted(sms.form["Body"] for sms in twilio.creates("Messages"))
    assert texts == [f"Your order number is {number}" for number in numbers]
    for order in orders:
        assert order.private_metadata["order-automation.number"] == order.external_reference


async def test_notify_team_by_sms_reaches_who_can_be_reached(stack: EngineStack, twilio: FakeTwilio) -> None:
    await import_yaml(stack, stage_rules={"awaiting-payment": """\
    rules:
      - key: tell-team
        name: Tell the floor
        kind: notify_team
        channel: sms
        groups: [floor]
        message: "New order {{ order.number }}: {{ order.item_count }} items"
"""}, extra="""\
team:
  members:
    - {key: ann, phone: "+4915112345678"}
    - {key: bob, phone: "+4915187654321", away: true}
    - {key: cid, email: cid@shop.example}
  groups:
    - {key: floor, members: [ann, bob, cid]}
""")
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    [sms] = twilio.creates("Messages")
    assert (sms.form["To"], sms.form["Body"]) == ("+4915112345678", f"New order {order.number}: 3 items")
    reason = (await stack.jobs())[0]["reason"]
    assert "notified 1 by sms" in reason and "bob is away" in reason and "cid has no phone number" in reason


async def test_dry_run_tells_what_each_employee_rule_would_do(stack: EngineStack) -> None:
    await import_yaml(stack, stage_rules={"awaiting-payment": """\
    rules:
      - {key: a, name: a, kind: update_order, note: "No. {{ sequence.next }}"}
      - {key: b, name: b, kind: set_responsible, group: floor}
      - {key: c, name: c, kind: create_task, title: "Check {{ order.number }}", assignee: {group: floor}}
      - {key: d, name: d, kind: http_request, url: "https://erp.example/orders", body: {n: "{{ order.number }}"}}
"""}, extra="""\
team:
  members: [{key: ann, email: ann@shop.example}]
  groups: [{key: floor, members: [ann]}]
""")
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    calls_before = len(stack.saleor.mutations)
    record = await stack.container.dry_run.find_order(stack.installation.id, order.id)
    outcomes = {r.rule_key: r.outcome for r in await stack.container.dry_run.stage(stack.installation, record,
                                                                                      "awaiting-payment")}
    assert outcomes["a"] == ("would update the order: private metadata order-automation.number = "
                             "'<next order-number number>'; note 'No. <next order-number number>'")
    assert outcomes["b"] == "would make the next member of group floor responsible for the order (private metadata)"
    assert outcomes["c"] == f"would create the task 'Check {order.number}' for the next member of group floor (normal)"
    assert outcomes["d"] == f'would POST to https://erp.example/orders (signed): {{"n":"{order.number}"}}'
    assert len(stack.saleor.mutations) == calls_before
    # The rule ran once on entry (number 1); the dry run took none.
    assert await stack.container.employees.work.peek(stack.installation.id, "order-number") == "2"
