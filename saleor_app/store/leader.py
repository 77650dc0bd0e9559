"""One process at a time does a piece of work: a PostgreSQL session advisory lock on a connection kept open.

Several dispatchers share the due jobs (their claims skip each other's rows), but turning webhooks into moves is
done by one of them at a time: two processes re-reading the same order at once would race on its stage entry.
The lock is held as long as the holder's connection lives, so a killed dispatcher hands over within a round.
SQLite serves one process, which always leads.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

INBOX_LOCK = "saleor-automation:inbox"


class AdvisoryLeader:
    def __init__(self, engine: AsyncEngine, name: str = INBOX_LOCK) -> None:
        self._engine = engine
        self._name = name
        self._connection: AsyncConnection | None = None

    async def __call__(self) -> bool:
        """True while this process holds the lock (taken on the first call that finds it free)."""
        if self._engine.dialect.name != "postgresql":
            return True
        if self._connection is not None:
            try:
                await self._connection.execute(text("SELECT 1"))
                await self._connection.commit()  # never idle in a transaction
                return True
            except Exception:  # the connection died: so did the lock; try to take it again
                log.warning("lost the inbox lock's connection; taking the lock again")
                await self.release()
        connection = await self._engine.connect()
        try:
            # Keyed by schema too: apps sharing one database in different schemas do not lock each other out.
            taken = await connection.execute(
                text("SELECT pg_try_advisory_lock(hashtext(current_schema() || ':' || :name))"), {"name": self._name})
            if taken.scalar_one():
                await connection.commit()  # end the implicit transaction; the session lock stays
                self._connection = connection
                return True
        except Exception:
            await connection.close()
            raise
        await connection.close()
        return False

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                # The session must end to release its locks: a connection returned to the pool would keep them.
                await connection.invalidate()
            except Exception:
                log.debug("closing the lock's connection failed", exc_info=True)
