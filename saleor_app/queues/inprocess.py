"""The embedded default's worker: one loop that turns webhooks into moves and runs due jobs.

`serve` runs it in a process of its own (queues/runner_process.py), or on the web process's loop with
RUNNER_MODE=inline; tests drive it directly (`run_until_idle`).

It wakes at once when a webhook is stored or a job becomes due now, and otherwise sleeps until the next due
job (at most `idle_seconds`). Claimed jobs run in batches (one read to check them, one write to record them),
up to `concurrency` batches at once; each job is claimed with a lease, so a crashed process leaves nothing
stuck (see RecoverLeases). Shutdown stops claiming and lets running jobs finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from saleor_app.domain.ports import AutomationStore, Clock

log = logging.getLogger(__name__)


class InProcessRunner:
    def __init__(
        self,
        store: AutomationStore,
        handle_events: Callable[[Callable[[], bool]], Awaitable[int]],
        execute: Callable[[list[int]], Coroutine[Any, Any, object]],
        recover: Callable[[], Awaitable[int]],
        clock: Clock,
        *,
        concurrency: int = 8,
        batch_size: int = 32,
        lease: timedelta = timedelta(minutes=5),
        idle_seconds: float = 1.0,
        shutdown_grace_seconds: float = 10.0,
        ready: Callable[[], list[int]] = list,
        followups: Callable[[], list[Coroutine[Any, Any, None]]] = list,
        followup_wait_seconds: float = 5.0,
    ) -> None:
        self._ready = ready
        self._followups = followups
        self._followup_wait = followup_wait_seconds
        self._store = store
        self._handle_events = handle_events
        self._execute = execute
        self._recover = recover
        self._clock = clock
        self._concurrency = concurrency
        self._batch_size = batch_size
        self._lease = lease
        self._idle = idle_seconds
        self._grace = shutdown_grace_seconds
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[object]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._loop_task = asyncio.create_task(self._run(), name="in-process-runner")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        if self._running:
            done, pending = await asyncio.wait(self._running, timeout=self._grace)
            for task in pending:
                task.cancel()  # its lease expires and recovery decides (retry or unknown)

    async def run_until_idle(self, max_rounds: int = 1000) -> None:
        """Tests: work until nothing is pending or due now — two rounds in a row found nothing to do (a re-read
        that finished right after a round looked hands its claimed jobs to the next one)."""
        idle = 0
        for _ in range(max_rounds):
            worked = await self._round()
            if self._running:
                await asyncio.wait(self._running)
                idle = 0
                continue
            idle = 0 if worked else idle + 1
            if idle == 2:
                return

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        # Interrupted jobs are looked for on a timer, not only when idle: a busy runner must recover them too.
        recover_every = max(1.0, self._lease.total_seconds() / 2)
        next_recovery = 0.0
        while not self._stopping:
            if loop.time() >= next_recovery:
                await self._guard(self._recover)
                next_recovery = loop.time() + recover_every
            self._wake.clear()  # before the round: a wake during it must not be lost
            worked = await self._guard(self._round)
            if worked:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=await self._sleep_for())
            except TimeoutError:
                pass

    async def _round(self) -> int:
        handled = await self._handle_events(lambda: not self._stopping)
        batches = self._run_batches(self._ready())  # claimed with their stage move: no second claim
        free = self._concurrency - len(self._running)
        claimed: list[int] = []
        if free > 0 and not self._stopping:
            claimed = await self._store.claim_due(self._clock.now(), self._lease, free * self._batch_size)
        batches += self._run_batches(claimed)
        followups = self._followups()
        if followups:  # bookkeeping (mirroring stages into Saleor) waits for this round's jobs: its echo
            # webhooks would compete with a customer's message for the same process
            self._spawn(self._after(batches, followups), "followups")
        return handled + len(claimed)

    def _run_batches(self, job_ids: list[int]) -> list[asyncio.Task[object]]:
        return [self._spawn(self._execute(job_ids[start:start + self._batch_size]), f"jobs-{job_ids[start]}")
                for start in range(0, len(job_ids), self._batch_size)]

    async def _after(self, batches: list[asyncio.Task[object]], work: list[Coroutine[Any, Any, None]]) -> None:
        if batches:
            await asyncio.wait(batches, timeout=self._followup_wait)
        for outcome in await asyncio.gather(*work, return_exceptions=True):
            if isinstance(outcome, BaseException):
                log.error("follow-up failed", exc_info=outcome)

    def _spawn(self, work: Coroutine[Any, Any, object], name: str) -> asyncio.Task[object]:
        task: asyncio.Task[object] = asyncio.create_task(work, name=name)
        self._running.add(task)
        task.add_done_callback(self._job_done)
        return task

    def _job_done(self, task: asyncio.Task[object]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("job task failed", exc_info=task.exception())
        self._wake.set()  # a finished job may have released a successor

    async def _sleep_for(self) -> float:
        next_due = await self._store.next_due_at()
        if next_due is None:
            return self._idle
        return max(0.0, min(self._idle, (next_due - self._clock.now()).total_seconds()))

    async def _guard(self, step: Callable[[], Awaitable[int]]) -> int:
        try:
            return await step()
        except Exception:  # the database blinked: log, back off, keep the loop alive
            log.exception("runner step failed; retrying")
            await asyncio.sleep(self._idle)
            return 0
