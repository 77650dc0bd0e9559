"""Background work beside the runner (its process, or the web process inline): webhook sync, catch-up, maintenance."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

Task = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Periodic:
    task: Task
    every: float  # seconds between the end of one run and the start of the next; 0 or less: never runs


class BackgroundLoop:
    """Runs `once` tasks at start, then each periodic task at its own interval until stopped.

    Each periodic task has its own rhythm, so an hour-long maintenance interval does not hold back the catch-up
    poller, and a slow purge does not delay it either.
    """

    def __init__(self, *, once: Sequence[Task], periodic: Sequence[Periodic]) -> None:
        self._once = once
        self._periodic = [p for p in periodic if p.every > 0]
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
        await asyncio.gather(*(self._every(periodic) for periodic in self._periodic))

    @staticmethod
    async def _every(periodic: Periodic) -> None:
        while True:
            await _guarded(periodic.task)
            await asyncio.sleep(periodic.every)


async def _guarded(task: Task) -> None:
    try:
        await task()
    except asyncio.CancelledError:
        raise
    except Exception:  # one failing task must not stop the others; it is logged and retried next round
        log.exception("background task failed", extra={"task": getattr(task, "__name__", repr(task))})
