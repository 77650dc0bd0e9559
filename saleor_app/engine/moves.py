"""Moves asked for by a rule or a person (not by Saleor's state): into a custom stage, checked, with its rules."""

from __future__ import annotations

from saleor_app.domain.automation import OrderRecord
from saleor_app.domain.errors import PermanentError
from saleor_app.domain.installations import Installation
from saleor_app.domain.ports import AutomationStore, Clock
from saleor_app.engine.stages import enter_stage


class MoveOrder:
    def __init__(self, store: AutomationStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def __call__(self, installation: Installation, order: OrderRecord, stage_key: str, reason: str) -> str:
        async with self._store.transaction() as tx:
            stage = (await tx.pipeline(installation.id)).stage(stage_key)
            if stage is None:
                raise PermanentError(f"there is no stage {stage_key!r} (it may have been deleted)")
            if not stage.match.custom:
                raise PermanentError(
                    f"{stage.name} follows Saleor's order status; moving an order there needs Saleor to change "
                    "the order (write-back), which this rule kind cannot do yet"
                )
            current = await tx.order_by_row(order.id) or order
            if not stage.match.holds(current.snapshot):
                allowed = ", ".join(sorted(stage.match.statuses))
                raise PermanentError(f"{stage.name} allows orders in status {allowed}; this order is "
                                     f"{current.snapshot.get('status')}")
            entry = await enter_stage(tx, self._clock, current, stage_key, reason=reason)
        return f"already in {stage.name}" if entry is None else f"moved to {stage.name}"
