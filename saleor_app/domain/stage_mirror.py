"""Whether to write an order's stage into Saleor's private metadata: one decision, from what we last wrote there
and what Saleor holds now.

The key (`order-automation.stage`) is the order's, not the app's: every app with MANAGE_ORDERS reads and writes
the same one, so two installations of this app in one shop share it. We write once per stage change: never when
Saleor already holds our value, and never over a value that differs from ours unless our stage changed since we
last wrote; otherwise two installations with different stages answer each other's echo webhooks for ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from saleor_app.domain.pipeline import PRIVATE_METADATA_STAGE_KEY

# A write claimed longer ago than this and never confirmed was cut off (the process died): it may be written again.
# Far longer than a Saleor call may take, so a slow write is never doubled.
WRITE_LEASE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class MirrorRecord:
    """Our last write of the stage key: its value, the stage entry (stage change) it was for, and, while the write
    is under way, when it was claimed."""

    value: str | None = None
    entry_id: int | None = None
    pending_since: datetime | None = None


class MirrorAction(StrEnum):
    WRITE = "write"  # our stage changed since our last write and Saleor does not hold it
    HELD = "held"  # Saleor holds our stage already
    UNDER_WAY = "under way"  # a write of ours is in flight; its writer looks again when it is done
    LEFT = "left"  # written for this stage change already; what Saleor holds now is someone else's: left alone


@dataclass(frozen=True, slots=True)
class MirrorDecision:
    action: MirrorAction
    record: MirrorRecord | None  # what to store before acting (a claim when writing); None: nothing to store


def held_stage(snapshot: dict[str, Any]) -> str | None:
    """The stage key's value in an order snapshot's private metadata, if any."""
    for item in snapshot.get("privateMetadata") or []:
        if isinstance(item, dict) and item.get("key") == PRIVATE_METADATA_STAGE_KEY:
            return str(item.get("value"))
    return None


def decide_mirror(stage_key: str, entry_id: int, held: str | None, last: MirrorRecord, now: datetime,
                  lease: timedelta = WRITE_LEASE) -> MirrorDecision:
    """`stage_key` and `entry_id`: the order's stage and its open entry (a new one per stage change); `held`: what
    Saleor holds in the key; `last`: our last write.

    One write of ours per order at a time, whatever stage it is for: two in flight may land in either order (a
    broker-less Saleor answers only after delivering the write's webhooks), and the older one landing last would
    leave an old stage in Saleor that the rule below then never corrects."""
    if last.pending_since is not None and now - last.pending_since < lease:
        return MirrorDecision(MirrorAction.UNDER_WAY, None)
    settled = MirrorRecord(stage_key, entry_id)
    if held == stage_key:
        return MirrorDecision(MirrorAction.HELD, None if last == settled else settled)
    if last.entry_id == entry_id and last.pending_since is None:
        return MirrorDecision(MirrorAction.LEFT, None)
    return MirrorDecision(MirrorAction.WRITE, MirrorRecord(stage_key, entry_id, now))
