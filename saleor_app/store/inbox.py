"""SqlWebhookInbox: durable webhook storage with group commit, on the driver's own connection.

Each webhook is acknowledged only after its row is committed. Through the async ORM a one-row transaction
costs about a millisecond (several thread hops and statement layers per row), which caps ingest far below what
the HTTP server can take. So the inbox owns one synchronous driver connection (sqlite3 or psycopg) in one
dedicated thread: the rows of concurrent deliveries are gathered and committed in one transaction, and every
request waits for the commit that carries its row. Without concurrency a batch is a single row, so latency
stays low. The SQL is the same for both databases. Measured figures: bench/ingest.py.

On SQLite the writer never checkpoints the WAL itself (a checkpoint fsyncs, and doing it inside a commit put
5–15 ms into the 99th percentile of webhook latency): a second thread with its own connection runs passive
checkpoints after every CHECKPOINT_EVERY_ROWS rows, beside the writer.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Protocol

import psycopg

from saleor_app.domain.errors import RetryableError
from saleor_app.domain.webhooks import DeliveryRefused, WebhookDelivery
from saleor_app.store.database import SQLITE_BUSY_TIMEOUT_MS, apply_sqlite_pragmas, sync_url

log = logging.getLogger(__name__)

MAX_BATCH = 512
# What the database says of a row it will not take (a value that does not fit its column, a NUL, a foreign key):
# that row's fault, not the batch's. Anything else (connection lost, disk full, locked) fails every row alike.
_ROW_REFUSED = (sqlite3.IntegrityError, sqlite3.DataError, psycopg.DataError, psycopg.IntegrityError)
CHECKPOINT_EVERY_ROWS = 1000
COLUMNS = ("installation_id", "event", "body_sha256", "body", "order_id", "issued_at", "self_caused",
           "parse_error", "state", "received_at")
_INSERT = (
    f"INSERT INTO webhook_inbox ({', '.join(COLUMNS)}) VALUES ({{placeholders}}) "
    "ON CONFLICT (installation_id, event, body_sha256) DO NOTHING RETURNING id"
)


@dataclass(slots=True)
class _Pending:
    row: tuple[Any, ...]
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class _Writer(Protocol):
    def write(self, rows: list[tuple[Any, ...]]) -> list[bool]: ...

    def checkpoint(self) -> None:
        """Housekeeping that must stay off the commit path; runs in its own thread."""
        ...

    def close(self) -> None: ...


class _SqliteWriter:
    def __init__(self, path: str) -> None:
        self._path = path
        self._sql = _INSERT.format(placeholders=", ".join("?" * len(COLUMNS)))
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self._path, isolation_level=None, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
            apply_sqlite_pragmas(connection)
            connection.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run beside, see the docstring
            self._connection = connection
        return self._connection

    def write(self, rows: list[tuple[Any, ...]]) -> list[bool]:
        connection = self._connect()
        # SQLite stores SQLAlchemy's DateTime as "YYYY-MM-DD HH:MM:SS.ffffff" (UTC here); write the same.
        rows = [(*row[:-1], row[-1].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")) for row in rows]
        connection.execute("BEGIN IMMEDIATE")
        try:
            inserted = [connection.execute(self._sql, row).fetchone() is not None for row in rows]
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return inserted

    def checkpoint(self) -> None:
        connection = sqlite3.connect(self._path, isolation_level=None, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _PostgresWriter:
    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._sql = _INSERT.format(placeholders=", ".join(["%s"] * len(COLUMNS)))
        self._connection: psycopg.Connection[Any] | None = None

    def write(self, rows: list[tuple[Any, ...]]) -> list[bool]:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(self._conninfo, connect_timeout=5)
        try:
            with self._connection.transaction(), self._connection.cursor() as cursor:
                cursor.executemany(self._sql, rows, returning=True)
                inserted = []
                while True:
                    inserted.append(cursor.fetchone() is not None)
                    if not cursor.nextset():
                        break
        except psycopg.OperationalError:
            self.close()  # reconnect on the next batch
            raise
        return inserted

    def checkpoint(self) -> None:
        """PostgreSQL checkpoints by itself."""

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _writer_for(database_url: str) -> _Writer:
    url = sync_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _SqliteWriter(url.database or ":memory:")
    return _PostgresWriter(url.set(drivername="postgresql").render_as_string(hide_password=False))


class SqlWebhookInbox:
    def __init__(self, database_url: str) -> None:
        self._writer = _writer_for(database_url)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-inbox")
        self._checkpoint_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-inbox-checkpoint")
        self._checkpoint: asyncio.Future[None] | None = None
        self._rows_since_checkpoint = 0
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def store(self, delivery: WebhookDelivery) -> bool:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write_forever(), name="webhook-inbox-writer")
        pending = _Pending(
            row=(
                delivery.installation_id,
                delivery.event,
                delivery.body_sha256,
                delivery.body,
                delivery.order_id,
                delivery.issued_at,
                delivery.self_caused,
                delivery.parse_error,
                "pending",
                delivery.received_at,
            )
        )
        await self._queue.put(pending)
        return await pending.done

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._checkpoint is not None:
            await asyncio.gather(self._checkpoint, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(self._thread, self._writer.close)
        self._thread.shutdown(wait=True)
        self._checkpoint_thread.shutdown(wait=True)

    async def _write_each(self, batch: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        for pending in batch:
            await _write_one(loop, self._thread, self._writer, pending)
        self._rows_since_checkpoint += len(batch)

    async def _write_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                inserted = await loop.run_in_executor(self._thread, self._writer.write, [p.row for p in batch])
            except _ROW_REFUSED:
                # One poison row must not cost its neighbours their acknowledgement: each in its own transaction.
                await self._write_each(batch)
                continue
            except Exception as exc:  # the database is down: every waiter answers 503
                log.warning("webhook inbox commit failed", extra={"error": repr(exc), "batch": len(batch)})
                error = RetryableError(f"the webhook could not be stored: {exc.__class__.__name__}")
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_exception(error)
                continue
            for pending, is_new in zip(batch, inserted, strict=True):
                if not pending.done.done():
                    pending.done.set_result(is_new)
            self._rows_since_checkpoint += len(batch)
            if self._rows_since_checkpoint >= CHECKPOINT_EVERY_ROWS and (
                self._checkpoint is None or self._checkpoint.done()
            ):
                self._rows_since_checkpoint = 0
                self._checkpoint = loop.run_in_executor(self._checkpoint_thread, self._writer.checkpoint)
                self._checkpoint.add_done_callback(_log_checkpoint_failure)


async def _write_one(loop: asyncio.AbstractEventLoop, thread: ThreadPoolExecutor, writer: _Writer,
                     pending: _Pending) -> None:
    try:
        [is_new] = await loop.run_in_executor(thread, writer.write, [pending.row])
    except _ROW_REFUSED as exc:
        outcome: BaseException = DeliveryRefused(f"the database refused this delivery ({exc.__class__.__name__})",
                                                 pending.row[4])
    except Exception as exc:
        outcome = RetryableError(f"the webhook could not be stored: {exc.__class__.__name__}")
    else:
        if not pending.done.done():
            pending.done.set_result(is_new)
        return
    if not pending.done.done():
        pending.done.set_exception(outcome)


def _log_checkpoint_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("WAL checkpoint failed; retried after more writes", extra={"error": repr(future.exception())})
