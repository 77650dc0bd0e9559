"""The migrations build exactly the tables the code declares, on SQLite and on PostgreSQL, and go back down."""

from __future__ import annotations

import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from saleor_app.store.database import sync_url
from saleor_app.store.migrate import downgrade, upgrade
from saleor_app.store.tables import metadata
from tests.timing import scaled


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    finally:
        engine.dispose()


def test_migrations_go_down_to_nothing_and_up_again(database_url: str) -> None:
    downgrade(database_url, "base")
    engine = create_engine(sync_url(database_url))
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(database_url)
        assert "triggers" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_replicas_migrating_at_once_take_turns(database_url: str) -> None:
    """Several `serve` replicas starting together each run `migrate`: an advisory lock makes them take turns."""
    if not database_url.startswith("postgresql"):
        return  # SQLite is one process's file: the embedded default has no replicas
    downgrade(database_url, "base")
    code = f"from saleor_app.store.migrate import upgrade; upgrade({database_url!r})"
    replicas = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        outcomes = [(replica.communicate(timeout=scaled(120))[1], replica.returncode) for replica in replicas]
    finally:  # none outlives the test, even one that hangs
        for replica in replicas:
            if replica.poll() is None:
                replica.kill()
                replica.communicate()
    assert [code for _, code in outcomes] == [0, 0, 0], outcomes  # without the lock they race on CREATE TABLE
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    finally:
        engine.dispose()
