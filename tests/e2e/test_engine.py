"""The engine end to end: webhooks → re-read → stage → jobs → side effects in the fake Saleor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tests.e2e.engine_stack import EngineStack, engine_stack


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


async def test_new_order_enters_new_and_its_rule_adds_a_note(stack: EngineStack) -> None:
    await stack.rule(key="welcome", stage="new", kind="add_note", config={"message": "Thanks for your order"})
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert await stack.order_stage(order.id) == "new"
    assert await stack.entries() == [("new", True)]
    assert stack.notes() == ["Thanks for your order"]
    assert await stack.job_states() == {"welcome": "succeeded"}


async def test_auto_confirmed_order_skips_new_and_runs_only_its_stage(stack: EngineStack) -> None:
    await stack.rule(key="welcome", stage="new", kind="add_note", config={"message": "new"})
    await stack.rule(key="pay-please", stage="awaiting-payment", kind="add_note", config={"message": "please pay"})
    order = await stack.saleor.place_order(auto_confirm=True)  # ORDER_CREATED + ORDER_CONFIRMED
    await stack.settle()
    assert await stack.order_stage(order.id) == "awaiting-payment"
    assert await stack.entries() == [("awaiting-payment", True)]
    assert stack.notes() == ["please pay"]


async def test_echo_of_our_own_mutation_changes_nothing(stack: EngineStack) -> None:
    await stack.rule(key="a", stage="new", kind="add_note", config={"message": "one"})
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    await stack.settle()
    updated = [d for d in stack.saleor.deliveries if d.saleor_event == "order_updated"]
    assert updated and all(d.principal_typename == "App" for d in updated)  # the note's echo came back
    assert await stack.entries() == [("new", True)]
    assert len(await stack.jobs()) == 1 and stack.notes() == ["one"]
    assert await stack.order_stage(order.id) == "new"


async def test_after_previous_waits_and_counts_its_delay_from_the_previous_finish(stack: EngineStack) -> None:
    await stack.rule(key="first", stage="new", kind="add_note", config={"message": "1"}, delay_seconds=600)
    await stack.rule(key="second", stage="new", kind="add_note", config={"message": "2"}, after_previous=True,
                     delay_seconds=300)
    await stack.rule(key="parallel", stage="new", kind="add_note", config={"message": "p"})
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert stack.notes() == ["p"]
    assert await stack.job_states() == {"first": "scheduled", "second": "waiting", "parallel": "succeeded"}
    await stack.advance(timedelta(seconds=600))
    assert stack.notes() == ["p", "1"]
    assert (await stack.job_states())["second"] == "scheduled"
    await stack.advance(timedelta(seconds=299))
    assert stack.notes() == ["p", "1"]
    await stack.advance(timedelta(seconds=1))
    assert stack.notes() == ["p", "1", "2"]


async def test_leaving_the_stage_cancels_its_pending_jobs(stack: EngineStack) -> None:
    await stack.rule(key="remind", stage="awaiting-payment", kind="add_note", config={"message": "pay"},
                     delay_seconds=3600)
    await stack.rule(key="then", stage="awaiting-payment", kind="add_note", config={"message": "x"},
                     after_previous=True)
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    await stack.saleor.charge(order, order.total)  # fully paid → Paid
    await stack.settle()
    assert await stack.order_stage(order.id) == "paid"
    jobs = {job["rule_key"]: job for job in await stack.jobs()}
    assert jobs["remind"]["state"] == "cancelled" and jobs["remind"]["reason"] == "order moved to paid"
    assert jobs["then"]["state"] == "cancelled"
    await stack.advance(timedelta(hours=2))
    assert stack.notes() == []


async def test_condition_is_checked_when_the_job_runs_not_when_planned(stack: EngineStack) -> None:
    await stack.rule(key="unpaid-call", stage="awaiting-payment", kind="add_note", config={"message": "call"},
                     delay_seconds=2 * 86400,
                     condition={"match": "all", "rules": [{"field": "charge_status", "op": "eq", "value": "NONE"}]})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    stack.saleor.deliver_inline = False  # the payment's webhooks never reach the app (an outage)
    await stack.saleor.charge(order, 1.0)  # partly paid: still awaiting payment, charge status PARTIAL
    await stack.advance(timedelta(days=2))
    job = (await stack.jobs())[0]
    assert job["state"] == "skipped"
    assert "condition not met" in job["reason"] and "PARTIAL" in job["reason"]
    assert stack.notes() == []


async def custom_stages(stack: EngineStack) -> None:
    for key in ("on-hold", "packing"):
        await stack.container.configure.add_custom_stage(stack.installation.id, key, key.title(), ["UNFULFILLED"])


async def test_failed_predecessor_cancels_its_successor(stack: EngineStack) -> None:
    await stack.container.configure.add_custom_stage(stack.installation.id, "pickup", "Pickup", ["FULFILLED"])
    await stack.rule(key="move", stage="awaiting-payment", kind="change_stage", config={"stage": "pickup"})
    await stack.rule(key="after", stage="awaiting-payment", kind="add_note", config={"message": "x"},
                     after_previous=True)
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    jobs = {job["rule_key"]: job for job in await stack.jobs()}
    assert jobs["move"]["state"] == "failed"
    assert "allows Saleor statuses FULFILLED; the order is UNFULFILLED" in jobs["move"]["reason"]
    assert jobs["after"]["state"] == "cancelled" and "move failed" in jobs["after"]["reason"]


async def test_change_stage_runs_the_target_stages_rules_and_repeat_decides_re_entry(stack: EngineStack) -> None:
    await custom_stages(stack)
    await stack.rule(key="to-hold", stage="awaiting-payment", kind="change_stage", config={"stage": "on-hold"})
    await stack.rule(key="every", stage="on-hold", kind="add_note", config={"message": "every"})
    await stack.rule(key="once", stage="on-hold", kind="add_note", config={"message": "once"},
                     repeat="once_per_order")
    await stack.rule(key="to-packing", stage="on-hold", kind="change_stage", config={"stage": "packing"},
                     after_previous=True, delay_seconds=60)
    await stack.rule(key="back", stage="packing", kind="change_stage", config={"stage": "on-hold"},
                     delay_seconds=60, max_age_seconds=3600)
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    assert await stack.order_stage(order.id) == "on-hold"
    await stack.advance(timedelta(seconds=60))  # → packing
    assert await stack.order_stage(order.id) == "packing"
    await stack.advance(timedelta(seconds=60))  # → back on hold: "every" again, "once" not
    assert await stack.order_stage(order.id) == "on-hold"
    assert sorted(stack.notes()) == ["every", "every", "once"]
    assert [stage for stage, _ in await stack.entries()] == ["awaiting-payment", "on-hold", "packing", "on-hold"]
    assert [open_ for _, open_ in await stack.entries()].count(True) == 1


async def test_saleor_down_when_re_reading_keeps_deliveries_until_it_is_back(stack: EngineStack) -> None:
    await stack.rule(key="note", stage="new", kind="add_note", config={"message": "hi"})
    await stack.saleor.place_order(auto_confirm=False)
    stack.saleor.fail_graphql(times=3, status=503)
    await stack.settle()  # the re-read fails: the delivery stays pending, nothing planned
    assert await stack.jobs() == []
    await stack.advance(timedelta(seconds=4))
    assert await stack.jobs() == []  # backing off: not retried before 5 s
    for _ in range(3):
        await stack.advance(timedelta(seconds=5))
    assert await stack.job_states() == {"note": "succeeded"}


async def test_retryable_errors_back_off_then_the_job_dies_after_a_day(stack: EngineStack) -> None:
    await stack.rule(key="note", stage="new", kind="add_note", config={"message": "hi"}, delay_seconds=60)
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    stack.saleor.fail_graphql(times=100_000, status=503)
    await stack.advance(timedelta(seconds=60))
    job = (await stack.jobs())[0]
    assert job["state"] == "retrying" and "503" in job["reason"]
    for _ in range(25):
        await stack.advance(timedelta(hours=1))
    job = (await stack.jobs())[0]
    assert job["state"] == "dead" and "retries exhausted" in job["reason"]
    assert 10 < job["attempts"] < 60  # backed off, not hammering
    assert stack.notes() == []


async def test_disabling_or_deleting_a_rule_cancels_its_pending_jobs_and_edits_apply(stack: EngineStack) -> None:
    await stack.rule(key="later", stage="awaiting-payment", kind="add_note", config={"message": "v1"},
                     delay_seconds=600)
    await stack.rule(key="gone", stage="awaiting-payment", kind="add_note", config={"message": "g"},
                     delay_seconds=600)
    await stack.rule(key="off", stage="awaiting-payment", kind="add_note", config={"message": "o"},
                     delay_seconds=600)
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    await stack.rule(key="later", stage="awaiting-payment", kind="add_note", config={"message": "v2"},
                     delay_seconds=600)
    await stack.container.configure.delete_rule(stack.installation.id, "gone")
    await stack.rule(key="off", stage="awaiting-payment", kind="add_note", config={"message": "o"},
                     delay_seconds=600, enabled=False)
    await stack.advance(timedelta(seconds=600))
    assert stack.notes() == ["v2"]
    states = await stack.job_states()
    assert states == {"later": "succeeded", "gone": "cancelled", "off": "cancelled"}


async def test_a_job_past_its_max_age_is_skipped_as_too_late(stack: EngineStack) -> None:
    await stack.rule(key="stale", stage="awaiting-payment", kind="add_note", config={"message": "x"},
                     delay_seconds=60, max_age_seconds=600)
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    await stack.container.configure.pause(stack.installation.id)
    await stack.advance(timedelta(hours=2))
    assert (await stack.job_states())["stale"] == "scheduled"  # paused: nothing runs
    from saleor_app.engine.configure import OnResume

    await stack.container.configure.resume(stack.installation.id, OnResume.RUN)
    await stack.settle()
    job = (await stack.jobs())[0]
    assert job["state"] == "skipped" and "too late" in job["reason"]
    assert stack.notes() == []


async def test_resume_with_cancel_drops_what_waited(stack: EngineStack) -> None:
    from saleor_app.engine.configure import OnResume

    await stack.rule(key="wait", stage="awaiting-payment", kind="add_note", config={"message": "x"},
                     delay_seconds=60)
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    await stack.container.configure.pause(stack.installation.id)
    await stack.advance(timedelta(minutes=5))
    assert await stack.container.configure.resume(stack.installation.id, OnResume.CANCEL) == 1
    await stack.settle()
    assert (await stack.job_states()) == {"wait": "cancelled"} and stack.notes() == []


async def test_orders_placed_while_paused_move_but_run_no_rules(stack: EngineStack) -> None:
    await stack.rule(key="note", stage="awaiting-payment", kind="add_note", config={"message": "x"})
    await stack.container.configure.pause(stack.installation.id)
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    assert await stack.order_stage(order.id) == "awaiting-payment"
    assert await stack.jobs() == []
    assert any("paused" in line for line in await stack.activity())


async def test_duplicate_and_burst_webhooks_make_one_entry_and_no_double_jobs(stack: EngineStack) -> None:
    await stack.rule(key="note", stage="awaiting-payment", kind="add_note", config={"message": "x"})
    stack.saleor.deliver_inline = False
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.saleor.flush(shuffle=True, seed=3)
    for delivery in list(stack.saleor.deliveries):  # Saleor retries a delivery it thinks failed
        await stack.container.ingest(stack.installation, delivery.saleor_event, delivery.body)
    await stack.settle()
    assert await stack.entries() == [("awaiting-payment", True)]
    assert len(await stack.jobs()) == 1 and stack.notes() == ["x"]
    assert await stack.order_stage(order.id) == "awaiting-payment"


async def test_the_stage_is_mirrored_into_saleors_private_metadata_once(stack: EngineStack) -> None:
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    await stack.settle()
    assert order.private_metadata["order-automation.stage"] == "awaiting-payment"
    mirrors = [m for m in stack.saleor.mutations if m.name == "updatePrivateMetadata"]
    assert len(mirrors) == 1 and mirrors[0].caller == "app"
    await stack.saleor.charge(order, order.total)
    await stack.settle()
    assert order.private_metadata["order-automation.stage"] == "paid"
    assert await stack.entries() == [("awaiting-payment", False), ("paid", True)]


async def test_pipeline_is_seeded_on_install(stack: EngineStack) -> None:
    async with stack.container.automation.transaction() as tx:
        pipeline = await tx.pipeline(stack.installation.id)
    assert [stage.key for stage in pipeline.stages] == [
        "new", "awaiting-payment", "paid", "refunded", "partially-shipped", "shipped", "returned", "cancelled",
        "expired"]


async def test_rules_on_unknown_stages_or_with_bad_configs_are_refused_and_nothing_is_saved(stack: EngineStack) -> None:
    from pydantic import ValidationError

    from saleor_app.engine.configure import ConfigurationError

    with pytest.raises(ConfigurationError, match="no stage 'nowhere'"):
        await stack.rule(key="x", stage="nowhere", kind="add_note", config={"message": "m"})
    with pytest.raises(ValidationError, match="config.message"):
        await stack.rule(key="x", stage="new", kind="add_note", config={"message": "   "})
    with pytest.raises(ValidationError, match="unknown rule kind"):
        await stack.rule(key="x", stage="new", kind="fax", config={})
    with pytest.raises(ValidationError, match="field"):
        await stack.rule(key="x", stage="new", kind="add_note", config={"message": "m"},
                         condition={"match": "all", "rules": [{"field": "shoe_size", "op": "eq", "value": 42}]})
    with pytest.raises(ConfigurationError, match="Returned follows Saleor's state and has no write-back plan"):
        await stack.rule(key="x", stage="new", kind="change_stage", config={"stage": "returned"})
    with pytest.raises(ConfigurationError, match="no stage 'limbo'"):
        await stack.rule(key="x", stage="new", kind="change_stage", config={"stage": "limbo"})
    async with stack.container.automation.transaction() as tx:
        assert await tx.rule_by_key(stack.installation.id, "x") is None


async def test_unknown_orders_are_acknowledged_and_ignored(stack: EngineStack) -> None:
    import json

    body = json.dumps({"__typename": "OrderUpdated", "issuedAt": "2026-11-24T01:20:43+00:00", "version": "3.23.28",
                       "issuingPrincipal": None, "recipient": {"id": stack.installation.app_id},
                       "order": {"id": "T3JkZXI6MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw"}}).encode()
    await stack.container.ingest(stack.installation, "order_updated", body)
    await stack.settle()
    assert await stack.entries() == [] and await stack.jobs() == []
    from saleor_app.store.tables import WebhookInboxRow

    inbox = await stack.rows(WebhookInboxRow.__table__)
    assert [row["state"] for row in inbox] == ["ignored"]


async def test_note_templates_render_order_fields_and_bad_ones_are_refused_on_save(stack: EngineStack) -> None:
    from pydantic import ValidationError

    await stack.rule(key="hello", stage="new", kind="add_note",
                     config={"message": "Order {{ order.number }}: {{ order.total | money }} for {{ customer.email }}"})
    with pytest.raises(ValidationError, match="line 1"):
        await stack.rule(key="broken", stage="new", kind="add_note", config={"message": "{{ order.numbr }}"})
    with pytest.raises(ValidationError, match="line 2"):
        await stack.rule(key="broken", stage="new", kind="add_note", config={"message": "ok\n{% if %}"})
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    view = stack.saleor.order_view(order)
    total = view["total"]["gross"]
    assert stack.notes() == [f"Order {order.number}: {total['amount']:.2f} {total['currency']} for {view['userEmail']}"]
