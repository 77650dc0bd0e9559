"""Alembic environment: migrations run on a synchronous connection (sqlite3 or psycopg)."""

from __future__ import annotations

import time

from alembic import context
from sqlalchemy import create_engine, event, pool, text

from saleor_app.store.database import apply_sqlite_pragmas
from saleor_app.store.tables import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url is not None
_MIGRATION_LOCK = 0x5A1E0A77  # PostgreSQL advisory lock: replicas starting at once migrate one after the other
engine = create_engine(url, poolclass=pool.NullPool)
if engine.dialect.name == "sqlite":
    event.listen(engine, "connect", apply_sqlite_pragmas)

with engine.connect() as connection:
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        # A session lock holds across the autocommit blocks of CONCURRENTLY index builds. It is polled, not
        # awaited: a session blocked in pg_advisory_lock keeps a snapshot open, and CREATE INDEX CONCURRENTLY
        # waits for every open snapshot, so the holder and the waiter would deadlock.
        while not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _MIGRATION_LOCK}).scalar():
            connection.commit()
            time.sleep(0.2)
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if postgres:
            connection.rollback()  # a failed migration leaves the transaction aborted; unlock needs a live one
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
            connection.commit()
engine.dispose()
