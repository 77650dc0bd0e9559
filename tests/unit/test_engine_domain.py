"""Pure engine rules: stage resolution, planning, time of day across DST, quiet hours, retries, chains."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from saleor_app.domain.jobs import Chain, JobState, next_retry, successor_fate
from saleor_app.domain.pipeline import DEFAULT_PIPELINE, Pipeline, Stage, StageMatch, overlapping_stages, resolve_stage
from saleor_app.domain.planning import plan_entry
from saleor_app.domain.rules import Repeat, Rule
from saleor_app.domain.schedule import QuietHours, after_quiet_hours, due_at, next_local_time

BERLIN = ZoneInfo("Europe/Berlin")


def order(status: str, charge: str = "NONE", refunded: float = 0.0) -> dict[str, object]:
    return {"status": status, "chargeStatus": charge, "totalRefunded": {"amount": refunded, "currency": "USD"}}


@pytest.mark.parametrize(
    ("snapshot", "stage"),
    [
        (order("UNCONFIRMED"), "new"),
        (order("UNCONFIRMED", "FULL"), "new"),
        (order("UNFULFILLED"), "awaiting-payment"),
        (order("UNFULFILLED", "PARTIAL"), "awaiting-payment"),
        (order("UNFULFILLED", "FULL"), "paid"),
        (order("UNFULFILLED", "OVERCHARGED"), "paid"),
        (order("UNFULFILLED", "NONE", refunded=131.0), "refunded"),
        (order("UNCONFIRMED", "NONE", refunded=5.0), "refunded"),
        (order("PARTIALLY_FULFILLED", "FULL"), "partially-shipped"),
        (order("FULFILLED", "FULL"), "shipped"),
        (order("RETURNED"), "returned"),
        (order("CANCELED"), "cancelled"),
        (order("EXPIRED"), "expired"),
        (order("DRAFT"), None),
    ],
)
def test_default_pipeline_resolution(snapshot, stage) -> None:
    assert resolve_stage(DEFAULT_PIPELINE, snapshot, None) == stage


def test_default_matches_never_overlap_and_a_merchant_overlap_is_found() -> None:
    assert overlapping_stages(DEFAULT_PIPELINE) == []
    broad = Stage("anything-open", "Open", StageMatch(frozenset({"UNFULFILLED"})))
    assert ("anything-open", "awaiting-payment") in overlapping_stages(Pipeline((broad, *DEFAULT_PIPELINE.stages)))


def test_a_custom_stage_holds_while_saleor_allows_it_then_the_order_follows_saleor() -> None:
    hold = Stage("on-hold", "On hold", StageMatch(frozenset({"UNFULFILLED"}), custom=True))
    pipeline = Pipeline((*DEFAULT_PIPELINE.stages, hold))
    assert resolve_stage(pipeline, order("UNFULFILLED"), None) == "awaiting-payment"  # never entered by itself
    assert resolve_stage(pipeline, order("UNFULFILLED", "FULL"), "on-hold") == "on-hold"
    assert resolve_stage(pipeline, order("FULFILLED", "FULL"), "on-hold") == "shipped"


def rule(key: str, position: int, **kw: object) -> Rule:
    return Rule(id=position, installation_id=1, stage_key="s", key=key, name=key, kind="add_note", config={},
                position=position, **kw)  # type: ignore[arg-type]


def test_planning_chains_after_previous_to_the_nearest_planned_rule() -> None:
    entered = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    rules = [rule("a", 0, delay=timedelta(minutes=10)), rule("off", 1, enabled=False),
             rule("b", 2, after_previous=True), rule("c", 3), rule("once", 4, repeat=Repeat.ONCE_PER_ORDER)]
    plan = plan_entry(rules, entered_at=entered, zone=BERLIN, ran_once={"once"})
    assert [(p.rule.key, p.state, p.predecessor) for p in plan] == [
        ("a", JobState.SCHEDULED, None), ("b", JobState.WAITING, 0), ("c", JobState.SCHEDULED, None)]
    assert plan[0].due_at == entered + timedelta(minutes=10) and plan[2].due_at == entered


def test_first_rule_after_previous_with_nothing_above_starts_at_entry() -> None:
    entered = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    [planned] = plan_entry([rule("a", 0, after_previous=True)], entered_at=entered, zone=BERLIN)
    assert planned.state is JobState.SCHEDULED and planned.due_at == entered


@pytest.mark.parametrize(
    ("after", "at", "expected"),
    [
        # Spring forward in Berlin: 2026-03-29 02:00 → 03:00. 02:30 does not exist: it runs at 03:30 CEST (01:30 UTC).
        (datetime(2026, 3, 29, 0, 0, tzinfo=UTC), time(2, 30), datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        # 09:00 the day before the change is CET (08:00 UTC), the day of the change CEST (07:00 UTC).
        (datetime(2026, 3, 28, 7, 0, tzinfo=UTC), time(9, 0), datetime(2026, 3, 28, 8, 0, tzinfo=UTC)),
        (datetime(2026, 3, 28, 9, 0, tzinfo=UTC), time(9, 0), datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),
        # Fall back: 2026-10-25 03:00 CEST → 02:00 CET. 02:30 happens twice: the first (00:30 UTC) is used.
        (datetime(2026, 10, 25, 0, 0, tzinfo=UTC), time(2, 30), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        (datetime(2026, 10, 25, 7, 30, tzinfo=UTC), time(9, 0), datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),
    ],
)
def test_next_time_of_day_across_dst(after, at, expected) -> None:
    assert next_local_time(after, at, BERLIN) == expected


def test_delay_then_time_of_day() -> None:
    start = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # 17:00 Berlin
    assert due_at(start, delay=timedelta(hours=1), at=time(9, 0), zone=BERLIN) == datetime(2026, 11, 25, 8, 0,
                                                                                           tzinfo=UTC)


def test_quiet_hours_cross_midnight_and_defer_to_their_end() -> None:
    quiet = QuietHours(time(22, 0), time(8, 0))
    assert quiet.contains(time(23, 0)) and quiet.contains(time(7, 59)) and not quiet.contains(time(8, 0))
    late = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)  # 23:30 Berlin
    assert after_quiet_hours(late, quiet, BERLIN) == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    noon = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    assert after_quiet_hours(noon, quiet, BERLIN) == noon


def test_retries_back_off_with_jitter_for_a_day_then_stop() -> None:
    rng = random.Random(7)
    first = datetime(2026, 11, 24, tzinfo=UTC)
    now, delays = first, []
    for attempt in range(1, 200):
        when = next_retry(attempt, first, now, rng)
        if when is None:
            break
        delays.append(when - now)
        now = when
    assert now - first >= timedelta(hours=24)
    assert delays[0] <= timedelta(seconds=30) and max(delays) <= timedelta(hours=1)
    assert delays[5] > delays[0]


@pytest.mark.parametrize(
    ("state", "fate"),
    [(JobState.SUCCEEDED, Chain.RELEASE), (JobState.SKIPPED, Chain.RELEASE), (JobState.FAILED, Chain.CANCEL),
     (JobState.DEAD, Chain.CANCEL), (JobState.CANCELLED, Chain.CANCEL), (JobState.UNKNOWN, Chain.HOLD),
     (JobState.RUNNING, Chain.HOLD), (JobState.RETRYING, Chain.HOLD), (JobState.SCHEDULED, Chain.HOLD)],
)
def test_chain_rules(state, fate) -> None:
    assert successor_fate(state) is fate
