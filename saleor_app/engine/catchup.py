"""The catch-up poller: finds order changes whose webhooks were lost and stores them as deliveries for the engine.

Saleor retries a webhook for about five minutes, then drops it, so an outage longer than that would lose events.
Per installation the poller asks Saleor for the orders changed since its checkpoint (a light view), compares each
with the app's snapshot and, where they differ, stores a `caught_up` delivery: "order X changed". The engine then
re-reads the order and handles it like the webhook that was lost (stage, inferred events), and the activity log
says `caught_up`. The poller never moves an order itself.

Saleor's `updatedAt` is not monotonic (a commit can land after a later-stamped one is visible), so each scan
starts `overlap` before the checkpoint; and an expiry or a new tracking number does not bump it at all, so every
`recheck_every` the app's known unfinished orders are re-read by id as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from saleor_app.domain.catchup import CatchUpState, CatchUpStore, caught_up_body, differences, saleor_time
from saleor_app.domain.errors import AutomationError, PermanentError
from saleor_app.domain.installations import Installation
from saleor_app.domain.ports import Clock, GatewayFor, InstallationRepository, OrderGateway, WebhookInbox
from saleor_app.domain.webhooks import CAUGHT_UP_EVENT, triage

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # Saleor's maximum page


class CatchUp:
    def __init__(
        self,
        store: CatchUpStore,
        installations: InstallationRepository,
        gateways: GatewayFor,
        inbox: WebhookInbox,
        clock: Clock,
        *,
        overlap: timedelta = timedelta(seconds=120),
        recheck_every: timedelta | None = timedelta(seconds=900),
        on_stored: Callable[[], None] | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._store = store
        self._installations = installations
        self._gateways = gateways
        self._inbox = inbox
        self._clock = clock
        self._overlap = overlap
        self._recheck_every = recheck_every  # None: no re-check
        self._on_stored = on_stored  # wakes the worker, as a stored webhook does
        self._page_size = min(page_size, PAGE_SIZE)

    async def run_once(self) -> int:
        """One round over every active installation; returns how many deliveries were stored."""
        stored = 0
        for installation in await self._installations.list_active():
            try:
                stored += await self.run_installation(installation)
            except Exception:  # the database blinked: the next installation and the next round still run
                log.exception("catch-up failed", extra={"installation_id": installation.id})
        return stored

    async def run_installation(self, installation: Installation) -> int:
        """Scan the orders changed since the checkpoint and, when due, re-check the unfinished ones."""
        if not installation.is_active:
            return 0  # deactivated: Saleor refuses its token; uninstalled: nothing to catch up
        state = await self._store.state(installation.id)
        started = self._clock.now()
        since = state.updated_since if state is not None and state.updated_since is not None \
            else installation.installed_at  # orders changed before the install are adopted when they next change
        run = _Run(installation.id, self._inbox, started)
        try:
            gateway = await self._gateways(installation)
            newest = await self._scan(run, gateway, since - self._overlap)
            await self._store.save_scan(installation.id, max(since, newest or since), started)
            if self._recheck_due(state, started):
                await self._recheck(run, gateway)
                await self._store.save_recheck(installation.id, started)
        except Exception as exc:
            await self._failed(installation, exc, started)
        finally:
            if run.stored and self._on_stored is not None:
                self._on_stored()
        if run.stored:
            log.info("catch-up found orders changed without a webhook the app had handled",
                     extra={"installation_id": installation.id, "stored": run.stored, "orders": run.found})
        return run.stored

    async def _scan(self, run: _Run, gateway: OrderGateway, since: datetime) -> datetime | None:
        """Every page of orders changed at or after `since`; the largest `updatedAt` seen."""
        newest: datetime | None = None
        after: str | None = None
        while True:
            previous = after
            orders, after = await gateway.orders_updated_since(since, after=after, first=self._page_size)
            if after is not None and after == previous:
                raise PermanentError("Saleor answered the same page of changed orders twice; the scan stopped")
            stored = await self._store.snapshots(run.installation_id, [str(order.get("id")) for order in orders])
            for order in orders:
                await run.compare(stored.get(str(order.get("id"))), order)
                updated_at = saleor_time(order.get("updatedAt"))
                if updated_at is not None and (newest is None or updated_at > newest):
                    newest = updated_at
            if after is None or not orders:
                return newest

    async def _recheck(self, run: _Run, gateway: OrderGateway) -> None:
        after_row = 0
        while True:
            known = await self._store.unfinished_orders(run.installation_id, after_row, self._page_size)
            if not known:
                return
            current = {str(order.get("id")): order for order in await gateway.orders_by_ids(
                [order.order_id for order in known])}
            for order in known:
                found = current.get(order.order_id)
                if found is not None:  # deleted in Saleor: no webhook would have told the app either
                    await run.compare(order.snapshot, found, recheck=True)
            after_row = known[-1].row_id

    def _recheck_due(self, state: CatchUpState | None, now: datetime) -> bool:
        if self._recheck_every is None:
            return False
        last = state.last_recheck_at if state is not None else None
        return last is None or now - last >= self._recheck_every

    async def _failed(self, installation: Installation, exc: Exception, at: datetime) -> None:
        reason = str(exc) or exc.__class__.__name__
        extra = {"installation_id": installation.id, "reason": reason, "error": exc.__class__.__name__}
        message = "catch-up failed; its checkpoint is kept and the next round tries again"
        if isinstance(exc, AutomationError):  # Saleor down, the token refused, the inbox unavailable
            log.warning(message, extra=extra)
        else:
            log.error(message, extra=extra, exc_info=exc)
        await self._store.record_error(installation.id, reason, at)


class _Run:
    """One installation's round: compares, stores deliveries, counts."""

    def __init__(self, installation_id: int, inbox: WebhookInbox, now: datetime) -> None:
        self.installation_id = installation_id
        self.stored = 0
        self.found = 0
        self._seen: set[str] = set()  # found changed in this round already: the re-check does not store it again
        self._inbox = inbox
        self._now = now

    async def compare(self, stored: Mapping[str, Any] | None, current: Mapping[str, Any], *,
                      recheck: bool = False) -> None:
        order_id = current.get("id")
        if current.get("status") == "DRAFT" or not isinstance(order_id, str) or order_id in self._seen:
            return
        changed: Sequence[str] = differences(stored, current)
        if not changed:
            return
        self._seen.add(order_id)
        self.found += 1
        body = caught_up_body(current, recheck_at=self._now if recheck else None)
        if await self._inbox.store(triage(self.installation_id, CAUGHT_UP_EVENT, body, self._now)):
            self.stored += 1
            log.debug("order changed without a webhook", extra={"installation_id": self.installation_id,
                                                               "order_id": order_id, "changed": changed})
