"""Alembic environment: migrations run on a synchronous connection (sqlite3 or psycopg)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, event, pool

from saleor_app.store.database import apply_sqlite_pragmas
from saleor_app.store.tables import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url is not None
engine = create_engine(url, poolclass=pool.NullPool)
if engine.dialect.name == "sqlite":
    event.listen(engine, "connect", apply_sqlite_pragmas)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
