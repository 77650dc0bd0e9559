"""E-mail from a YAML setup, end to end through a real SMTP server on loopback (aiosmtpd): an e-mail on every new
order (also in a shop that auto-confirms), and e-mail to staff — a team notice and a new task's assignee."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from saleor_app.domain.providers import ProviderSpec, ProviderStatus
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.e2e.test_merchant_first_setups import import_yaml
from tests.fakes.smtp import FakeSmtp


@pytest.fixture
async def smtp(tmp_path: Path) -> AsyncIterator[FakeSmtp]:
    async with FakeSmtp(tls_dir=tmp_path, users={"shop": "secret"}) as server:
        yield server


@pytest.fixture
async def stack(settings, smtp: FakeSmtp) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings.model_copy(update={"allow_loopback_targets": True,
                                                                "smtp_ca_bundle": str(smtp.ca_file)})):
        view = await built.container.providers.connect(built.installation.id, ProviderSpec(
            key="smtp-main", kind="smtp", credentials={"username": "shop", "password": "secret"},
            settings={"host": "localhost", "port": smtp.port, "security": "starttls",
                      "from_address": "shop@shop.example", "from_name": "The Shop"}))
        assert view.account.status is ProviderStatus.CONNECTED, view.account.status_message
        yield built


async def test_an_email_on_every_new_order_also_when_the_shop_auto_confirms(
        stack: EngineStack, smtp: FakeSmtp) -> None:
    await import_yaml(stack, extra="""\
event_rules:
  - key: thanks
    name: Thank you for your order
    event: order_created
    kind: email
    subject: "Order {{ order.number }} received"
    text: "Hi {{ customer.first_name }}, thanks for order {{ order.number }} ({{ order.total | money }})."
""")
    confirmed = await stack.saleor.place_order(auto_confirm=True, email="ann@customer.example")
    unconfirmed = await stack.saleor.place_order(auto_confirm=False, email="bob@customer.example")
    await stack.settle()
    assert await stack.order_stage(confirmed.id) == "awaiting-payment"  # never passed through New
    got = {message["To"]: message for message in smtp.messages}
    assert set(got) == {"ann@customer.example", "bob@customer.example"}
    assert got["ann@customer.example"]["Subject"] == f"Order {confirmed.number} received"
    assert f"thanks for order {unconfirmed.number}" in got["bob@customer.example"].get_content()
    await stack.settle()
    assert len(smtp.messages) == 2  # nothing twice


async def test_staff_get_the_team_notice_and_their_new_task_by_email(stack: EngineStack, smtp: FakeSmtp) -> None:
    await import_yaml(stack, stage_rules={"awaiting-payment": """\
    rules:
      - key: tell
        name: Tell the desk
        kind: notify_team
        channel: email
        groups: [desk]
        subject: "Order {{ order.number }}"
        message: "New order {{ order.number }} from {{ customer.full_name }}"
      - key: check
        name: Check the order
        kind: create_task
        title: "Check order {{ order.number }}"
        assignee: {member: ann}
        email_assignee: true
"""}, extra="""\
team:
  members:
    - {key: ann, name: Ann, email: ann@shop.example}
    - {key: bob, name: Bob, email: bob@shop.example, away: true}
  groups:
    - {key: desk, members: [ann, bob]}
""")
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    subjects = sorted((message["To"], message["Subject"]) for message in smtp.messages)
    assert subjects == [("ann@shop.example", f"New task: Check order {order.number}"),
                        ("ann@shop.example", f"Order {order.number}")]
    jobs = {job["rule_key"]: job for job in await stack.jobs()}
    assert "bob is away" in jobs["tell"]["reason"] and jobs["check"]["state"] == "succeeded"
