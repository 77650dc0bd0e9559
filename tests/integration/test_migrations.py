"""The migrations build exactly the tables the code declares, on SQLite and on PostgreSQL, and go back down."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from saleor_app.store.database import sync_url
from saleor_app.store.migrate import downgrade, upgrade
from saleor_app.store.tables import metadata


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
