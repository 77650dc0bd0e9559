"""Update-order and responsible-person rules end to end: their mutations in the fake Saleor, the sequence number
chain, round-robin fairness and away-skipping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from saleor_app.domain.sequences import SequenceSpec
from saleor_app.domain.team import GroupSpec, MemberSpec
from tests.e2e.engine_stack import EngineStack, engine_stack


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


def calls(stack: EngineStack, name: str) -> list[dict[str, Any]]:
    return [m.variables for m in stack.saleor.mutations if m.name == name]


async def test_update_order_sets_metadata_fields_and_a_note_and_the_number_reaches_the_next_rule(
        stack: EngineStack) -> None:
    await stack.container.employees.work.save_sequence(
        stack.installation.id, SequenceSpec(key="order-number", prefix="SHOP-", padding=5, start=41),
        stack.clock.now())
    await stack.rule(key="number", stage="new", kind="update_order", config={
        "set_private_metadata": {"erp.id": "{{ sequence.next }}"},
        "set_metadata": {"shop.ref": "REF-{{ order.number }}"},
        "external_reference": "{{ sequence.next }}",
        "note": "Your number is {{ sequence.next }}"})
    await stack.rule(key="tell", stage="new", kind="add_note", after_previous=True,
                     config={"message": "Sent number {{ automation.number }} to {{ customer.email }}"})
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()

    assert await stack.job_states() == {"number": "succeeded", "tell": "succeeded"}
    assert order.external_reference == "SHOP-00041"
    assert order.private_metadata["erp.id"] == "SHOP-00041"
    assert order.private_metadata["order-automation.number"] == "SHOP-00041"
    assert order.metadata["shop.ref"] == f"REF-{order.number}"
    assert stack.notes() == ["Your number is SHOP-00041", "Sent number SHOP-00041 to ashley.cook@example.com"]
    assert calls(stack, "orderUpdate")[0]["input"] == {"externalReference": "SHOP-00041"}
    second = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert second.external_reference == "SHOP-00042"


async def test_a_retry_reuses_the_jobs_number_and_a_dry_run_takes_none(stack: EngineStack) -> None:
    await stack.rule(key="number", stage="new", kind="update_order",
                     config={"set_private_metadata": {"erp.id": "{{ sequence.next }}"}})
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.container.order_events.run_once()  # the order is read and its job planned
    stack.saleor.fail_graphql(times=1, status=503)  # Saleor is down for the job's mutation
    await stack.settle()
    assert (await stack.jobs())[0]["state"] == "retrying"
    assert "order-automation.number" not in order.private_metadata
    record = await stack.container.dry_run.find_order(stack.installation.id, order.id)
    rehearsal = await stack.container.dry_run.stage(stack.installation, record, "new", fresh=False)
    assert "<next order-number number>" in rehearsal[0].outcome
    await stack.advance(timedelta(hours=2))
    assert (await stack.jobs())[0]["state"] == "succeeded"
    assert order.private_metadata["order-automation.number"] == "1"  # the number the first attempt took
    assert await stack.container.employees.work.peek(stack.installation.id, "order-number") == "2"
    second = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert second.private_metadata["order-automation.number"] == "2"  # nothing skipped, nothing twice


async def test_removing_metadata_and_saleor_refusing_order_update(stack: EngineStack) -> None:
    await stack.rule(key="clean", stage="new", kind="update_order",
                     config={"remove_metadata": ["gift"], "remove_private_metadata": ["old"]})
    await stack.rule(key="bad-email", stage="new", kind="update_order",
                     config={"customer_email": "not an address {{ order.number }}"})
    order = await stack.saleor.place_order(auto_confirm=False, metadata={"gift": "yes", "keep": "1"},
                                           private_metadata={"old": "x"})
    await stack.settle()
    assert order.metadata == {"keep": "1"} and "old" not in order.private_metadata
    assert calls(stack, "deleteMetadata")[0]["keys"] == ["gift"]
    jobs = {job["rule_key"]: job for job in await stack.jobs()}
    assert jobs["clean"]["state"] == "succeeded"
    assert jobs["bad-email"]["state"] == "failed"
    assert "Enter a valid email address" in jobs["bad-email"]["reason"]


async def team(stack: EngineStack, *members: tuple[str, bool]) -> None:
    manage = stack.container.employees.team
    for key, away in members:
        await manage.save_member(stack.installation.id, MemberSpec(key=key, name=key.title(),
                                                                   email=f"{key}@shop.example", away=away))
    await manage.save_group(stack.installation.id, GroupSpec(key="sales", members=tuple(key for key, _ in members)))


async def test_round_robin_is_fair_and_skips_members_who_are_away(stack: EngineStack) -> None:
    await team(stack, ("ann", False), ("bob", True), ("cid", False))
    await stack.rule(key="owner", stage="new", kind="set_responsible", config={"group": "sales"})
    await stack.rule(key="hello", stage="new", kind="add_note", after_previous=True,
                     config={"message": "{{ responsible.name }} <{{ responsible.email }}> takes care of it"})
    orders = [await stack.saleor.place_order(auto_confirm=False) for _ in range(4)]
    await stack.settle()
    picked = sorted(o.private_metadata["order-automation.responsible"] for o in orders)
    assert picked == ["ann", "ann", "cid", "cid"]  # jobs run concurrently: fairness, not a fixed order
    first = next(o for o in orders if o.private_metadata["order-automation.responsible"] == "ann")
    assert "Ann <ann@shop.example> takes care of it" in [n.message for n in first.notes]
    await stack.container.employees.team.set_away(stack.installation.id, "bob", False)
    more = [await stack.saleor.place_order(auto_confirm=False) for _ in range(3)]
    await stack.settle()
    assert sorted(o.private_metadata["order-automation.responsible"] for o in more) == ["ann", "bob", "cid"]


async def test_nobody_available_and_a_member_removed_since_skip_with_the_reason(stack: EngineStack) -> None:
    await team(stack, ("ann", True))
    await stack.container.employees.team.save_member(stack.installation.id,
                                                     MemberSpec(key="zed", email="zed@shop.example"))
    await stack.rule(key="owner", stage="new", kind="set_responsible", config={"group": "sales"})
    await stack.rule(key="direct", stage="new", kind="set_responsible", config={"member": "zed"})
    await stack.container.employees.team.delete_member(stack.installation.id, "zed")
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    jobs = {job["rule_key"]: job for job in await stack.jobs()}
    assert jobs["owner"]["state"] == "skipped" and "away: ann" in jobs["owner"]["reason"]
    assert jobs["direct"]["state"] == "skipped" and "zed was removed" in jobs["direct"]["reason"]


async def test_conditions_can_test_the_responsible_person(stack: EngineStack) -> None:
    await team(stack, ("ann", False), ("cid", False))
    await stack.rule(key="owner", stage="new", kind="set_responsible", config={"group": "sales"})
    await stack.rule(key="only-ann", stage="new", kind="add_note", after_previous=True,
                     config={"message": "Ann's order"}, condition={"rules": [
                         {"field": "private_metadata", "key": "order-automation.responsible", "op": "eq",
                          "value": "ann"}]})
    orders = [await stack.saleor.place_order(auto_confirm=False) for _ in range(2)]
    await stack.settle()
    for order in orders:
        owner = order.private_metadata["order-automation.responsible"]
        assert [n.message for n in order.notes] == (["Ann's order"] if owner == "ann" else [])
