"""SqlCatchUpStore: the catch-up poller's checkpoints, and the reads of known orders it compares with Saleor.

Every write is one upsert statement on the tiny `catch_up` table (no read in the same transaction), so SQLite
needs no lock of ours: its busy timeout covers the rare overlap with the engine's writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from saleor_app.domain.catchup import FINISHED_STATUSES, CatchUpState, KnownOrder
from saleor_app.store.database import aware
from saleor_app.store.tables import CatchUpRow, OrderRow

CATCH_UP = CatchUpRow.__table__  # type: ignore[attr-defined]
ORDERS = OrderRow.__table__  # type: ignore[attr-defined]
MAX_ERROR_LENGTH = 1000


class SqlCatchUpStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def state(self, installation_id: int) -> CatchUpState | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(select(CATCH_UP).where(CATCH_UP.c.installation_id == installation_id))
            ).mappings().first()
        if row is None:
            return None
        return CatchUpState(installation_id=installation_id, updated_since=aware(row["updated_since"]),
                            last_run_at=aware(row["last_run_at"]), last_recheck_at=aware(row["last_recheck_at"]),
                            last_error=row["last_error"])

    async def save_scan(self, installation_id: int, updated_since: datetime, at: datetime) -> None:
        # Never backwards: two processes polling the same installation may finish out of order.
        await self._upsert(installation_id, {"updated_since": updated_since, "last_run_at": at, "last_error": None},
                           keep_newer="updated_since")

    async def save_recheck(self, installation_id: int, at: datetime) -> None:
        await self._upsert(installation_id, {"last_recheck_at": at})

    async def record_error(self, installation_id: int, error: str, at: datetime) -> None:
        await self._upsert(installation_id, {"last_run_at": at, "last_error": error[:MAX_ERROR_LENGTH]})

    async def snapshots(self, installation_id: int, order_ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        if not order_ids:
            return {}
        statement = select(ORDERS.c.order_id, ORDERS.c.snapshot).where(
            ORDERS.c.installation_id == installation_id, ORDERS.c.order_id.in_(list(order_ids)))
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return {order_id: dict(snapshot or {}) for order_id, snapshot in rows}

    async def unfinished_orders(self, installation_id: int, after_row_id: int, limit: int) -> list[KnownOrder]:
        status = ORDERS.c.snapshot["status"].as_string()  # JSON_EXTRACT on SQLite, ->> on PostgreSQL
        statement = (
            select(ORDERS.c.id, ORDERS.c.order_id, ORDERS.c.snapshot)
            .where(ORDERS.c.installation_id == installation_id, ORDERS.c.id > after_row_id,
                   status.is_not(None), status.not_in(sorted(FINISHED_STATUSES)))
            .order_by(ORDERS.c.id)
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [KnownOrder(row_id, order_id, dict(snapshot or {})) for row_id, order_id, snapshot in rows]

    async def _upsert(self, installation_id: int, values: dict[str, Any], *, keep_newer: str | None = None) -> None:
        # SQLite keeps DateTime as naive text: everything is written in UTC, so text order is time order.
        values = {name: value.astimezone(UTC) if isinstance(value, datetime) else value
                  for name, value in values.items()}
        async with self._engine.begin() as connection:
            builder = sqlite.insert if connection.dialect.name == "sqlite" else postgresql.insert
            statement = builder(CATCH_UP).values(installation_id=installation_id, **values)
            changes: dict[str, Any] = {name: statement.excluded[name] for name in values}
            if keep_newer is not None:
                column, new = CATCH_UP.c[keep_newer], statement.excluded[keep_newer]
                changes[keep_newer] = case((column.is_not(None) & (column > new), column), else_=new)
            await connection.execute(statement.on_conflict_do_update(index_elements=["installation_id"],
                                                                     set_=changes))
