"""SqlWebhookInbox: durable webhook storage with group commit.

Each webhook is acknowledged only after its row is committed. Committing row by row caps SQLite at a few
thousand commits a second, so concurrent deliveries are gathered into one transaction: every request waits
for the commit that carries its row (a batch of one when there is no concurrency, so latency stays low).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from saleor_app.domain.errors import RetryableError
from saleor_app.domain.webhooks import WebhookDelivery
from saleor_app.store.tables import WebhookInboxRow

log = logging.getLogger(__name__)

MAX_BATCH = 256


@dataclass(slots=True)
class _Pending:
    values: dict[str, object]
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class SqlWebhookInbox:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        table = WebhookInboxRow.__table__  # type: ignore[attr-defined]
        dialect = engine.dialect.name
        builder = sqlite.insert if dialect == "sqlite" else postgresql.insert
        self._statement = (
            builder(table)
            .on_conflict_do_nothing(index_elements=["installation_id", "event", "body_sha256"])
            .returning(table.c.installation_id, table.c.event, table.c.body_sha256)
        )

    async def store(self, delivery: WebhookDelivery) -> bool:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_forever(), name="webhook-inbox-writer")
        pending = _Pending(
            values={
                "installation_id": delivery.installation_id,
                "event": delivery.event,
                "body_sha256": delivery.body_sha256,
                "body": delivery.body,
                "order_id": delivery.order_id,
                "issued_at": delivery.issued_at,
                "self_caused": delivery.self_caused,
                "parse_error": delivery.parse_error,
                "state": "pending",
                "received_at": delivery.received_at,
            }
        )
        await self._queue.put(pending)
        return await pending.done

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            try:
                await self._writer
            except asyncio.CancelledError:
                pass
            self._writer = None

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            inserted = await self._insert(batch)
        except Exception as exc:  # the database is down or refused: every waiter answers 503
            log.warning("webhook inbox commit failed", extra={"error": repr(exc), "batch": len(batch)})
            error = RetryableError(f"the webhook could not be stored: {exc.__class__.__name__}")
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(error)
            return
        for pending in batch:
            values = pending.values
            key = (values["installation_id"], values["event"], values["body_sha256"])
            if not pending.done.done():
                pending.done.set_result(key in inserted)
                inserted.discard(key)

    async def _insert(self, batch: list[_Pending]) -> set[tuple[object, ...]]:
        # One statement per row inside one transaction: RETURNING tells new rows from duplicates.
        new: set[tuple[object, ...]] = set()
        async with self._engine.begin() as connection:
            for pending in batch:
                result = await connection.execute(self._statement, pending.values)
                row = result.first()
                if row is not None:
                    new.add((row[0], row[1], row[2]))
        return new
