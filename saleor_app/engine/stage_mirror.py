"""Mirror an order's stage into Saleor's private metadata (`order-automation.stage`) so staff can see and filter it.

Called after every re-read that resolved a stage and after every move, from several places at once (runner
rounds and their follow-ups, Celery workers, a Dashboard request): the decision is the pure `decide_mirror`, and
a write is claimed in the database first (compare and set), so one stage change is written once. Self-healing
rather than transactional: a failed write gives its claim back and the next event for the order tries again.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from saleor_app.domain.errors import AutomationError
from saleor_app.domain.pipeline import PRIVATE_METADATA_STAGE_KEY
from saleor_app.domain.ports import AutomationStore, Clock, OrderGateway
from saleor_app.domain.stage_mirror import MirrorAction, decide_mirror, held_stage

log = logging.getLogger(__name__)


async def mirror_stage(store: AutomationStore, gateway: OrderGateway, clock: Clock, installation_id: int,
                       order_id: str) -> MirrorAction | None:
    """Write the stage the order is in now (not when this was queued: an older follow-up must not write an older
    stage over a newer one) if `decide_mirror` says so; returns what was decided (None: nothing to mirror)."""
    async with store.reading() as tx:
        order = await tx.order(installation_id, order_id)
        entry = await tx.open_entry(order.id) if order is not None else None
    if order is None or entry is None or order.stage_key != entry.stage_key or order.moving_to is not None:
        return None  # no stage yet, or a write-back plan under way: its move mirrors the final stage itself
    decision = decide_mirror(entry.stage_key, entry.id, held_stage(order.snapshot), order.mirror, clock.now())
    extra = {"installation_id": installation_id, "order_id": order_id, "stage": entry.stage_key}
    if decision.record is not None:
        async with store.transaction() as tx:
            if not await tx.claim_mirror(order.id, order.mirror, decision.record):
                log.debug("stage mirror: another writer got there first", extra=extra)
                return None
    if decision.action is not MirrorAction.WRITE:
        if decision.action is MirrorAction.LEFT:
            log.debug("stage mirror: Saleor holds another value, written by someone else since our write; left "
                      "alone", extra={**extra, "held": held_stage(order.snapshot)})
        return decision.action
    claim = decision.record
    assert claim is not None
    try:
        await gateway.update_private_metadata(order_id, {PRIVATE_METADATA_STAGE_KEY: entry.stage_key})
    except AutomationError as exc:
        log.warning("could not mirror the stage into Saleor", extra={**extra, "reason": str(exc)})
        async with store.transaction() as tx:  # the next event for the order tries again
            await tx.claim_mirror(order.id, claim, order.mirror)
        return decision.action
    log.debug("stage mirrored into Saleor", extra=extra)
    async with store.transaction() as tx:  # a re-read that saw our value may have settled it already
        await tx.claim_mirror(order.id, claim, replace(claim, pending_since=None))
    return decision.action
