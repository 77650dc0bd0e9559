"""Before a command changes anything: the database reachable (and migrated) and the encryption key the one its
secrets were written with. Each operator mistake becomes one short message instead of a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from saleor_app.settings import Settings
from saleor_app.store.database import sync_url

KEY_FILE = "encryption.key"
CONNECT_TIMEOUT_SECONDS = 5


class NotReady(Exception):
    """The command cannot start: the message says what is wrong and what to do."""


def shown(url: URL) -> str:
    """A database URL as messages and logs show it: never its password."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def driver_reason(error: DBAPIError) -> str:
    """The first line of a driver's error (psycopg's spans several; the first says it all)."""
    lines = [line.strip() for line in str(error.orig).splitlines() if line.strip()]
    return lines[0] if lines else type(error.orig).__name__


def database_problem(error: DBAPIError, url: URL | None = None) -> str:
    reason = driver_reason(error)
    where = f" at {shown(url)}" if url is not None else ""
    if "does not exist" in reason and "database" in reason:
        hint = f"Create it (createdb {url.database if url else ''}) or correct DATABASE_URL."
    else:
        hint = "Check DATABASE_URL and that the database server is running."
    return f"Cannot use the database{where}: {reason}\n{hint}"


@contextmanager
def connected(settings: Settings, *, create: bool) -> Iterator[Connection]:
    """A short-lived connection; with `create=False` a missing SQLite file is refused, never created."""
    url = sync_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database).expanduser().absolute()
        if not create and not path.exists():
            raise NotReady(f"No database at {path}: it is created by `saleor-automation migrate` (or `serve`). "
                           "Run this command where the app runs, or set DATA_DIR or DATABASE_URL to its database.")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
    arguments = {"connect_timeout": CONNECT_TIMEOUT_SECONDS} if url.get_backend_name() == "postgresql" else {}
    engine = create_engine(url, poolclass=NullPool, connect_args=arguments)
    try:
        with engine.connect() as connection:
            yield connection
    except DBAPIError as exc:
        raise NotReady(database_problem(exc, url)) from None
    finally:
        engine.dispose()


def check_reachable(settings: Settings, *, create: bool) -> None:
    with connected(settings, create=create) as connection:
        connection.execute(text("SELECT 1"))


def check_migrated(settings: Settings) -> None:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from saleor_app.store.migrate import alembic_config

    heads = set(ScriptDirectory.from_config(alembic_config(settings.database_url)).get_heads())
    with connected(settings, create=False) as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        url = shown(sync_url(settings.database_url))
        state = "is not migrated" if not current else "is at another version than this app"
        raise NotReady(f"The database at {url} {state}: run `saleor-automation migrate` first.")


def key_in_use(settings: Settings) -> str:
    """Where the encryption keys come from, refusing keys that cannot read the stored secrets. The dev key file is
    never created beside a database whose secrets were written with another key."""
    if settings.encryption_keys:
        keys, source = list(settings.encryption_keys), f"ENCRYPTION_KEYS ({_count(len(settings.encryption_keys))})"
    else:
        path = settings.data_dir / KEY_FILE
        keys = [path.read_text().strip()] if path.exists() else []
        source = str(path) if keys else f"{path} (created now)"
    with connected(settings, create=False) as connection:
        stored = _stored_secrets(connection)
    url = shown(sync_url(settings.database_url))
    if not keys and stored is not None:
        raise NotReady(f"The database at {url} holds secrets encrypted with a key that is not here "
                       f"({settings.data_dir / KEY_FILE} is missing): restore that file, or set ENCRYPTION_KEYS to "
                       "the key they were written with.")
    if keys and stored:
        try:
            MultiFernet([Fernet(key.encode()) for key in keys]).decrypt(stored.encode())
        except (InvalidToken, ValueError):
            raise NotReady(f"The secrets in the database at {url} were encrypted with another key than {source}: "
                           "use the key they were written with (ENCRYPTION_KEYS may list several).") from None
    return source


def _stored_secrets(connection: Connection) -> str | None:
    """An app token the database holds ("" when it only has installations without one); None: no installation."""
    if not inspect(connection).has_table("installations"):
        return None
    rows = connection.execute(text("SELECT token_encrypted FROM installations "
                                   "ORDER BY token_encrypted IS NULL, id LIMIT 1")).all()
    if not rows:
        return None
    return rows[0][0] or ""


def _count(keys: int) -> str:
    return "1 key" if keys == 1 else f"{keys} keys"
