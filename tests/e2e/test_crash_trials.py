"""Seeded crash trials (tests/e2e/crash_trial.py): the process running SMS and email jobs is SIGKILLed while sends
are in flight and restarted. Nothing is lost or sent twice; once the restarted process is at rest a job is
`unknown` only if it had handed its message to the provider, and each unknown job is in the activity log and the
failure alerts; reconciliation then leaves no more unknown jobs than the provider requests in flight at the kill
(here none stay: the fakes keep every request they received, so each is found or found missing). At rest the
unknown jobs may be more than those in flight: a kill also lands between the hand-over and the request's arrival,
or between the provider's answer and the app recording it, and only the provider can tell. bench/crash.py runs
more trials and prints all of these figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from saleor_app.settings import Settings
from tests.databases import MigratedDatabases
from tests.e2e.celery_stack import BROKERS, celery_settings, delete_queue, require_broker
from tests.e2e.crash_trial import fresh_database, run_trial

SEEDS = (1, 2)


async def check(settings: Settings, migrated: MigratedDatabases, tmp_path: Path) -> None:
    for seed in SEEDS:
        with fresh_database(settings, migrated, tmp_path) as fresh:
            trial = await run_trial(fresh, seed)
        assert trial.duplicates == 0 and trial.lost == 0, trial
        assert trial.unmarked == [], trial  # every unknown job had handed its message over
        assert trial.unexplained == [], trial
        assert trial.unknown <= trial.in_flight, trial


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
async def test_the_serving_process_killed_mid_send(settings: Settings, migrated: MigratedDatabases,
                                                   tmp_path: Path) -> None:
    await check(settings, migrated, tmp_path)


@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_a_celery_worker_killed_mid_send(settings: Settings, migrated: MigratedDatabases,
                                               tmp_path: Path) -> None:
    require_broker(BROKERS["rabbitmq"])  # it hands a killed worker's messages back at once
    settings = celery_settings(settings, BROKERS["rabbitmq"], dispatch_resend_seconds=3.0)
    try:
        await check(settings, migrated, tmp_path)
    finally:
        delete_queue(settings)
