"""The engine's end-to-end tests with JOB_RUNNER=celery on Redis and on RabbitMQ, with a real worker process.

A representative subset of tests/e2e/test_engine.py (each Celery run starts a worker): immediate and delayed
rules, after-previous chains, cancellation on leaving a stage, conditions on a re-read order, stage changes run
by the worker, retries until dead, duplicate webhooks, and the stage mirror (one write per stage change, also with
the dispatcher's loop running). PostgreSQL only: Celery needs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.celery_stack import BROKERS, celery_engine_stack
from tests.e2e.engine_stack import EngineStack
from tests.e2e.test_engine import (  # noqa: F401  (collected here with this module's `stack`)
    test_after_previous_waits_and_counts_its_delay_from_the_previous_finish,
    test_change_stage_runs_the_target_stages_rules_and_repeat_decides_re_entry,
    test_condition_is_checked_when_the_job_runs_not_when_planned,
    test_duplicate_and_burst_webhooks_make_one_entry_and_no_double_jobs,
    test_failed_predecessor_cancels_its_successor,
    test_leaving_the_stage_cancels_its_pending_jobs,
    test_new_order_enters_new_and_its_rule_adds_a_note,
    test_retryable_errors_back_off_then_the_job_dies_after_a_day,
    test_the_stage_is_mirrored_into_saleors_private_metadata_once,
)
from tests.e2e.test_stage_mirror import (  # noqa: F401  (the dispatcher's loop running, the move in the worker)
    test_a_stage_change_during_a_write_is_written_after_it_not_beside_it,
    test_no_second_write_while_the_first_is_in_flight,
    test_one_stage_write_per_stage_change_with_the_runner_running,
)

pytestmark = pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)],
                                     indirect=True)


@pytest.fixture(params=sorted(BROKERS))
async def stack(request: pytest.FixtureRequest, settings, tmp_path: Path) -> AsyncIterator[EngineStack]:
    async for built in celery_engine_stack(settings, BROKERS[request.param], tmp_path):
        yield built


async def test_the_jobs_ran_in_the_worker_not_in_the_test_process(stack: EngineStack) -> None:
    from saleor_app import metrics
    from saleor_app.queues.dispatcher import CeleryDispatcher

    assert isinstance(stack.container.runner, CeleryDispatcher)
    ran_here = metrics.JOB_OUTCOMES.labels(state="succeeded")._value.get()
    await stack.rule(key="welcome", stage="new", kind="add_note", config={"message": "hi"})
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert stack.notes() == ["hi"]
    assert metrics.JOB_OUTCOMES.labels(state="succeeded")._value.get() == ran_here  # not in this process
    job = (await stack.jobs())[0]
    assert job["state"] == "succeeded" and job["attempts"] == 1 and job["dispatched_until"] is None
