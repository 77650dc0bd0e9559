"""Scale-out settings: JOB_RUNNER=celery needs a broker and PostgreSQL, and says so; pool options per database."""

from __future__ import annotations

import pytest

from saleor_app.scale_out import pool_options
from saleor_app.settings import Settings

PG = "postgresql://app@db:5432/app"


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_celery_needs_a_broker_url() -> None:
    with pytest.raises(ValueError, match="JOB_RUNNER=celery needs CELERY_BROKER_URL"):
        make(job_runner="celery", database_url=PG)


def test_celery_needs_postgresql() -> None:
    with pytest.raises(ValueError, match="needs PostgreSQL"):
        make(job_runner="celery", celery_broker_url="redis://localhost:6379/0", database_url="sqlite:///x.db")


def test_unknown_runner_is_refused() -> None:
    with pytest.raises(ValueError, match="job_runner"):
        make(job_runner="threads")


def test_pool_options_apply_to_postgresql_only() -> None:
    settings = make(job_runner="celery", celery_broker_url="amqp://guest:guest@localhost:5672//", database_url=PG,
                    database_pool_size=20, database_max_overflow=5)
    assert pool_options(settings) == {"pool_size": 20, "max_overflow": 5, "pool_timeout": 30.0, "pool_recycle": 1800.0}
    assert pool_options(make(database_url="sqlite:///x.db")) == {}


def test_worker_and_dispatch_commands_refuse_without_the_celery_runner(monkeypatch, restore_logging) -> None:
    from tests.cli_runs import invoke

    monkeypatch.setenv("JOB_RUNNER", "inprocess")
    for command in ("worker", "dispatch"):
        result = invoke([command])
        assert result.exit_code == 2
        assert "needs JOB_RUNNER=celery" in result.output
