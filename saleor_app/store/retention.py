"""Retention: old activity entries and handled webhook bodies are deleted in small batches.

Batches walk the primary key from the oldest row (both tables are appended in time order), so each one is an
index range scan that needs no index on the timestamp and holds its locks only briefly: the webhook writer and
the runners keep going while a big backlog is trimmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from saleor_app.store.tables import ActivityRow, WebhookInboxRow

ACTIVITY = ActivityRow.__table__  # type: ignore[attr-defined]
INBOX = WebhookInboxRow.__table__  # type: ignore[attr-defined]
BATCH = 5000


@dataclass(frozen=True, slots=True)
class Trimmed:
    activity: int
    inbox: int


class SqlRetention:
    def __init__(self, engine: AsyncEngine, *, batch: int = BATCH) -> None:
        self._engine = engine
        self._batch = batch

    async def trim(self, now: datetime, *, activity_days: int, inbox_days: int) -> Trimmed:
        """Delete activity older than `activity_days` and handled (not pending) inbox rows older than
        `inbox_days`; 0 keeps that table whole."""
        activity = inbox = 0
        if activity_days > 0:
            activity = await self._trim(ACTIVITY, ACTIVITY.c.at < now - timedelta(days=activity_days))
        if inbox_days > 0:
            inbox = await self._trim(INBOX, INBOX.c.received_at < now - timedelta(days=inbox_days),
                                     INBOX.c.state != "pending")
        return Trimmed(activity, inbox)

    async def _trim(self, table: Table, *old: Any) -> int:
        total = 0
        while True:
            oldest = select(table.c.id).where(*old).order_by(table.c.id).limit(self._batch)
            async with self._engine.begin() as connection:
                result = await connection.execute(delete(table).where(table.c.id.in_(oldest.scalar_subquery())))
            count = result.rowcount or 0
            total += count
            if count < self._batch:
                return total
