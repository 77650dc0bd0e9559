"""The stage-mirror decision: one write per stage change, none when Saleor holds our value, and never over another
writer's value unless our stage changed since our last write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from saleor_app.domain.stage_mirror import (
    WRITE_LEASE,
    MirrorAction,
    MirrorDecision,
    MirrorRecord,
    decide_mirror,
    held_stage,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def decide(held: str | None, last: MirrorRecord, *, stage: str = "paid", entry: int = 7) -> MirrorDecision:
    return decide_mirror(stage, entry, held, last, NOW)


def test_a_new_stage_is_written_and_the_write_claimed_first() -> None:
    assert decide(None, MirrorRecord()) == MirrorDecision(MirrorAction.WRITE, MirrorRecord("paid", 7, NOW))
    after_earlier_stage = MirrorRecord("awaiting-payment", 6)
    assert decide("awaiting-payment", after_earlier_stage).action is MirrorAction.WRITE


def test_nothing_is_written_when_saleor_holds_our_value() -> None:
    assert decide("paid", MirrorRecord("paid", 7)) == MirrorDecision(MirrorAction.HELD, None)  # nothing to store
    # held without our write (another installation, or our write whose answer never came): remembered as done
    assert decide("paid", MirrorRecord("awaiting-payment", 6)) == MirrorDecision(MirrorAction.HELD,
                                                                                 MirrorRecord("paid", 7))
    cut_off = MirrorRecord("paid", 7, NOW - WRITE_LEASE)  # its answer never came, but it landed
    assert decide("paid", cut_off) == MirrorDecision(MirrorAction.HELD, MirrorRecord("paid", 7))


def test_one_write_per_order_is_in_flight() -> None:
    claimed = MirrorRecord("paid", 7, NOW - timedelta(seconds=1))
    assert decide(None, claimed) == MirrorDecision(MirrorAction.UNDER_WAY, None)
    assert decide("awaiting-payment", claimed).action is MirrorAction.UNDER_WAY  # the re-read came before it landed
    assert decide("paid", claimed).action is MirrorAction.UNDER_WAY  # landed: its writer settles the record
    # The order moved on meanwhile: not a second write beside the first (they could land in either order); the
    # first one's writer looks again when Saleor has answered.
    assert decide("awaiting-payment", claimed, stage="packing", entry=8).action is MirrorAction.UNDER_WAY


def test_a_write_cut_off_long_ago_is_written_again() -> None:
    stale = MirrorRecord("paid", 7, NOW - WRITE_LEASE)
    assert decide(None, stale) == MirrorDecision(MirrorAction.WRITE, MirrorRecord("paid", 7, NOW))
    assert decide(None, stale, stage="packing", entry=8).record == MirrorRecord("packing", 8, NOW)


def test_another_writers_value_is_left_until_our_stage_changes() -> None:
    written = MirrorRecord("paid", 7)
    assert decide("vip", written) == MirrorDecision(MirrorAction.LEFT, None)
    assert decide(None, written).action is MirrorAction.LEFT  # deleted by staff: not written back either
    assert decide("vip", written, stage="shipped", entry=8).action is MirrorAction.WRITE


def test_the_same_stage_entered_again_is_a_change() -> None:
    """Paid → Refunded → Paid again: a new entry, so a value someone else wrote meanwhile is replaced once."""
    assert decide("vip", MirrorRecord("paid", 7), entry=9).action is MirrorAction.WRITE


def test_the_held_value_is_read_from_the_private_metadata() -> None:
    snapshot = {"privateMetadata": [{"key": "erp", "value": "1"}, {"key": "order-automation.stage", "value": "new"}],
                "metadata": [{"key": "order-automation.stage", "value": "public, not ours"}]}
    assert held_stage(snapshot) == "new"
    assert held_stage({"privateMetadata": None}) is None and held_stage({}) is None
