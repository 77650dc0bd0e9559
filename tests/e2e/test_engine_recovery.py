"""Adoption, quiet hours and crash recovery of the engine, end to end over the fake Saleor."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from saleor_app.domain import kinds
from saleor_app.domain.errors import OutcomeUnknown
from saleor_app.engine.execute import ActionContext
from saleor_app.store.tables import WebhookInboxRow
from tests.e2e.engine_stack import engine_stack
from tests.timing import eventually

SENT: list[str] = []


class RealtimeConfig(kinds.KindConfig):
    text: str


async def realtime_send(ctx: ActionContext) -> str:
    assert isinstance(ctx.config, RealtimeConfig)
    SENT.append(ctx.config.text)
    return "sent"


kinds.register(kinds.RuleKind("test_realtime", "Test real-time message", RealtimeConfig, idempotent=False,
                              realtime_customer_facing=True))


async def test_orders_from_before_the_install_are_adopted_without_running_rules(settings) -> None:
    async for stack in engine_stack(settings, clock_start=datetime.now(UTC) + timedelta(hours=1)):
        await stack.rule(key="note", stage="awaiting-payment", kind="add_note", config={"message": "x"})
        order = await stack.saleor.place_order(auto_confirm=True)  # created "an hour before" the install
        await stack.settle()
        assert await stack.order_stage(order.id) == "awaiting-payment"
        assert await stack.jobs() == [] and stack.notes() == []
        assert any("adopted" in line for line in await stack.activity())
        await stack.rule(key="paid-note", stage="paid", kind="add_note", config={"message": "paid"})
        await stack.saleor.charge(order, order.total)  # later moves of an adopted order run rules as usual
        await stack.settle()
        assert await stack.order_stage(order.id) == "paid" and stack.notes() == ["paid"]


async def test_quiet_hours_defer_real_time_sends_to_the_window_end(settings) -> None:
    async for stack in engine_stack(settings, extra_handlers={"test_realtime": realtime_send}):
        from zoneinfo import ZoneInfo

        zone = ZoneInfo("Europe/Berlin")
        local_now = stack.clock.now().astimezone(zone).replace(second=0, microsecond=0)
        quiet_start = (local_now - timedelta(hours=1)).time()
        window_end = local_now + timedelta(hours=2)
        await stack.container.configure.set_schedule(stack.installation.id, time_zone="Europe/Berlin",
                                                      quiet_start=quiet_start, quiet_end=window_end.time())
        await stack.rule(key="sms", stage="awaiting-payment", kind="test_realtime", config={"text": "hello"})
        SENT.clear()
        await stack.saleor.place_order(auto_confirm=True)
        await stack.settle()
        job = (await stack.jobs())[0]
        assert SENT == [] and job["state"] == "scheduled"
        assert job["due_at"].replace(tzinfo=UTC) == window_end.astimezone(UTC)
        await stack.advance(window_end.astimezone(UTC) - stack.clock.now() - timedelta(seconds=1))
        assert SENT == []
        await stack.advance(timedelta(seconds=1))
        assert SENT == ["hello"]


async def test_a_send_interrupted_before_its_hand_over_is_run_again_and_sends_once(settings) -> None:
    async for stack in engine_stack(settings, extra_handlers={"test_realtime": realtime_send}):
        await stack.rule(key="send", stage="awaiting-payment", kind="test_realtime", config={"text": "x"})
        await stack.rule(key="next", stage="awaiting-payment", kind="add_note", config={"message": "n"},
                         after_previous=True)
        await stack.saleor.place_order(auto_confirm=True)
        await stack.container.order_events.run_once()  # the move claims the immediate job in its transaction
        assert len(stack.container.order_events.take_ready()) == 1  # then the process "dies" before running it
        assert await stack.container.automation.claim_due(stack.clock.now(), timedelta(minutes=5), 10) == []
        SENT.clear()
        stack.clock.advance(timedelta(minutes=6))
        assert await stack.container.recover_leases() == 1
        assert any("nothing was sent" in line for line in await stack.activity())
        await stack.settle()
        assert await stack.job_states() == {"send": "succeeded", "next": "succeeded"}
        assert SENT == ["x"] and stack.notes() == ["n"]  # it never left the first time: sent once, in the re-run


async def held_send(ctx: ActionContext) -> str:
    SENT.append("handed over")
    await asyncio.Event().wait()  # the provider never answers: the process dies here
    return "never"


async def test_a_send_interrupted_after_its_hand_over_is_unknown_shown_and_holds_its_successor(settings) -> None:
    async for stack in engine_stack(settings, extra_handlers={"test_realtime": held_send}):
        await stack.rule(key="send", stage="awaiting-payment", kind="test_realtime", config={"text": "x"})
        await stack.rule(key="next", stage="awaiting-payment", kind="add_note", config={"message": "n"},
                         after_previous=True)
        await stack.saleor.place_order(auto_confirm=True)
        await stack.container.order_events.run_once()
        [job_id] = stack.container.order_events.take_ready()
        SENT.clear()
        running = asyncio.create_task(stack.container.execute_job.run_batch([job_id]))
        await eventually(lambda: SENT, what="the handler running")
        running.cancel()  # the process is gone mid-send
        with contextlib.suppress(asyncio.CancelledError):
            await running
        stack.clock.advance(timedelta(minutes=6))
        assert await stack.container.recover_leases() == 1
        await stack.settle()
        assert await stack.job_states() == {"send": "unknown", "next": "waiting"}
        assert SENT == ["handed over"]  # never re-sent blindly
        assert any("send: interrupted mid-send" in line and "unknown" in line for line in await stack.activity())
        overview = await stack.container.alerts.overview(stack.installation.id)
        assert overview.summary.unknown == 1 and overview.summary.newest[0].job_id == job_id


async def test_an_interrupted_idempotent_job_is_run_again(settings) -> None:
    async for stack in engine_stack(settings):
        await stack.container.configure.add_custom_stage(stack.installation.id, "on-hold", "On hold", ["UNFULFILLED"])
        await stack.rule(key="hold", stage="awaiting-payment", kind="change_stage", config={"stage": "on-hold"})
        order = await stack.saleor.place_order(auto_confirm=True)
        await stack.container.order_events.run_once()
        assert len(stack.container.order_events.take_ready()) == 1  # claimed with the move; never run
        stack.clock.advance(timedelta(minutes=6))
        assert await stack.container.recover_leases() == 1
        await stack.settle()
        assert await stack.job_states() == {"hold": "succeeded"}
        assert await stack.order_stage(order.id) == "on-hold"


async def test_time_of_day_rule_across_the_spring_forward_night(settings) -> None:
    async for stack in engine_stack(settings, clock_start=datetime(2026, 3, 28, 20, 0, tzinfo=UTC)):
        await stack.container.configure.set_schedule(stack.installation.id, time_zone="Europe/Berlin",
                                                      quiet_start=None, quiet_end=None)
        await stack.rule(key="night", stage="awaiting-payment", kind="add_note", config={"message": "02:30"},
                         at="02:30")
        await stack.saleor.place_order(auto_confirm=True)
        await stack.settle()
        # 02:30 does not exist in Berlin on 2026-03-29 (02:00 → 03:00): it runs at 03:30 CEST, 01:30 UTC.
        await stack.advance(datetime(2026, 3, 29, 1, 29, 59, tzinfo=UTC) - stack.clock.now())
        assert stack.notes() == []
        await stack.advance(timedelta(seconds=1))
        assert stack.notes() == ["02:30"]


class SlowConfig(kinds.KindConfig):
    seconds: float


async def slow_send(ctx: ActionContext) -> str:
    assert isinstance(ctx.config, SlowConfig)
    SENT.append("started")
    await asyncio.sleep(ctx.config.seconds)
    SENT.append("finished")
    return "slowly sent"


kinds.register(kinds.RuleKind("test_slow", "Test slow send", SlowConfig, idempotent=False))


async def test_shutdown_lets_a_running_job_finish_and_claims_nothing_new(settings) -> None:
    async for stack in engine_stack(settings, extra_handlers={"test_slow": slow_send}):
        SENT.clear()
        await stack.rule(key="slow", stage="awaiting-payment", kind="test_slow", config={"seconds": 0.5})
        await stack.rule(key="later", stage="awaiting-payment", kind="add_note", config={"message": "later"},
                         delay_seconds=60)
        runner = stack.container.runner
        runner.start()
        await stack.saleor.place_order(auto_confirm=True)
        for _ in range(200):
            if SENT:
                break
            await asyncio.sleep(0.01)
        assert SENT == ["started"]
        stack.clock.advance(timedelta(minutes=2))  # "later" is due now, but the runner is stopping
        await runner.stop()
        assert SENT == ["started", "finished"]  # the running job was not cut off
        assert await stack.job_states() == {"slow": "succeeded", "later": "scheduled"}
        assert stack.notes() == []


async def test_an_order_saleor_cannot_return_is_set_aside_and_blocks_nobody(settings) -> None:
    async for stack in engine_stack(settings):
        await stack.rule(key="note", stage="awaiting-payment", kind="add_note", config={"message": "hi"})
        broken = stack.saleor.create_order()
        stack.saleor.state.unreadable.add(broken.uuid)
        await stack.saleor.complete_draft(broken, auto_confirm=True)
        fine = await stack.saleor.place_order(auto_confirm=True)
        await stack.settle()
        assert await stack.order_stage(fine.id) == "awaiting-payment" and stack.notes() == ["hi"]
        assert await stack.order_stage(broken.id) is None
        inbox = await stack.rows(WebhookInboxRow.__table__)  # type: ignore[attr-defined]
        assert {row["state"] for row in inbox if row["order_id"] == broken.id} == {"failed"}
        assert any("Saleor could not return order" in line and "OrderOriginEnum" in line
                   for line in await stack.activity())


async def test_orders_whose_re_read_backs_off_do_not_hold_up_the_others(settings) -> None:
    async for stack in engine_stack(settings):
        stuck = await stack.saleor.place_order(auto_confirm=True)
        stack.saleor.fail_graphql(times=1, status=503)  # the first re-read (the stuck order's) fails
        await stack.container.order_events.run_once()
        assert await stack.order_stage(stuck.id) is None
        fresh = await stack.saleor.place_order(auto_confirm=True)
        assert await stack.container.order_events.run_once(limit=1) == 1  # the stuck order is skipped over
        assert await stack.order_stage(fresh.id) == "awaiting-payment"
        stack.clock.advance(timedelta(seconds=6))
        await stack.settle()
        assert await stack.order_stage(stuck.id) == "awaiting-payment"


async def dropped_after_handover(ctx: ActionContext) -> str:
    assert isinstance(ctx.config, RealtimeConfig)
    SENT.append(ctx.config.text)
    raise OutcomeUnknown("the provider accepted the connection, then it dropped before answering")


async def test_a_send_whose_outcome_is_unknown_is_held_and_never_resent(settings) -> None:
    async for stack in engine_stack(settings, extra_handlers={"test_realtime": dropped_after_handover}):
        await stack.rule(key="sms", stage="awaiting-payment", kind="test_realtime", config={"text": "hello"})
        await stack.rule(key="after", stage="awaiting-payment", kind="add_note", config={"message": "x"},
                         after_previous=True)
        SENT.clear()
        await stack.saleor.place_order(auto_confirm=True)
        await stack.settle()
        jobs = {job["rule_key"]: job for job in await stack.jobs()}
        assert jobs["sms"]["state"] == "unknown" and "dropped before answering" in jobs["sms"]["reason"]
        assert jobs["after"]["state"] == "waiting"  # a person decides; the chain holds meanwhile
        await stack.advance(timedelta(days=2))
        assert SENT == ["hello"] and stack.notes() == []
        assert await stack.job_states() == {"sms": "unknown", "after": "waiting"}
