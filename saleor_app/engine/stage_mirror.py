"""Mirror an order's stage into Saleor's private metadata (`order-automation.stage`) so staff can see and filter it.

Called after every re-read that resolved a stage and after every move, from several places at once (runner
rounds and their follow-ups, Celery workers, a Dashboard request): the decision is the pure `decide_mirror`, and
a write is claimed in the database first (compare and set), so one stage change is written once and one write per
order is in flight. Whoever finds a write under way leaves the order to its writer, which looks again once Saleor
has answered and writes the stage the order has moved on to meanwhile. Self-healing rather than transactional: a
failed write gives its claim back and the next event for the order tries again.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from saleor_app.domain.automation import OrderRecord
from saleor_app.domain.errors import AutomationError
from saleor_app.domain.pipeline import PRIVATE_METADATA_STAGE_KEY
from saleor_app.domain.ports import AutomationStore, Clock, OrderGateway
from saleor_app.domain.stage_mirror import MirrorAction, MirrorRecord, decide_mirror, held_stage

log = logging.getLogger(__name__)

# Writes in a row by one caller, each because the order changed stage while the previous one was in flight.
_MOST_WRITES = 5


async def mirror_stage(store: AutomationStore, gateway: OrderGateway, clock: Clock, installation_id: int,
                       order_id: str) -> MirrorAction | None:
    """Write the stage the order is in now (not when this was queued: an older follow-up must not write an older
    stage over a newer one) if `decide_mirror` says so; returns the last decision (None: nothing to mirror, or
    another writer claimed it first)."""
    answered: str | None = None  # what Saleor answered our write with: fresher than the stored snapshot
    action: MirrorAction | None = None
    for _ in range(_MOST_WRITES):
        async with store.reading() as tx:
            order = await tx.order(installation_id, order_id)
            entry = await tx.open_entry(order.id) if order is not None else None
        if order is None or entry is None or order.stage_key != entry.stage_key or order.moving_to is not None:
            return None  # no stage yet, or a write-back plan under way: its move mirrors the final stage itself
        held = answered if answered is not None else held_stage(order.snapshot)
        decision = decide_mirror(entry.stage_key, entry.id, held, order.mirror, clock.now())
        extra = {"installation_id": installation_id, "order_id": order_id, "stage": entry.stage_key, "held": held}
        action = decision.action
        if decision.record is not None and not await _claim(store, order.id, order.mirror, decision.record):
            log.debug("stage mirror: another writer got there first", extra=extra)
            return None
        if action is MirrorAction.LEFT:
            log.debug("stage mirror: Saleor holds another value and ours was written for this stage change; left "
                      "alone", extra=extra)
        if action is not MirrorAction.WRITE:
            return action
        assert decision.record is not None
        answered = await _write(store, gateway, order, decision.record, extra)
        if answered is None:
            return action
    return action


async def _claim(store: AutomationStore, order_row_id: int, expected: MirrorRecord, record: MirrorRecord) -> bool:
    async with store.transaction() as tx:
        return await tx.claim_mirror(order_row_id, expected, record)


async def _write(store: AutomationStore, gateway: OrderGateway, order: OrderRecord, claim: MirrorRecord,
                 extra: dict[str, Any]) -> str | None:
    """Send the claimed write; returns the value Saleor then holds, None when the write failed."""
    stage_key = claim.value or ""
    try:
        payload = await gateway.update_private_metadata(order.order_id, {PRIVATE_METADATA_STAGE_KEY: stage_key})
    except AutomationError as exc:
        log.warning("could not mirror the stage into Saleor", extra={**extra, "reason": str(exc)})
        await _claim(store, order.id, claim, order.mirror)  # given back: the next event for the order tries again
        return None
    log.debug("stage mirrored into Saleor", extra=extra)
    await _claim(store, order.id, claim, replace(claim, pending_since=None))
    item = payload.get("item")
    return held_stage(item) if isinstance(item, dict) and held_stage(item) is not None else stage_key
