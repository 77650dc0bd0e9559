"""The scale-out runner's dispatcher: the in-process runner's loop, with Celery workers running the jobs.

It turns stored webhooks into moves (the engine's planning, unchanged), recovers interrupted jobs, and sends the
ids of jobs due now to the broker in small batches. It never sends a job that is not due (no ETA messages), and
a broker that is down stops nothing else: webhooks are still stored and planned, the unsent jobs stay due in the
database, and they flow as soon as a publish succeeds again. Several dispatchers may run at once: their claims
skip each other's rows, and one of them at a time (a PostgreSQL advisory lock) handles the inbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Protocol

from saleor_app import metrics
from saleor_app.domain.ports import Clock
from saleor_app.store.dispatch import JobTicket, SqlDispatchStore

log = logging.getLogger(__name__)


class Leadership(Protocol):
    """Whether this process handles the inbox now (store/leader.py); released when the dispatcher stops."""

    async def __call__(self) -> bool: ...

    async def release(self) -> None: ...


class CeleryDispatcher:
    def __init__(
        self,
        store: SqlDispatchStore,
        handle_events: Callable[[Callable[[], bool]], Awaitable[int]],
        recover: Callable[[], Awaitable[int]],
        publish: Callable[[Sequence[JobTicket]], None],
        close_publisher: Callable[[], None],
        clock: Clock,
        *,
        leads_inbox: Leadership,
        followups: Callable[[], list[Coroutine[Any, Any, None]]] = list,
        batch_size: int = 64,
        claim_limit: int = 512,
        lease: timedelta = timedelta(minutes=5),
        resend_after: timedelta = timedelta(minutes=5),
        idle_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._broker_back_at = 0.0  # after a failed publish, the broker is left alone until then (loop time)
        self._broker_down = False  # logged once per outage, not every second
        self._handle_events = handle_events
        self._recover = recover
        self._publish = publish
        self._close_publisher = close_publisher
        self._clock = clock
        self._leads_inbox = leads_inbox
        self._followups = followups
        self._batch_size = batch_size
        self._claim_limit = claim_limit
        self._lease = lease
        self._resend_after = resend_after
        self._idle = idle_seconds
        self._wake = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        # kombu's connections belong to one thread: every publish goes through this one
        self._publisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="celery-publish")

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._loop_task = asyncio.create_task(self._run(), name="celery-dispatcher")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        if self._background:
            await asyncio.wait(self._background, timeout=5.0)
        await asyncio.get_running_loop().run_in_executor(self._publisher, self._close_publisher)
        self._publisher.shutdown(wait=True)
        await self._leads_inbox.release()

    async def run_until_idle(self, max_rounds: int = 1000, timeout: float = 60.0) -> None:
        """Tests and benchmarks: dispatch until nothing is pending or due, and every sent job has finished."""
        deadline = time.monotonic() + timeout
        for _ in range(max_rounds):
            worked = await self._round()
            if self._background:
                await asyncio.wait(self._background)
            if await self._store.in_flight():
                if time.monotonic() > deadline:
                    raise TimeoutError("jobs sent to Celery did not finish; is a worker running on the queue?")
                await asyncio.sleep(0.02)
                continue
            if not worked:
                return

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        recover_every = max(1.0, self._lease.total_seconds() / 2)
        next_recovery = 0.0
        while not self._stopping:
            if loop.time() >= next_recovery:
                await self._guard(self._recover)
                next_recovery = loop.time() + recover_every
            self._wake.clear()
            if await self._guard(self._round):
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=await self._sleep_for())
            except TimeoutError:
                pass

    async def _round(self) -> int:
        handled = 0
        if await self._leads_inbox():
            handled = await self._handle_events(lambda: False)  # the broker path claims; never with the move
        followups = self._followups()
        if followups:
            task = asyncio.create_task(self._after(followups), name="followups")
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return handled + await self._dispatch()

    async def _dispatch(self) -> int:
        loop = asyncio.get_running_loop()
        if self._stopping or loop.time() < self._broker_back_at:
            return 0
        began = time.perf_counter()
        tickets = await self._store.claim_for_dispatch(self._clock.now(), self._resend_after, self._claim_limit)
        metrics.DISPATCH_CLAIM_SECONDS.observe(time.perf_counter() - began)
        if not tickets:
            return 0
        batches = [tickets[start:start + self._batch_size] for start in range(0, len(tickets), self._batch_size)]
        for index, batch in enumerate(batches):
            try:
                await loop.run_in_executor(self._publisher, self._publish, batch)
            except Exception as exc:  # broker down or refusing: the rest stays due in the database
                unsent = [ticket for rest in batches[index:] for ticket in rest]
                await self._store.unsend(unsent)
                self._broker_back_at = loop.time() + self._idle
                metrics.DISPATCH_FAILED.inc(len(unsent))
                log.log(logging.DEBUG if self._broker_down else logging.WARNING,
                        "the broker did not take jobs; they stay due and are sent when it is back",
                        extra={"jobs": len(unsent), "reason": f"{exc.__class__.__name__}: {exc}"})
                self._broker_down = True
                return 0  # nothing worked: the loop sleeps before trying the broker again
            metrics.DISPATCH_CLAIMED.inc(len(batch))
            if self._broker_down:
                self._broker_down = False
                log.warning("the broker takes jobs again")
        return len(tickets)

    @staticmethod
    async def _after(work: list[Coroutine[Any, Any, None]]) -> None:
        for outcome in await asyncio.gather(*work, return_exceptions=True):
            if isinstance(outcome, BaseException):
                log.error("follow-up failed", exc_info=outcome)

    async def _sleep_for(self) -> float:
        backoff = self._broker_back_at - asyncio.get_running_loop().time()
        if backoff > 0:
            return min(self._idle, backoff)
        next_wake = await self._store.next_dispatch_at()
        if next_wake is None:
            return self._idle
        return max(0.0, min(self._idle, (next_wake - self._clock.now()).total_seconds()))

    async def _guard(self, step: Callable[[], Awaitable[int]]) -> int:
        try:
            return await step()
        except Exception:  # the database blinked: log, back off, keep the loop alive
            log.exception("dispatcher step failed; retrying")
            await asyncio.sleep(self._idle)
            return 0
