"""Migrated, empty databases for tests, made fast: each test process migrates once and copies the result per test.

Running every migration for each of the suite's ~550 database tests cost more than a minute of CPU on a quiet
machine and several on a loaded one. A copy is the same database: SQLite's is taken with the backup API, and
PostgreSQL's is the template schema's own dump (`pg_dump`, schema and rows) replayed under a new name. Where
`pg_dump` is missing or cannot read the server, each test migrates its own schema as before.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path

import psycopg

from saleor_app.store.migrate import upgrade


def schema_url(server_url: str, schema: str) -> str:
    separator = "&" if "?" in server_url else "?"
    return f"{server_url}{separator}options=-csearch_path%3D{schema}"


class MigratedDatabases:
    def __init__(self, directory: Path, postgres_url: str) -> None:
        self._directory = directory
        self._postgres_url = postgres_url
        self._sqlite_template: Path | None = None
        self._pg_template: str | None = None
        self._pg_dump: str | None = None  # the template's SQL with its name as a placeholder; None: migrate

    # -- SQLite ----------------------------------------------------------------------------------------------------

    def sqlite(self, target: Path) -> str:
        """A migrated database file at `target`."""
        if self._sqlite_template is None:
            template = self._directory / "template.db"
            upgrade(f"sqlite:///{template}")
            self._sqlite_template = template
        source, copy = sqlite3.connect(self._sqlite_template), sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            source.close()
            copy.close()
        return f"sqlite:///{target}"

    # -- PostgreSQL ------------------------------------------------------------------------------------------------

    def postgres_schema(self) -> str:
        """A new migrated schema's name (drop it with `drop_schema`)."""
        schema = f"t_{uuid.uuid4().hex[:12]}"
        dump = self._template_dump()
        with psycopg.connect(self._postgres_url, autocommit=True) as connection:
            if dump is None:
                connection.execute(f'CREATE SCHEMA "{schema}"')
            else:
                connection.execute(dump.replace(self._placeholder, schema))
        if dump is None:
            upgrade(schema_url(self._postgres_url, schema))
        return schema

    def drop_schema(self, schema: str) -> None:
        with psycopg.connect(self._postgres_url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')

    def close(self) -> None:
        if self._pg_template is not None:
            self.drop_schema(self._pg_template)
            self._pg_template = None

    @property
    def _placeholder(self) -> str:
        assert self._pg_template is not None
        return self._pg_template

    def _template_dump(self) -> str | None:
        if self._pg_template is not None:
            return self._pg_dump
        self._pg_template = f"tmpl_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self._postgres_url, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{self._pg_template}"')
        upgrade(schema_url(self._postgres_url, self._pg_template))
        self._pg_dump = self._dump(self._pg_template)
        return self._pg_dump

    def _dump(self, schema: str) -> str | None:
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            return None
        dumped = subprocess.run([pg_dump, "--no-owner", "--no-privileges", "--inserts", "--schema", schema,
                                 "--dbname", self._postgres_url], capture_output=True, text=True, check=False)
        if dumped.returncode != 0:  # e.g. a pg_dump older than the server: migrate each schema instead
            return None
        # psql's backslash commands (\restrict in newer dumps) are not SQL; the rest runs as one simple query.
        return "\n".join(line for line in dumped.stdout.splitlines() if not line.startswith("\\"))
