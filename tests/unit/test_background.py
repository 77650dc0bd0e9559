"""The background loop: start-up tasks first, then each periodic task at its own interval, failures contained."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from saleor_app.queues.background import BackgroundLoop, Periodic
from tests.timing import eventually, scaled


async def test_each_periodic_task_keeps_its_own_interval() -> None:
    calls: list[str] = []

    def task(name: str, *, fail: bool = False) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            calls.append(name)
            if fail:
                raise RuntimeError(f"{name} broke")

        return run

    loop = BackgroundLoop(once=[task("sync")], periodic=[
        Periodic(task("fast", fail=True), 0.01),  # fails every time and still keeps its rhythm
        Periodic(task("slow"), 60.0),
        Periodic(task("off"), 0),
    ])
    loop.start()
    await eventually(lambda: calls.count("fast") >= 5, what="five runs of the failing task")
    await loop.stop()
    assert calls[0] == "sync"
    assert calls.count("slow") == 1  # ran at start, then waits its minute
    assert "off" not in calls


async def test_stop_ends_every_task() -> None:
    ran = asyncio.Event()

    async def run() -> None:
        ran.set()

    loop = BackgroundLoop(once=[], periodic=[Periodic(run, 0.01)])
    loop.start()
    await asyncio.wait_for(ran.wait(), scaled(5))
    await loop.stop()
    ran.clear()
    await asyncio.sleep(0.05)
    assert not ran.is_set()
