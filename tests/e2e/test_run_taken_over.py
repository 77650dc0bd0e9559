"""A run that lost its job never sends: a run held up before its provider call (here: re-reading the order for a
delayed rule) while its lease expires, recovery gives the job back and a second run starts it. Whichever reaches
the hand-over first, only the run that holds the job now may hand anything to a provider; the other stops and
records nothing. Before the hand-over was fenced by the attempt, both sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from saleor_app.domain.jobs import JobState
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.e2e.test_email import connect_postmark, email_rule, messages
from tests.fakes.postmark import FakePostmark
from tests.timing import eventually

DELAY = timedelta(minutes=1)  # a delayed rule re-reads the order right before it acts


@pytest.fixture
async def postmark() -> AsyncIterator[FakePostmark]:
    async with FakePostmark() as fake:
        yield fake


@pytest.fixture
async def stack(settings, postmark: FakePostmark) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings.model_copy(update={
            "postmark_api_base_url": postmark.base_url, "allow_loopback_targets": True})):
        yield built


async def two_runs_of_one_job(stack: EngineStack) -> tuple[asyncio.Task[object], asyncio.Task[object], int]:
    """The job falls due; run one starts it and waits on Saleor; its lease expires, recovery gives the job back
    ("nothing was handed over"); run two starts it and waits on Saleor too."""
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    [job] = await stack.jobs()
    assert job["state"] == JobState.SCHEDULED.value
    stack.saleor.hold_mutation("order")  # the re-read of the order (`order(id: …)`), not orderNoteAdd
    container = stack.container
    runs = []
    for run in (1, 2):
        if run == 2:
            stack.clock.advance(timedelta(seconds=container.settings.job_lease_seconds + 1))
            assert await container.recover_leases() == 1
        else:
            stack.clock.advance(DELAY + timedelta(seconds=1))
        claimed = await container.automation.claim_due(stack.clock.now(), timedelta(
            seconds=container.settings.job_lease_seconds), 10)
        assert claimed == [job["id"]]
        runs.append(asyncio.create_task(container.execute_job.run_batch(claimed)))
        await eventually(lambda run=run: len(stack.saleor.held_bodies) == run, what=f"run {run} waiting on Saleor")
    return runs[0], runs[1], job["id"]


async def test_a_note_is_added_once_when_a_run_outlives_its_lease(stack: EngineStack) -> None:
    await stack.rule(key="note", stage="new", kind="add_note", config={"message": "once"},
                     delay_seconds=int(DELAY.total_seconds()))
    first, second, _ = await two_runs_of_one_job(stack)
    stack.saleor.release_mutations()
    await asyncio.gather(first, second)
    assert stack.notes() == ["once"]
    [job] = await stack.jobs()
    assert (job["state"], job["attempts"]) == (JobState.SUCCEEDED.value, 2)


async def test_an_email_is_sent_once_when_a_run_outlives_its_lease(stack: EngineStack,
                                                                    postmark: FakePostmark) -> None:
    await connect_postmark(stack, postmark)
    await email_rule(stack, rule={"delay_seconds": int(DELAY.total_seconds())})
    first, second, _ = await two_runs_of_one_job(stack)
    stack.saleor.release_mutations()
    await asyncio.gather(first, second)
    assert len(postmark.emails) == 1
    [job] = await stack.jobs()
    assert (job["state"], job["attempts"]) == (JobState.SUCCEEDED.value, 2)
    assert len(await messages(stack)) == 1  # the run that lost the job wrote no message row either
