"""Turn stored webhooks into stage moves: each means "order X changed", so the order is re-read from Saleor.

Deliveries arrive in any order and `updatedAt` is not monotonic (samples README), so payloads are only a hint:
the engine re-reads the order, stores that snapshot, resolves its stage and, in ONE transaction with marking the
deliveries done, moves it. A burst of events for one order is one read: every delivery stored before the read
started is answered by it, and an order is read once its deliveries have been quiet for the settle window
(engine/inbox_pacing.py). No transaction is open while Saleor is called (its echo webhooks arrive before its
mutations return, and SQLite would deadlock).

Orders are drained in parallel: the quiet orders of one installation are re-read together (one `orders` query for
up to a page of them), with a bounded number of re-reads in flight per installation, each installation on its own.
One order is never handled twice at once: an order whose re-read is in flight is left out of every look at the
inbox until its deliveries are finished, so its later deliveries wait for the next read. One process at a time
drains the inbox (the in-process runner, or the Celery dispatcher holding the inbox lock: store/leader.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from saleor_app.domain.automation import Activity, NewJob, OrderRecord
from saleor_app.domain.errors import AppAccessLost, PermanentError, RetryableError, SaleorRateLimited
from saleor_app.domain.events import OrderEvent, infer_events
from saleor_app.domain.installations import Installation, InstallationStatus
from saleor_app.domain.jobs import MOVE_JOB, JobState
from saleor_app.domain.pipeline import Pipeline, resolve_stage
from saleor_app.domain.planning import idempotency_key
from saleor_app.domain.ports import (
    AutomationStore,
    AutomationTransaction,
    Clock,
    GatewayFor,
    InboxItem,
    InstallationRepository,
    OrderGateway,
)
from saleor_app.domain.tasks import task_events
from saleor_app.domain.triggers import Trigger, choose_target
from saleor_app.domain.writeback import NoPlan, Step, plan
from saleor_app.engine.inbound import inbound_trigger_id
from saleor_app.engine.inbox_pacing import OrderKey, Pace, Settling
from saleor_app.engine.provider_events import provider_events
from saleor_app.engine.stage_mirror import mirror_stage
from saleor_app.engine.stages import enter_stage, loop_detected, plan_event_jobs
from saleor_app.engine.telephony_callbacks import reply_events

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(seconds=5)

_Read = dict[str, Any] | PermanentError | None


@dataclass(frozen=True)
class DrainLimits:
    """How the inbox is drained (settings INBOX_CONCURRENCY, INBOX_BATCH_SIZE, INBOX_SETTLE_MS)."""

    concurrency: int = 4  # re-reads in flight per installation
    batch_size: int = 100  # orders per re-read (Saleor pages at most 100)
    settle_seconds: float = 0.005  # an order's deliveries quiet this long before its re-read; 0: at once


SERIAL = DrainLimits(concurrency=1, batch_size=1, settle_seconds=0.0)  # one order at a time, each read alone

LOOK_AGAIN_SECONDS = 0.01  # while re-reads are in flight and an installation has room: look for new deliveries
LONGEST_SLOW_DOWN = timedelta(minutes=10)  # a 429's Retry-After is honoured up to this


class HandleOrderEvents:
    def __init__(
        self,
        store: AutomationStore,
        installations: InstallationRepository,
        gateways: GatewayFor,
        clock: Clock,
        *,
        lease: timedelta = timedelta(minutes=5),
        limits: DrainLimits = DrainLimits(),
    ) -> None:
        self._store = store
        self._lease = lease
        self._limits = limits
        self._ready: list[int] = []  # jobs due now, claimed in the transaction that planned them
        self._may_claim: Callable[[], bool] = lambda: True
        self._installations = installations
        self._gateways = gateways
        self._clock = clock
        self._not_before: dict[OrderKey, datetime] = {}  # orders whose re-read failed: back off
        self._mirrors: dict[OrderKey, OrderGateway] = {}  # orders whose stage to mirror into Saleor
        self._deferred_mirrors: dict[OrderKey, OrderGateway] = {}  # mirrors waiting for the order's burst
        self._settling = Settling(limits.settle_seconds)
        self._pace = Pace(limits.concurrency)
        self._busy: set[OrderKey] = set()  # orders whose re-read is in flight
        self._reads: set[asyncio.Task[int]] = set()

    def take_ready(self) -> list[int]:
        """Jobs claimed with their stage move: the runner executes them without claiming them again."""
        ready, self._ready = self._ready, []
        return ready

    def take_followups(self) -> list[Coroutine[Any, Any, None]]:
        """Work that must not delay the jobs just planned (mirroring the stage into Saleor): the runner runs it."""
        mirrors, self._mirrors = self._mirrors, {}
        return [self._mirror(installation_id, order_id, gateway)
                for (installation_id, order_id), gateway in mirrors.items()]

    async def run_once(self, limit: int = 1000, *, may_claim: Callable[[], bool] = lambda: True) -> int:
        """Handle pending deliveries; returns how many were finished. Returns once some were, or nothing is left
        to do now; re-reads still in flight then go on, and a later call counts them. `may_claim` is asked right
        before jobs due now are claimed with their move (a runner shutting down claims nothing new)."""
        self._may_claim = may_claim
        finished = self._collect()
        while True:
            ignored, wait, room = await self._start(limit)
            finished += ignored
            if finished:
                return finished
            if room and self._reads:
                wait = LOOK_AGAIN_SECONDS if wait is None else min(wait, LOOK_AGAIN_SECONDS)
            if self._reads:
                await asyncio.wait(self._reads, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                finished = self._collect()
            elif wait is not None:
                await asyncio.sleep(wait)
            else:
                return 0

    async def aclose(self, timeout: float = 10.0) -> None:
        """Shutdown: let re-reads in flight finish (their deliveries stay pending if they are cut off)."""
        if self._reads:
            _, pending = await asyncio.wait(self._reads, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._collect()

    def _collect(self) -> int:
        finished = 0
        for task in [task for task in self._reads if task.done()]:
            self._reads.discard(task)
            if task.cancelled():
                continue
            if task.exception() is not None:
                log.error("draining deliveries failed", exc_info=task.exception())
                continue
            finished += task.result()
        return finished

    async def _start(self, limit: int) -> tuple[int, float | None, bool]:
        """Look at the inbox and start re-reads for the quiet orders, as the pace allows. Returns the deliveries
        finished on the spot (nothing to read for them), seconds until another order is quiet (None: none
        waits), and whether an installation has room for more re-reads."""
        now = self._clock.now()
        self._not_before = {key: until for key, until in self._not_before.items() if until > now}
        skip = {order for _, order in self._not_before} | {order for _, order in self._busy}
        items = await self._store.pending_inbox(limit, skip_orders=sorted(skip))
        orderless: list[InboxItem] = []
        groups: dict[OrderKey, list[InboxItem]] = defaultdict(list)
        for item in items:
            if item.order_id is None:
                orderless.append(item)
            elif (key := (item.installation_id, item.order_id)) not in self._busy and key not in self._not_before:
                groups[key].append(item)
        finished = 0
        if orderless:
            async with self._store.transaction() as tx:  # unparseable or no order in it: kept, flagged
                await tx.finish_inbox([item.id for item in orderless], now, state="ignored")
            finished += len(orderless)
        loop_now = asyncio.get_running_loop().time()
        quiet, wait = self._settling.look({key: max(item.id for item in group) for key, group in groups.items()},
                                          loop_now)
        by_installation: dict[int, list[OrderKey]] = defaultdict(list)
        for key in sorted(quiet, key=lambda key: groups[key][0].id):  # oldest first
            by_installation[key[0]].append(key)
        room = False
        for installation_id, keys in by_installation.items():
            installation = await self._installations.get(installation_id)
            if installation is None or installation.status is InstallationStatus.UNINSTALLED:
                ids = [item.id for key in keys for item in groups[key]]
                async with self._store.transaction() as tx:
                    await tx.finish_inbox(ids, now, state="ignored")
                finished += len(ids)
                continue
            if installation.status is InstallationStatus.INACTIVE:
                continue  # deactivated in the Dashboard: its token does not work; resumes on reactivation
            free = self._pace.free(installation_id, loop_now)
            size = self._limits.batch_size
            batches = [keys[start:start + size] for start in range(0, len(keys), size)][:max(free, 0)]
            for batch in batches:
                self._spawn(installation, [(order_id, groups[(installation_id, order_id)]) for _, order_id in batch])
            room = room or free > len(batches)
        return finished, wait, room

    def _spawn(self, installation: Installation, batch: list[tuple[str, list[InboxItem]]]) -> None:
        keys = [(installation.id, order_id) for order_id, _ in batch]
        self._busy.update(keys)
        for key in keys:
            self._settling.forget(key)
        self._pace.take(installation.id)
        task = asyncio.create_task(self._drain(installation, batch, keys), name=f"inbox-{installation.id}")
        self._reads.add(task)

    async def _drain(self, installation: Installation, batch: list[tuple[str, list[InboxItem]]],
                     keys: list[OrderKey]) -> int:
        try:
            return await self._read_and_answer(installation, batch)
        finally:
            self._pace.give(installation.id)
            self._busy.difference_update(keys)

    async def _read_and_answer(self, installation: Installation, batch: list[tuple[str, list[InboxItem]]]) -> int:
        order_ids = [order_id for order_id, _ in batch]
        extra = {"installation_id": installation.id, "orders": len(order_ids)}
        now = self._clock.now()
        async with self._store.reading() as tx:  # what is stored before Saleor is asked: see _answer
            before = {order_id: _version(await tx.order(installation.id, order_id)) for order_id in order_ids}
        try:
            gateway = await self._gateways(installation)
            found = await self._read(gateway, order_ids)
        except SaleorRateLimited as exc:  # Saleor (or its proxy) asks this installation's reads to slow down
            wait = min(exc.retry_after if exc.retry_after is not None else RETRY_AFTER.total_seconds(),
                       LONGEST_SLOW_DOWN.total_seconds())
            self._pace.slow_down(installation.id, asyncio.get_running_loop().time() + wait)
            log.warning("Saleor asked to slow down; the installation's re-reads wait",
                        extra={**extra, "seconds": wait})
            return 0
        except (RetryableError, AppAccessLost) as exc:
            for order_id in order_ids:
                self._not_before[(installation.id, order_id)] = now + RETRY_AFTER
            log.warning("order re-read failed; deliveries stay pending", extra={**extra, "reason": str(exc)})
            return 0
        finished = 0
        for order_id, items in batch:
            try:
                finished += await self._answer(installation, gateway, order_id, items, found.get(order_id),
                                               before[order_id])
            except Exception:  # a bug or a database blip on one order must not stop every other order
                log.exception("handling an order's deliveries failed; retrying later",
                              extra={"installation_id": installation.id, "order_id": order_id})
                self._not_before[(installation.id, order_id)] = self._clock.now() + RETRY_AFTER
        return finished

    async def _read(self, gateway: OrderGateway, order_ids: list[str]) -> dict[str, _Read]:
        """Each order as Saleor has it now: its snapshot, None (not found, or a draft) or the PermanentError
        Saleor answered for it alone."""
        found: dict[str, _Read] = {}
        if len(order_ids) > 1:
            try:
                found.update(await gateway.get_orders(order_ids))
            except AppAccessLost:
                raise
            except PermanentError:  # one order Saleor cannot serialise spoils the page: each is asked alone
                pass
        for order_id in order_ids:
            if order_id not in found:  # drafts are never listed, and a page may have failed: asked alone
                found[order_id] = await _read_one(gateway, order_id)
        return found

    async def _answer(self, installation: Installation, gateway: OrderGateway, order_id: str,
                      items: list[InboxItem], snapshot: _Read, before: object) -> int:
        installation_id = installation.id
        ids = [item.id for item in items]
        extra = {"installation_id": installation_id, "order_id": order_id}
        if isinstance(snapshot, PermanentError):  # Saleor cannot return it (seen: seed data it cannot serialise)
            log.warning("Saleor cannot return the order; its deliveries are set aside",
                        extra={**extra, "reason": str(snapshot)})
            now = self._clock.now()
            async with self._store.transaction() as tx:
                await tx.finish_inbox(ids, now, state="failed")
                known = await tx.order(installation_id, order_id)
                await tx.log(Activity(installation_id, "order", f"Saleor could not return order {order_id}, so "
                                      f"its webhooks were set aside: {snapshot}",
                                      order_row_id=known.id if known else None), now)
            return len(ids)
        self._not_before.pop((installation_id, order_id), None)
        read_at = self._clock.now()
        self_caused = all(item.self_caused for item in items)
        async with self._store.transaction() as tx:
            if snapshot is None:
                await tx.finish_inbox(ids, read_at, state="ignored")
                log.info("order not found in Saleor; deliveries ignored", extra=extra)
                return len(ids)
            if snapshot.get("status") == "DRAFT":
                await tx.finish_inbox(ids, read_at, state="ignored")
                return len(ids)
            existing = await tx.order(installation_id, order_id)
            if _version(existing) != before:
                # Someone stored the order while Saleor was asked (a write-back move re-reads it after its last
                # step): ours may be the older view, and applying it would move the order back. The deliveries
                # stay pending and the next look reads the order again.
                log.debug("order stored meanwhile; reading it again", extra=extra)
                return 0
            order = await tx.save_order(installation_id, order_id, snapshot, read_at)
            names = ", ".join(sorted({item.event for item in items}))
            adopted = existing is None and _created_before(order.snapshot, installation.installed_at)
            events = [] if adopted else infer_events(existing.snapshot if existing else None, order.snapshot)
            events += _called_in(items) + provider_events(items) + task_events(items) + reply_events(items)
            target = await self._move(tx, existing, order, events if not self_caused else [],
                                      reason=f"Saleor: {names}", adopted=adopted, own_echo=self_caused)
            if events and not self_caused:
                await self._plan_event_rules(tx, order, events, read_at)
            if self._may_claim():
                self._ready += await tx.claim_order_jobs(order.id, read_at, self._lease)
            await tx.finish_inbox(ids, read_at)
        key = (installation_id, order_id)
        deferred = self._deferred_mirrors.pop(key, None)
        if target is not None or deferred is not None:
            self._mirrors[key] = gateway
        return len(ids)

    async def _mirror(self, installation_id: int, order_id: str, gateway: OrderGateway) -> None:
        """Follow-ups of several rounds may run at once and out of order: see engine/stage_mirror.py. With a
        settle window, a write waits while the order has deliveries pending (a burst, or the echo of our own
        mutations, still arriving): the order's next re-read brings it back, so Saleor is written once it is
        quiet."""
        if self._limits.settle_seconds > 0 and await self._store.has_pending_inbox(installation_id, order_id):
            self._deferred_mirrors[(installation_id, order_id)] = gateway
            return
        await mirror_stage(self._store, gateway, self._clock, installation_id, order_id)

    async def _move(self, tx: AutomationTransaction, existing: OrderRecord | None, order: OrderRecord,
                    events: list[OrderEvent], *, reason: str, adopted: bool, own_echo: bool = False) -> str | None:
        """Resolve the order's stage and apply the winning trigger; returns the stage it is in afterwards (None:
        unchanged, nothing to mirror)."""
        installation_id, now = order.installation_id, self._clock.now()
        if own_echo and self._plan_under_way(order, now):
            # Our own mutations' echo while a write-back plan runs: the snapshot is stored, and the move settles
            # the stage itself once Saleor has answered every step (engine/moves.py). Entering a stage here would
            # make the outcome depend on whether the echo came before or after the plan's last answer.
            return None
        pipeline = await tx.pipeline(installation_id)
        current = existing.stage_key if existing else None
        target = resolve_stage(pipeline, order.snapshot, current)
        if target is None:
            await tx.log(Activity(installation_id, "order", f"{reason}: no stage matches status "
                                  f"{order.snapshot.get('status')}", order_row_id=order.id), now)
            return None
        without_rules = self._passing_through(order, target, now)
        firing = await self._fire_trigger(tx, pipeline, order, events, target, now) if events else None
        if firing is not None:
            trigger, steps = firing
            if not steps:  # already in the target's Saleor state, or a custom stage that holds
                await enter_stage(tx, self._clock, order, trigger.stage_key,
                                  reason=f"trigger {trigger.key} ({trigger.event})")
                return trigger.stage_key
            without_rules = f"on its way to {trigger.stage_key} (trigger {trigger.key})"
        elif order.moving_to is not None and target == order.moving_to:
            await tx.set_moving(order.id, None, now)
        await enter_stage(tx, self._clock, order, target, reason=reason, adopted=adopted, without_rules=without_rules)
        return target

    def _plan_under_way(self, order: OrderRecord, now: datetime) -> bool:
        # A plan that never finished (its job died) stops holding anything back after two leases.
        return order.moving_to is not None and order.moving_since is not None \
            and now - order.moving_since <= self._lease * 2

    def _passing_through(self, order: OrderRecord, target: str, now: datetime) -> str | None:
        """While a write-back plan runs, a state someone else's change passes through runs no rules."""
        if order.moving_to == target or not self._plan_under_way(order, now):
            return None
        return f"on its way to {order.moving_to} (write-back under way)"

    async def _fire_trigger(self, tx: AutomationTransaction, pipeline: Pipeline, order: OrderRecord,
                            events: list[OrderEvent], target: str, now: datetime) -> tuple[Trigger, list[Step]] | None:
        triggers = await tx.triggers(order.installation_id)
        if not triggers:
            return None
        settings = await tx.settings(order.installation_id)
        firing, notes = choose_target(pipeline, triggers, events, target, order.snapshot, now=now,
                                      time_zone=settings.time_zone)
        activities = [Activity(order.installation_id, "trigger", note, order_row_id=order.id, trigger_key=key)
                      for key, note in notes]
        result: tuple[Trigger, list[Step]] | None = None
        if firing is not None:
            trigger = firing.trigger
            stage = pipeline.stage(trigger.stage_key)
            assert stage is not None
            loop = await loop_detected(tx, order.id, now)
            try:
                if loop is not None:
                    raise NoPlan(loop)
                steps = plan(stage, order.snapshot)
            except NoPlan as exc:
                activities.append(Activity(order.installation_id, "trigger", f"trigger {trigger.key} "
                                           f"({firing.event.name}) did not move the order: {exc}",
                                           order_row_id=order.id, trigger_key=trigger.key))
            else:
                activities.append(Activity(order.installation_id, "trigger", f"trigger {trigger.key} fired on "
                                           f"{firing.event.name}: to {trigger.stage_key}"
                                           + (f" ({', '.join(step.describe() for step in steps)} in Saleor)"
                                              if steps else ""), order_row_id=order.id,
                                           trigger_key=trigger.key, stage_key=trigger.stage_key))
                if steps:
                    await self._plan_move(tx, order, trigger, firing.event, now)
                result = trigger, steps
        await tx.log_many(activities, now)
        return result

    async def _plan_move(self, tx: AutomationTransaction, order: OrderRecord, trigger: Trigger, event: OrderEvent,
                         now: datetime) -> None:
        """A move into a stage with Saleor work to do is an intent: a job runs the plan (outside any
        transaction, retried if Saleor is down) and the order enters the stage once Saleor is there."""
        await tx.set_moving(order.id, trigger.stage_key, now)
        await tx.add_job(NewJob(
            installation_id=order.installation_id, order_row_id=order.id, entry_id=None, rule_id=None,
            rule_key=f"trigger:{trigger.key}", kind=MOVE_JOB,
            idempotency_key=idempotency_key(order.installation_id, order.order_id, f"trigger:{event.identity}",
                                            trigger.key),
            state=JobState.SCHEDULED, due_at=now,
            payload={"stage": trigger.stage_key, "reason": f"trigger {trigger.key} ({event.name})"},
        ), now)

    async def _plan_event_rules(self, tx: AutomationTransaction, order: OrderRecord, events: list[OrderEvent],
                                now: datetime) -> None:
        rules = await tx.event_rules(order.installation_id, sorted({event.name for event in events}))
        if not rules:
            return
        settings = await tx.settings(order.installation_id)
        if settings.paused:
            return
        activities = []
        for event in events:
            activities += await plan_event_jobs(tx, order, event, rules, now, settings.zone)
        await tx.log_many(activities, now)


def _version(order: OrderRecord | None) -> object:
    return None if order is None else (order.snapshot_at, order.snapshot)


async def _read_one(gateway: OrderGateway, order_id: str) -> _Read:
    try:
        return await gateway.get_order(order_id)
    except AppAccessLost:
        raise
    except PermanentError as exc:
        return exc


def _called_in(items: list[InboxItem]) -> list[OrderEvent]:
    """Inbound-webhook calls among the deliveries: each is an occurrence of its own trigger's event."""
    events = []
    for item in items:
        trigger_id = inbound_trigger_id(item.event)
        if trigger_id is not None:
            events.append(OrderEvent("inbound_webhook", f"inbound:{item.id}", {"trigger_id": str(trigger_id)}))
    return events


def _created_before(snapshot: dict[str, object], moment: datetime) -> bool:
    created = snapshot.get("created")
    if not isinstance(created, str):
        return False
    try:
        return datetime.fromisoformat(created) < moment
    except ValueError:
        return False
