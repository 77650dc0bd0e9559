"""In-process background work of the web process: start-up webhook sync and periodic maintenance."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger(__name__)

Task = Callable[[], Awaitable[object]]


class BackgroundLoop:
    """Runs `once` tasks at start and `periodic` tasks every `interval` seconds until stopped."""

    def __init__(self, *, once: Sequence[Task], periodic: Sequence[Task], interval: float) -> None:
        self._once = once
        self._periodic = periodic
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="background-loop")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        for task in self._once:
            await _guarded(task)
        while True:
            for task in self._periodic:
                await _guarded(task)
            await asyncio.sleep(self._interval)


async def _guarded(task: Task) -> None:
    try:
        await task()
    except asyncio.CancelledError:
        raise
    except Exception:  # one failing task must not stop the others; it is logged and retried next round
        log.exception("background task failed", extra={"task": getattr(task, "__name__", repr(task))})
