"""Moves asked for by a trigger, a rule or a person (not by Saleor's state): an intent carried out in Saleor.

Into a custom stage the move is metadata only. Into a stage that implies a Saleor state, the stage's write-back
plan runs (confirm, mark as paid, fulfil, cancel: only the steps still needed), outside any transaction, after a
pre-check (domain/writeback_check.py) that refuses, before the first mutation, a move Saleor would refuse.

The move settles the order's stage itself, once, from the order re-read after the plan: the target when Saleor is
there; when Saleor refuses a later step, the stage the order's Saleor state now resolves to, entered as a normal
entry (its rules run) and credited to the plan, not to Saleor. Echo webhooks of the plan's own mutations change
no stage while the plan runs (`moving_to`, see HandleOrderEvents), so the outcome never depends on when they
arrive. Saleor unreachable is retried by the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from saleor_app.domain.automation import Activity, OrderRecord
from saleor_app.domain.errors import PermanentError, RetryableError, SaleorRefusal, SkipJob
from saleor_app.domain.installations import Installation
from saleor_app.domain.pipeline import Pipeline, Stage, resolve_stage
from saleor_app.domain.ports import AutomationStore, Clock, GatewayFor, OrderGateway
from saleor_app.domain.writeback import Action, Goal, NoPlan, Step, awaiting_approval, goal, plan
from saleor_app.domain.writeback_check import ShopRules, WouldRefuse, precheck
from saleor_app.engine.stage_mirror import mirror_stage
from saleor_app.engine.stages import enter_stage, loop_detected


class AwaitingApproval(RetryableError):
    """The fulfilment waits for staff approval in Saleor: the move waits too (it is re-checked later)."""


class MoveOrder:
    def __init__(self, store: AutomationStore, gateways: GatewayFor, clock: Clock) -> None:
        self._store = store
        self._gateways = gateways
        self._clock = clock

    async def __call__(self, installation: Installation, order: OrderRecord, stage_key: str, reason: str) -> str:
        async with self._store.reading() as tx:
            pipeline = await tx.pipeline(installation.id)
            loop = await loop_detected(tx, order.id, self._clock.now())
        stage = pipeline.stage(stage_key)
        if stage is None:
            raise PermanentError(f"there is no stage {stage_key!r} (it may have been deleted)")
        if loop is not None:
            raise PermanentError(loop)
        gateway = await self._gateways(installation)
        snapshot = await gateway.get_order(order.order_id)
        if snapshot is None:
            raise SkipJob("the order no longer exists in Saleor")
        if goal(stage.match) is Goal.SHIPPED and awaiting_approval(snapshot) \
                and resolve_stage(pipeline, snapshot, stage_key) != stage_key:
            # Waiting lines already count as fulfilled: there is nothing to fulfil, only staff to wait for.
            raise AwaitingApproval(f"the fulfilment awaits approval in Saleor; {stage.name} follows once staff "
                                   "approve it")
        try:
            steps = plan(stage, snapshot)
            if steps:
                precheck(steps, snapshot, ShopRules.from_shop(await gateway.shop_settings()))
        except NoPlan as exc:
            await self._moving(order, None)
            if isinstance(exc, WouldRefuse):
                raise PermanentError(f"move to {stage.name} refused before any change in Saleor: {exc}") from exc
            raise PermanentError(f"move to {stage.name} abandoned: {exc}") from exc
        stopped: Stopped | None = None
        if steps:
            snapshot, stopped = await self._run_plan(gateway, order, stage, steps)
        if stopped is not None:
            await self._settle_stopped(installation, order, pipeline, reason, stopped, snapshot, gateway)
            raise PermanentError(str(stopped))
        async with self._store.transaction() as tx:
            now = self._clock.now()
            saved = await tx.save_order(installation.id, order.order_id, snapshot, now)
            if resolve_stage(pipeline, saved.snapshot, stage_key) != stage_key:
                if awaiting_approval(saved.snapshot):
                    raise AwaitingApproval(f"the fulfilment awaits approval in Saleor; {stage.name} follows once "
                                           "staff approve it")
                await tx.set_moving(order.id, None, now)
                raise PermanentError(f"move to {stage.name} abandoned: after "
                                     f"{', '.join(step.describe() for step in steps) or 'no change'} Saleor reports "
                                     f"the order {saved.snapshot.get('status')} / {saved.snapshot.get('chargeStatus')}")
            entry = await enter_stage(tx, self._clock, saved, stage_key, reason=reason)
            await tx.set_moving(order.id, None, now)
        await mirror_stage(self._store, gateway, self._clock, installation.id, order.order_id)
        done = f"({', '.join(step.describe() for step in steps)} in Saleor)" if steps else ""
        return f"already in {stage.name}" if entry is None and not steps else f"moved to {stage.name} {done}".strip()

    async def _moving(self, order: OrderRecord, stage_key: str | None) -> None:
        async with self._store.transaction() as tx:
            await tx.set_moving(order.id, stage_key, self._clock.now())

    async def _run_plan(
        self, gateway: OrderGateway, order: OrderRecord, stage: Stage, steps: list[Step]
    ) -> tuple[dict[str, Any], Stopped | None]:
        """Run the steps in order; stop at the first Saleor refuses. Returns the order as Saleor has it after."""
        await self._moving(order, stage.key)
        stopped = None
        for index, step in enumerate(steps):
            try:
                await _run_step(gateway, order.order_id, step)
            except SaleorRefusal as exc:
                stopped = Stopped(stage.name, tuple(steps), index, exc)
                break
        fresh = await gateway.get_order(order.order_id)
        if fresh is None:
            await self._moving(order, None)
            raise SkipJob("the order no longer exists in Saleor")
        return fresh, stopped

    async def _settle_stopped(self, installation: Installation, order: OrderRecord, pipeline: Pipeline,
                              reason: str, stopped: Stopped, snapshot: dict[str, Any], gateway: OrderGateway) -> None:
        """Saleor refused a step: the order enters the stage its Saleor state now resolves to, as any entry (its
        rules run: the order really is there), credited to the plan whose mutations put it there."""
        async with self._store.transaction() as tx:
            now = self._clock.now()
            saved = await tx.save_order(installation.id, order.order_id, snapshot, now)
            current = await tx.open_entry(order.id)
            current_key = current.stage_key if current is not None else None
            target = resolve_stage(pipeline, saved.snapshot, current_key)
            await tx.set_moving(order.id, None, now)
            if target is not None and target != current_key:
                await enter_stage(tx, self._clock, saved, target, reason=f"{reason}: {stopped}")
            else:
                await tx.log(Activity(installation.id, "stage", f"{reason}: {stopped}", order_row_id=order.id,
                                      stage_key=current_key), now)
        await mirror_stage(self._store, gateway, self._clock, installation.id, order.order_id)


@dataclass(frozen=True, slots=True)
class Stopped:
    """Saleor refused step `index` of a plan; the steps before it were accepted."""

    stage_name: str
    steps: tuple[Step, ...]
    index: int
    refusal: SaleorRefusal

    def __str__(self) -> str:
        said = "; ".join(f"{error.code or 'UNKNOWN'}: {error.message or 'no message'}"
                         for error in self.refusal.errors) or str(self.refusal)
        failed = f"{self.steps[self.index].describe()} ✗ {said}"
        if self.index == 0:
            return f"move to {self.stage_name} refused by Saleor at step 1 of {len(self.steps)}, nothing changed: " \
                   f"{failed}"
        done = "; ".join(f"{step.done()} ✓" for step in self.steps[:self.index])
        return f"move to {self.stage_name} stopped after step {self.index} of {len(self.steps)}: {done}; {failed}"


async def _run_step(gateway: OrderGateway, order_id: str, step: Step) -> None:
    if step.action is Action.CONFIRM:
        await gateway.confirm(order_id)
    elif step.action is Action.MARK_PAID:
        await gateway.mark_as_paid(order_id)
    elif step.action is Action.FULFILL:
        await gateway.fulfill(order_id, list(step.lines), notify_customer=True)
    else:
        await gateway.cancel(order_id)
