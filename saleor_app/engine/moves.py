"""Moves asked for by a trigger, a rule or a person (not by Saleor's state): an intent carried out in Saleor.

Into a custom stage the move is metadata only. Into a stage that implies a Saleor state, the stage's write-back
plan runs first (confirm, mark as paid, fulfil, cancel: only the steps still needed), outside any transaction,
and the order enters the stage once the re-read order is there. Saleor refusing a step abandons the move with
its message and the order stays where it was; Saleor unreachable is retried by the job. Echo webhooks of the
plan's own mutations pass through intermediate stages without running their rules (`moving_to`).
"""

from __future__ import annotations

from typing import Any

from saleor_app.domain.automation import OrderRecord
from saleor_app.domain.errors import PermanentError, RetryableError, SaleorRefusal, SkipJob
from saleor_app.domain.installations import Installation
from saleor_app.domain.pipeline import Stage, resolve_stage
from saleor_app.domain.ports import AutomationStore, Clock, GatewayFor, OrderGateway
from saleor_app.domain.writeback import Action, Goal, NoPlan, Step, awaiting_approval, goal, plan
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
        except NoPlan as exc:
            raise PermanentError(f"move to {stage.name} abandoned: {exc}") from exc
        if steps:
            snapshot = await self._run_plan(gateway, order, stage, steps)
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

    async def _run_plan(
        self, gateway: OrderGateway, order: OrderRecord, stage: Stage, steps: list[Step]
    ) -> dict[str, Any]:
        async with self._store.transaction() as tx:
            await tx.set_moving(order.id, stage.key, self._clock.now())
        for step in steps:
            try:
                await _run_step(gateway, order.order_id, step)
            except SaleorRefusal as exc:
                async with self._store.transaction() as tx:
                    await tx.set_moving(order.id, None, self._clock.now())
                raise PermanentError(f"move to {stage.name} abandoned ({step.describe()}): {exc}") from exc
        fresh = await gateway.get_order(order.order_id)
        if fresh is None:
            raise SkipJob("the order no longer exists in Saleor")
        return fresh


async def _run_step(gateway: OrderGateway, order_id: str, step: Step) -> None:
    if step.action is Action.CONFIRM:
        await gateway.confirm(order_id)
    elif step.action is Action.MARK_PAID:
        await gateway.mark_as_paid(order_id)
    elif step.action is Action.FULFILL:
        await gateway.fulfill(order_id, list(step.lines), notify_customer=True)
    else:
        await gateway.cancel(order_id)
