"""The in-process runner runs jobs claimed with a stage move at once, and its follow-ups only after them."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from saleor_app.queues.inprocess import InProcessRunner


class Clock:
    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)


class NothingDue:
    """The store's side of the runner: nothing to claim (the jobs come claimed with their move)."""

    def __init__(self) -> None:
        self.claims = 0

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[int]:
        self.claims += 1
        return []

    async def next_due_at(self) -> None:
        return None


async def test_ready_jobs_run_before_the_follow_ups_start() -> None:
    events: list[str] = []
    ready = [[7, 8]]
    followups: list[list[Coroutine[Any, Any, None]]] = []

    async def execute(batch: list[int]) -> None:
        events.append(f"start {batch}")
        await asyncio.sleep(0.05)
        events.append(f"done {batch}")

    async def mirror() -> None:
        events.append("follow-up")

    async def handle(_may_claim: object) -> int:
        followups.append([mirror()])
        return 1

    async def recover() -> int:
        return 0

    store = NothingDue()
    runner = InProcessRunner(store, handle, execute, recover, Clock(),  # type: ignore[arg-type]
                             ready=lambda: ready.pop() if ready else [],
                             followups=lambda: followups.pop() if followups else [])
    await runner.run_until_idle(max_rounds=3)
    assert events[:3] == ["start [7, 8]", "done [7, 8]", "follow-up"]
    assert store.claims >= 1  # due jobs of other orders are still claimed in the same round
