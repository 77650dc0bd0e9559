"""The Celery runner's claims: sending is shared without overlap, starting is conditional, so no message —
duplicate, stale, redelivered or for a cancelled job — runs a job twice; a lost one is sent again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from saleor_app.store.dispatch import JobTicket, SqlDispatchStore
from saleor_app.store.leader import AdvisoryLeader
from saleor_app.store.tables import JobRow
from tests.fakes.signing import SaleorSigner
from tests.integration.helpers import install
from tests.integration.test_claims import seed

JOBS = JobRow.__table__
LEASE = timedelta(minutes=5)
RESEND = timedelta(minutes=2)


async def seeded(container, count: int) -> tuple[SqlDispatchStore, datetime, int]:
    installation = await install(container, SaleorSigner())
    now = datetime.now(UTC)
    await seed(container, installation.id, now - timedelta(seconds=1), count)
    return SqlDispatchStore(container.engine), now, installation.id


async def test_concurrent_dispatchers_never_send_the_same_job(container) -> None:
    store, now, _ = await seeded(container, 60)
    batches = await asyncio.gather(*[store.claim_for_dispatch(now, RESEND, 7) for _ in range(12)])
    sent = [ticket.job_id for batch in batches for ticket in batch]
    assert len(sent) == len(set(sent)) == 60
    assert await store.claim_for_dispatch(now, RESEND, 100) == []  # sent: not again before the resend time
    assert await store.in_flight() == 60


async def test_a_job_never_started_is_sent_again_after_the_resend_time_with_the_same_token(container) -> None:
    store, now, _ = await seeded(container, 3)
    first = await store.claim_for_dispatch(now, RESEND, 10)
    assert await store.claim_for_dispatch(now + RESEND - timedelta(seconds=1), RESEND, 10) == []
    assert await store.next_dispatch_at() == now + RESEND
    again = await store.claim_for_dispatch(now + RESEND + timedelta(seconds=1), RESEND, 10)
    assert again == first  # the broker lost them (or they wait in a backlog): same jobs, same attempts


async def test_a_failed_publish_makes_the_jobs_due_again_at_once(container) -> None:
    store, now, _ = await seeded(container, 4)
    tickets = await store.claim_for_dispatch(now, RESEND, 10)
    await store.unsend(tickets[:3])
    assert [t.job_id for t in await store.claim_for_dispatch(now, RESEND, 10)] == [t.job_id for t in tickets[:3]]


async def test_duplicate_and_stale_messages_start_nothing(container) -> None:
    store, now, _ = await seeded(container, 2)
    tickets = await store.claim_for_dispatch(now, RESEND, 10)
    duplicate = tickets[0]
    started = await asyncio.gather(store.start([duplicate], now, LEASE), store.start([duplicate], now, LEASE))
    assert sorted(len(s) for s in started) == [0, 1]  # two workers got the same message: one runs it
    async with container.engine.begin() as connection:  # it failed and waits for a retry
        await connection.execute(update(JOBS).where(JOBS.c.id == duplicate.job_id)
                                 .values(state="retrying", due_at=now + timedelta(minutes=1), lease_until=None))
    assert await store.start([duplicate], now, LEASE) == []  # the old message, redelivered: stale attempts
    later = now + timedelta(minutes=2)
    retry = await store.claim_for_dispatch(later, RESEND, 10)
    assert retry == [JobTicket(duplicate.job_id, 1)]
    assert [job.job_id for job in await store.start(retry, later, LEASE)] == [duplicate.job_id]
    async with container.engine.connect() as connection:
        row = (await connection.execute(select(JOBS).where(JOBS.c.id == duplicate.job_id))).mappings().one()
    assert row["state"] == "running" and row["attempts"] == 2 and row["dispatched_until"] is None


async def test_cancelled_jobs_and_paused_installations_start_nothing(container) -> None:
    store, now, installation_id = await seeded(container, 2)
    cancelled, paused = await store.claim_for_dispatch(now, RESEND, 10)
    async with container.engine.begin() as connection:
        await connection.execute(update(JOBS).where(JOBS.c.id == cancelled.job_id).values(state="cancelled"))
    assert await store.start([cancelled], now, LEASE) == []
    await container.configure.pause(installation_id)
    assert await store.start([paused], now, LEASE) == []
    assert await store.claim_for_dispatch(now + RESEND * 2, RESEND, 10) == []  # paused: not sent either


async def test_one_dispatcher_at_a_time_handles_the_inbox(container) -> None:
    first, second = AdvisoryLeader(container.engine), AdvisoryLeader(container.engine)
    try:
        assert await first() is True
        assert await first() is True  # still holding
        if container.engine.dialect.name == "postgresql":
            assert await second() is False
            await first.release()
            assert await second() is True
        else:
            assert await second() is True  # SQLite serves one process
    finally:
        await first.release()
        await second.release()


async def test_a_redelivered_message_takes_over_what_its_dead_worker_had_not_handed_over(container) -> None:
    store, now, _ = await seeded(container, 2)
    tickets = await store.claim_for_dispatch(now, RESEND, 10)
    assert len(await store.start(tickets, now, LEASE)) == 2  # the first worker starts both, then dies
    sent, untouched = tickets
    assert await container.automation.hand_over(sent.job_id, 1, now)  # one had reached its provider call
    assert await store.start(tickets, now, LEASE) == []  # the same message again, not redelivered: a duplicate
    taken = await store.start(tickets, now, LEASE, redelivered=True)
    assert [job.job_id for job in taken] == [untouched.job_id]  # the handed-over one is recovery's to decide
    assert not await container.automation.hand_over(untouched.job_id, 1, now)  # the first run, if alive: refused
    assert await container.automation.hand_over(untouched.job_id, 2, now)
    assert await store.start(tickets, now, LEASE, redelivered=True) == []  # handed over now: never taken again
    async with container.engine.connect() as connection:
        rows = {row["id"]: row for row in (await connection.execute(select(JOBS))).mappings()}
    assert (rows[untouched.job_id]["state"], rows[untouched.job_id]["attempts"]) == ("running", 2)
    assert (rows[sent.job_id]["state"], rows[sent.job_id]["attempts"]) == ("running", 1)
