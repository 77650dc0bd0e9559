"""Backfill end to end: a new stage rule applied to the orders already in its stage (engine, API, CLI)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from saleor_app.engine.backfill import AutomationPaused, NotAStageRule, Outcome, RuleDisabled, UnknownRule
from saleor_app.engine.stages import enter_stage
from saleor_app.settings import Settings
from tests.cli_runs import invoke as invoke_cli
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.fakes.saleor_model import Order
from tests.timing import HTTP_TIMEOUT

VIP = {"match": "all", "rules": [{"field": "metadata", "op": "exists", "key": "vip"}]}


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


async def awaiting_payment(stack: EngineStack, count: int, **order: Any) -> list[Order]:
    placed = [await stack.saleor.place_order(auto_confirm=True, **order) for _ in range(count)]
    await stack.settle()
    return placed


async def test_preview_then_apply_plans_once_and_the_notes_arrive(stack: EngineStack) -> None:
    first, second, paid = await awaiting_payment(stack, 3)
    await stack.saleor.charge(paid, paid.total)  # fully paid: it leaves Awaiting payment
    await stack.settle()
    await stack.rule(key="remind", stage="awaiting-payment", kind="add_note", config={"message": "please pay"})
    await stack.settle()
    assert stack.notes() == []  # a new rule does not apply to the orders already in its stage

    backfill = stack.container.backfill
    preview = await backfill.preview(stack.installation.id, "remind")
    assert preview.total == 2 and preview.next_after is None and not preview.paused
    assert [c.order.order_id for c in preview.candidates] == [first.id, second.id]
    assert {c.outcome for c in preview.candidates} == {Outcome.PLAN}
    assert all(c.due_at == stack.clock.now() and c.condition is None for c in preview.candidates)

    result = await backfill.apply(stack.installation.id, "remind")
    assert (result.planned, result.had_job, result.skipped, result.due_now) == (2, 0, 0, 2)
    await stack.settle()
    assert stack.notes() == ["please pay", "please pay"]
    assert await stack.job_states() == {"remind": "succeeded"}

    again = await backfill.apply(stack.installation.id, "remind")
    assert (again.planned, again.had_job) == (0, 2)
    assert [c.existing.state.value for c in (await backfill.preview(stack.installation.id, "remind")).candidates
            if c.existing is not None] == ["succeeded", "succeeded"]
    await stack.settle()
    assert len(stack.notes()) == 2
    activity = await stack.activity()
    assert sum("planned remind (add_note) by backfill" in line for line in activity) == 2
    assert "backfill of remind in awaiting-payment: planned 2, 0 had it already" in activity
    assert "backfill of remind in awaiting-payment: planned 0, 2 had it already" in activity


async def test_an_order_that_entered_after_the_rule_has_its_job_already(stack: EngineStack) -> None:
    await awaiting_payment(stack, 1)
    await stack.rule(key="remind", stage="awaiting-payment", kind="add_note", config={"message": "pay"},
                     delay_seconds=3600)
    newer = (await awaiting_payment(stack, 1))[0]  # planned on entry, as usual
    preview = await stack.container.backfill.preview(stack.installation.id, "remind")
    outcomes = {c.order.order_id: c.outcome for c in preview.candidates}
    assert outcomes[newer.id] is Outcome.HAS_JOB and list(outcomes.values()).count(Outcome.PLAN) == 1
    planned = next(c for c in preview.candidates if c.outcome is Outcome.PLAN)
    assert planned.due_at == stack.clock.now() + timedelta(hours=1)  # timing counts from now
    result = await stack.container.backfill.apply(stack.installation.id, "remind")
    assert (result.planned, result.had_job, result.due_now) == (1, 1, 0)
    await stack.advance(timedelta(minutes=59))
    assert stack.notes() == []
    await stack.advance(timedelta(minutes=1))
    assert stack.notes() == ["pay", "pay"]


async def test_orders_failing_the_condition_are_listed_with_the_reason_planned_and_skipped_at_run(
    stack: EngineStack,
) -> None:
    vip = (await awaiting_payment(stack, 1, metadata={"vip": "yes"}))[0]
    plain = (await awaiting_payment(stack, 1))[0]
    await stack.rule(key="vip-note", stage="awaiting-payment", kind="add_note", config={"message": "vip"},
                     condition=VIP)
    preview = await stack.container.backfill.preview(stack.installation.id, "vip-note")
    verdicts = {c.order.order_id: c.condition for c in preview.candidates}
    assert verdicts[vip.id] is not None and verdicts[vip.id].passed
    assert verdicts[plain.id] is not None and not verdicts[plain.id].passed
    assert "vip" in verdicts[plain.id].reason
    assert any("judged again when each job runs" in note for note in preview.notes)
    assert {c.outcome for c in preview.candidates} == {Outcome.PLAN}  # the condition is not a filter

    assert (await stack.container.backfill.apply(stack.installation.id, "vip-note")).planned == 2
    await stack.settle()
    assert stack.notes() == ["vip"]
    states = sorted(job["state"] for job in await stack.jobs())
    assert states == ["skipped", "succeeded"]


async def test_after_previous_is_scheduled_from_now_and_says_so(stack: EngineStack) -> None:
    await awaiting_payment(stack, 1)
    await stack.rule(key="first", stage="awaiting-payment", kind="add_note", config={"message": "1"})
    await stack.rule(key="second", stage="awaiting-payment", kind="add_note", config={"message": "2"},
                     after_previous=True, delay_seconds=60)
    preview = await stack.container.backfill.preview(stack.installation.id, "second")
    assert any("backfill schedules it on its own" in note for note in preview.notes)
    assert (await stack.container.backfill.apply(stack.installation.id, "second")).planned == 1
    assert any("backfill schedules it on its own, from now" in line for line in await stack.activity())
    await stack.advance(timedelta(seconds=60))
    assert stack.notes() == ["2"]  # "first" was not backfilled: "second" does not wait for it


async def test_once_per_order_rule_that_ran_for_the_order_is_skipped(stack: EngineStack) -> None:
    await stack.rule(key="once", stage="awaiting-payment", kind="add_note", config={"message": "once"},
                     repeat="once_per_order")
    order = (await awaiting_payment(stack, 1))[0]
    assert stack.notes() == ["once"]
    async with stack.container.automation.transaction() as tx:  # the order enters the stage again, quietly
        record = await tx.order(stack.installation.id, order.id)
        assert record is not None
        await enter_stage(tx, stack.clock, record, "paid", reason="test", without_rules="test")
        record = await tx.order(stack.installation.id, order.id)
        assert record is not None
        await enter_stage(tx, stack.clock, record, "awaiting-payment", reason="test", without_rules="test")
    preview = await stack.container.backfill.preview(stack.installation.id, "once")
    assert [c.outcome for c in preview.candidates] == [Outcome.RAN_ONCE]
    result = await stack.container.backfill.apply(stack.installation.id, "once")
    assert (result.planned, result.had_job, result.skipped) == (0, 0, 1)
    assert "backfill of once in awaiting-payment: planned 0, 0 had it already, 1 skipped (once per order, ran " \
           "already)" in await stack.activity()


async def test_refusals(stack: EngineStack) -> None:
    backfill, installation_id = stack.container.backfill, stack.installation.id
    await stack.rule(key="on-create", event="order_created", kind="add_note", config={"message": "x"})
    await stack.rule(key="off", stage="new", kind="add_note", config={"message": "x"}, enabled=False)
    await stack.rule(key="on", stage="new", kind="add_note", config={"message": "x"})
    with pytest.raises(UnknownRule):
        await backfill.preview(installation_id, "nope")
    with pytest.raises(NotAStageRule, match="event rule"):
        await backfill.apply(installation_id, "on-create")
    with pytest.raises(RuleDisabled, match="disabled"):
        await backfill.preview(installation_id, "off")
    await stack.container.configure.pause(installation_id)
    assert (await backfill.preview(installation_id, "on")).paused
    with pytest.raises(AutomationPaused, match="paused"):
        await backfill.apply(installation_id, "on")


async def test_preview_pages(stack: EngineStack) -> None:
    placed = await awaiting_payment(stack, 3)
    await stack.rule(key="remind", stage="awaiting-payment", kind="add_note", config={"message": "pay"})
    first = await stack.container.backfill.preview(stack.installation.id, "remind", limit=2)
    assert first.total == 3 and len(first.candidates) == 2 and first.next_after is not None
    rest = await stack.container.backfill.preview(stack.installation.id, "remind", limit=2, after=first.next_after)
    assert [c.order.order_id for c in first.candidates + rest.candidates] == [o.id for o in placed]
    assert rest.next_after is None


# -- over HTTP, with a Dashboard token ---------------------------------------------------------------------------

async def test_api_previews_and_applies_with_a_dashboard_token(stack: EngineStack) -> None:
    order = (await awaiting_payment(stack, 1))[0]
    await stack.rule(key="remind", stage="awaiting-payment", kind="add_note", config={"message": "pay"})
    await stack.rule(key="on-create", event="order_created", kind="add_note", config={"message": "x"})
    token = stack.saleor.signer.dashboard_token(app_id=stack.installation.app_id, iss=stack.saleor.api_url)
    headers = {"authorization-bearer": token, "saleor-api-url": stack.saleor.api_url}
    url = f"{stack.container.settings.app_url}/api/v1/rules/{{}}/backfill"
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, headers=headers, trust_env=False) as http:
        response = await http.get(url.format("remind"))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == 1 and body["rule"]["stage"] == "awaiting-payment"
        assert body["orders"][0]["orderId"] == order.id and body["orders"][0]["outcome"] == "plan"
        assert body["orders"][0]["summary"].startswith("plan, due ")

        applied = await http.post(url.format("remind"))
        assert applied.status_code == 200, applied.text
        assert applied.json() == {"rule": body["rule"], "planned": 1, "hadJob": 0, "skipped": 0}
        await stack.settle()
        assert stack.notes() == ["pay"]

        missing = await http.get(url.format("nope"))
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "UNKNOWN_RULE"
        event = await http.post(url.format("on-create"))
        assert event.status_code == 409 and event.json()["error"]["code"] == "NOT_A_STAGE_RULE"
        await stack.container.configure.pause(stack.installation.id)
        paused = await http.post(url.format("remind"))
        assert paused.status_code == 409 and paused.json()["error"]["code"] == "AUTOMATION_PAUSED"

        no_permission = stack.saleor.signer.dashboard_token(app_id=stack.installation.app_id,
                                                            iss=stack.saleor.api_url, permissions=[])
        refused = await http.post(url.format("remind"), headers={"authorization-bearer": no_permission})
        assert refused.status_code == 403
        assert (await http.post(url.format("remind"), headers={"authorization-bearer": ""})).status_code == 401


# -- the command line ----------------------------------------------------------------------------------------------

def cli_env(settings: Settings) -> dict[str, str]:
    return {"APP_ENV": "test", "DATABASE_URL": settings.database_url, "DATA_DIR": str(settings.data_dir),
            "ENCRYPTION_KEYS": ",".join(settings.encryption_keys), "LOG_FORMAT": "text", "LOG_LEVEL": "WARNING",
            "ALLOWED_SALEOR_URLS": settings.allowed_saleor_urls or ""}


async def invoke(stack: EngineStack, *args: str) -> Any:
    # The command runs its own event loop (asyncio.run), so it runs in a thread, as it would in its own process.
    return await asyncio.to_thread(invoke_cli, ["backfill", *args],
                                   env=cli_env(stack.container.settings))


@pytest.mark.usefixtures("restore_logging")
async def test_cli_prints_the_preview_and_applies(stack: EngineStack) -> None:
    order = (await awaiting_payment(stack, 1))[0]
    await stack.rule(key="remind", stage="awaiting-payment", kind="add_note", config={"message": "pay"},
                     condition=VIP)
    url = stack.saleor.api_url
    shown = await invoke(stack, "remind", "--saleor-api-url", url)
    assert shown.exit_code == 0, shown.output
    assert "remind (add_note) on awaiting-payment: 1 order in the stage" in shown.output
    assert f"#{order.number}" in shown.output and "not met: metadata" in shown.output
    assert "plan, due" in shown.output and "--apply" in shown.output
    assert await stack.jobs() == []

    applied = await invoke(stack, "remind", "--saleor-api-url", url, "--apply")
    assert applied.exit_code == 0, applied.output
    assert "planned 1, 0 had it already" in applied.output
    assert [job["rule_key"] for job in await stack.jobs()] == ["remind"]
    again = await invoke(stack, "remind", "--saleor-api-url", url, "--apply")
    assert "planned 0, 1 had it already" in again.output
    nothing = await invoke(stack, "remind", "--saleor-api-url", url.rstrip("/"))  # typed without its slash
    assert nothing.exit_code == 0 and "nothing: has a job already" in nothing.output, nothing.output
    assert "Nothing to plan: --apply would change nothing." in nothing.output and "Run again" not in nothing.output

    unknown = await invoke(stack, "remind", "--saleor-api-url", "https://elsewhere.example/graphql/")
    assert unknown.exit_code == 2 and url in unknown.output  # the hint lists the installed URLs
    event = await invoke(stack, "nope", "--saleor-api-url", url)
    assert event.exit_code == 1 and "there is no rule 'nope'" in event.output
