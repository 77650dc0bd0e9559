"""Keep the stored snapshot in step after the app changed an order itself, so the next rule of a chain sees it
(`{{ automation.number }}`, `{{ responsible.name }}`) without waiting for the echo webhook."""

from __future__ import annotations

from saleor_app.domain.automation import OrderRecord
from saleor_app.domain.errors import AutomationError
from saleor_app.domain.ports import AutomationStore, Clock, OrderGateway


async def refresh_order(store: AutomationStore, gateway: OrderGateway, order: OrderRecord, clock: Clock) -> None:
    """Re-read the order and store it. Best effort: the action already happened, and the echo webhook brings
    the same snapshot anyway."""
    try:
        snapshot = await gateway.get_order(order.order_id)
    except AutomationError:
        return
    if snapshot is None:
        return
    async with store.transaction() as tx:
        await tx.save_order(order.installation_id, order.order_id, snapshot, clock.now())
