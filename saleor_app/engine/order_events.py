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
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

from saleor_app.domain.automation import Activity
from saleor_app.domain.errors import AppAccessLost, RetryableError
from saleor_app.domain.installations import InstallationStatus
from saleor_app.domain.pipeline import resolve_stage
from saleor_app.domain.ports import AutomationStore, Clock, GatewayFor, InboxItem, InstallationRepository
from saleor_app.engine.stages import enter_stage, mirror_stage

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
        self._installations = installations
        self._gateways = gateways
        self._clock = clock
        self._not_before: dict[tuple[int, str], datetime] = {}  # orders whose re-read failed: back off
        self._followups: list[Coroutine[Any, Any, None]] = []

    def take_ready(self) -> list[int]:
        """Jobs claimed with their stage move: the runner executes them without claiming them again."""
        ready, self._ready = self._ready, []
        return ready

    def take_followups(self) -> list[Coroutine[Any, Any, None]]:
        """Work that must not delay the jobs just planned (mirroring the stage into Saleor): the runner runs it."""
        followups, self._followups = self._followups, []
        return followups

    async def run_once(self, limit: int = 200) -> int:
        """Handle pending deliveries; returns how many were finished."""
        items = await self._store.pending_inbox(limit)
        groups: dict[tuple[int, str | None], list[InboxItem]] = defaultdict(list)
        for item in items:
            groups[(item.installation_id, item.order_id)].append(item)
        finished = 0
        for (installation_id, order_id), group in groups.items():
            finished += await self._handle(installation_id, order_id, group)
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
        self._not_before.pop((installation_id, order_id), None)
        read_at = self._clock.now()
        async with self._store.transaction() as tx:
            if snapshot is None:
                await tx.finish_inbox(ids, read_at, state="ignored")
                log.info("order not found in Saleor; deliveries ignored", extra=extra)
                return len(ids)
            if snapshot.get("status") == "DRAFT":
                await tx.finish_inbox(ids, read_at, state="ignored")
                return len(ids)
            existing = await tx.order(installation_id, order_id)
            pipeline = await tx.pipeline(installation_id)
            order = await tx.save_order(installation_id, order_id, snapshot, read_at)
            target = resolve_stage(pipeline, snapshot, existing.stage_key if existing else order.stage_key)
            events = ", ".join(sorted({item.event for item in items}))
            if target is None:
                await tx.log(Activity(installation_id, "order", f"{events}: no stage matches status "
                                      f"{snapshot.get('status')}", order_row_id=order.id), read_at)
            else:
                adopted = existing is None and _created_before(snapshot, installation.installed_at)
                if await enter_stage(tx, self._clock, order, target, reason=f"Saleor: {events}", adopted=adopted):
                    self._ready += await tx.claim_order_jobs(order.id, read_at, self._lease)
            await tx.finish_inbox(ids, read_at)
        if target is not None:
            self._followups.append(mirror_stage(gateway, order_id, snapshot, target))
        return len(ids)


def _created_before(snapshot: dict[str, object], moment: datetime) -> bool:
    created = snapshot.get("created")
    if not isinstance(created, str):
        return False
    try:
        return datetime.fromisoformat(created) < moment
    except ValueError:
        return False
