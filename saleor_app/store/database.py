"""Database URLs and engines for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 5000


def async_url(raw: str) -> URL:
    """Accept the spellings people use and pick the async driver we ship."""
    url = make_url(_normalise_scheme(raw))
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    raise ValueError(f"DATABASE_URL must be sqlite:///… or postgresql://…, got {url.get_backend_name()!r}")


def sync_url(raw: str) -> URL:
    """The same database through a synchronous driver (Alembic migrations)."""
    url = async_url(raw)
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite")
    return url  # psycopg 3 is both sync and async


def _normalise_scheme(raw: str) -> str:
    if raw.startswith("postgres://"):
        return "postgresql://" + raw.removeprefix("postgres://")
    return raw


def ensure_sqlite_directory(url: URL) -> None:
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def create_engine(raw: str, **kwargs: Any) -> AsyncEngine:
    url = async_url(raw)
    ensure_sqlite_directory(url)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        event.listen(engine.sync_engine, "connect", apply_sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def apply_sqlite_pragmas(dbapi_connection: Any, _record: Any = None) -> None:
    # WAL lets readers work while the webhook writer commits; NORMAL sync is durable across app crashes
    # (only a power loss can drop the last commits); foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands DateTime(timezone=True) back naive; every time the app stores is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
