"""Turn stored webhooks into stage moves: each means "order X changed", so the order is re-read from Saleor.

Deliveries arrive in any order and `updatedAt` is not monotonic (samples README), so payloads are only a hint:
the engine re-reads the order, stores that snapshot, resolves its stage and, in ONE transaction with marking the
deliveries done, moves it. A burst of events for one order is one read: every delivery stored before the read
started is answered by it. No transaction is open while Saleor is called (its echo webhooks arrive before its
mutations return, and SQLite would deadlock).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from saleor_app.domain.automation import Activity, NewJob, OrderRecord
from saleor_app.domain.errors import AppAccessLost, PermanentError, RetryableError
from saleor_app.domain.events import OrderEvent, infer_events
from saleor_app.domain.installations import InstallationStatus
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
from saleor_app.engine.provider_events import provider_events
from saleor_app.engine.stage_mirror import mirror_stage
from saleor_app.engine.stages import enter_stage, loop_detected, plan_event_jobs
from saleor_app.engine.telephony_callbacks import reply_events

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(seconds=5)


class HandleOrderEvents:
    def __init__(
        self,
        store: AutomationStore,
        installations: InstallationRepository,
        gateways: GatewayFor,
        clock: Clock,
        *,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self._store = store
        self._lease = lease
        self._ready: list[int] = []  # jobs due now, claimed in the transaction that planned them
        self._may_claim: Callable[[], bool] = lambda: True
        self._installations = installations
        self._gateways = gateways
        self._clock = clock
        self._not_before: dict[tuple[int, str], datetime] = {}  # orders whose re-read failed: back off
        self._mirrors: dict[tuple[int, str], OrderGateway] = {}  # orders whose stage to mirror into Saleor

    def take_ready(self) -> list[int]:
        """Jobs claimed with their stage move: the runner executes them without claiming them again."""
        ready, self._ready = self._ready, []
        return ready

    def take_followups(self) -> list[Coroutine[Any, Any, None]]:
        """Work that must not delay the jobs just planned (mirroring the stage into Saleor): the runner runs it."""
        mirrors, self._mirrors = self._mirrors, {}
        return [self._mirror(installation_id, order_id, gateway)
                for (installation_id, order_id), gateway in mirrors.items()]

    async def run_once(self, limit: int = 200, *, may_claim: Callable[[], bool] = lambda: True) -> int:
        """Handle pending deliveries; returns how many were finished. `may_claim` is asked right before jobs due
        now are claimed with their move (a runner shutting down claims nothing new)."""
        self._may_claim = may_claim
        now = self._clock.now()
        self._not_before = {key: until for key, until in self._not_before.items() if until > now}
        items = await self._store.pending_inbox(limit, skip_orders=[order for _, order in self._not_before])
        groups: dict[tuple[int, str | None], list[InboxItem]] = defaultdict(list)
        for item in items:
            groups[(item.installation_id, item.order_id)].append(item)
        finished = 0
        for (installation_id, order_id), group in groups.items():
            try:
                finished += await self._handle(installation_id, order_id, group)
            except Exception:  # a bug or a database blip on one order must not stop every other order
                log.exception("handling an order's deliveries failed; retrying later",
                              extra={"installation_id": installation_id, "order_id": order_id})
                if order_id is not None:
                    self._not_before[(installation_id, order_id)] = self._clock.now() + RETRY_AFTER
        return finished

    async def _handle(self, installation_id: int, order_id: str | None, items: list[InboxItem]) -> int:
        ids = [item.id for item in items]
        now = self._clock.now()
        if order_id is None:
            async with self._store.transaction() as tx:
                await tx.finish_inbox(ids, now, state="ignored")  # unparseable or no order in it: kept, flagged
            return len(ids)
        not_before = self._not_before.get((installation_id, order_id))
        if not_before is not None and now < not_before:
            return 0
        installation = await self._installations.get(installation_id)
        if installation is None or installation.status is InstallationStatus.UNINSTALLED:
            async with self._store.transaction() as tx:
                await tx.finish_inbox(ids, now, state="ignored")
            return len(ids)
        if installation.status is InstallationStatus.INACTIVE:
            return 0  # deactivated in the Dashboard: its token does not work; resumes on reactivation
        extra = {"installation_id": installation_id, "order_id": order_id}
        try:
            gateway = await self._gateways(installation)
            snapshot = await gateway.get_order(order_id)
        except (RetryableError, AppAccessLost) as exc:
            self._not_before[(installation_id, order_id)] = now + RETRY_AFTER
            log.warning("order re-read failed; deliveries stay pending", extra={**extra, "reason": str(exc)})
            return 0
        except PermanentError as exc:  # Saleor cannot return this order (seen: seed data it cannot serialise)
            log.warning("Saleor cannot return the order; its deliveries are set aside",
                        extra={**extra, "reason": str(exc)})
            async with self._store.transaction() as tx:
                await tx.finish_inbox(ids, now, state="failed")
                known = await tx.order(installation_id, order_id)
                await tx.log(Activity(installation_id, "order", f"Saleor could not return order {order_id}, so "
                                      f"its webhooks were set aside: {exc}",
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
        if target is not None:
            self._mirrors[(installation_id, order_id)] = gateway
        return len(ids)

    async def _mirror(self, installation_id: int, order_id: str, gateway: OrderGateway) -> None:
        """Follow-ups of several rounds may run at once and out of order: see engine/stage_mirror.py."""
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
