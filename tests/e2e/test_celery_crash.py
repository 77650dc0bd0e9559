"""The Celery runner under failure, with real worker processes: a worker SIGKILLed mid-send, a message delivered
twice, and a broker that restarts empty while orders keep coming. Nothing is lost, nothing is sent twice."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from saleor_app.queues.celery_app import create_celery, publish
from saleor_app.settings import Settings
from saleor_app.store.dispatch import JobTicket
from saleor_app.store.tables import JobRow, OrderRow, WebhookInboxRow
from saleor_app.wiring import SystemClock
from tests.conftest import require
from tests.e2e.celery_stack import BROKERS, celery_settings, delete_queue, require_broker, start_worker, stop
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.fakes.loopback import free_port
from tests.timing import eventually, scaled, settles

JOBS = JobRow.__table__  # type: ignore[attr-defined]
ORDERS = OrderRow.__table__  # type: ignore[attr-defined]
INBOX = WebhookInboxRow.__table__  # type: ignore[attr-defined]

pytestmark = pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)],
                                     indirect=True)


@asynccontextmanager
async def running_stack(settings: Settings) -> AsyncIterator[EngineStack]:
    """The app with its dispatcher running on the real clock (leases must really expire)."""
    async with aclosing(engine_stack(settings, app_clock=SystemClock())) as stacks:  # type: ignore[arg-type]
        async for stack in stacks:  # closed even when the test fails: the app's connections go back
            stack.container.runner.start()
            yield stack


async def mirror_settled(stack: EngineStack) -> bool:
    [order] = await stack.rows(ORDERS)
    return order["mirror_value"] is not None and order["mirror_pending_since"] is None


async def pending_webhooks(stack: EngineStack) -> int:
    return len(await stack.rows(INBOX, INBOX.c.state == "pending"))


async def waiting_for(stack: EngineStack, holder: int) -> int:
    """Sessions waiting, directly or behind another waiter, for a lock the session `holder` holds (the killed
    worker's keeps waiting: PostgreSQL notices a dead client only when it answers it)."""
    async with stack.container.engine.connect() as connection:
        return int((await connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity a WHERE a.wait_event_type = 'Lock' AND ("
            ":holder = ANY(pg_blocking_pids(a.pid)) OR EXISTS (SELECT 1 FROM pg_stat_activity b "
            "WHERE b.pid = ANY(pg_blocking_pids(a.pid)) AND :holder = ANY(pg_blocking_pids(b.pid))))"),
            {"holder": holder})).scalar_one())


async def states(stack: EngineStack) -> list[str]:
    return [job["state"] for job in await stack.jobs()]


@pytest.mark.parametrize("broker", sorted(BROKERS))
async def test_a_worker_killed_mid_send_sends_nothing_twice(settings: Settings, broker: str) -> None:
    require_broker(BROKERS[broker])
    settings = celery_settings(settings, BROKERS[broker], job_lease_seconds=2.0)
    worker = start_worker(settings)
    try:
        async with running_stack(settings) as stack:
            await stack.rule(key="note", stage="awaiting-payment", kind="add_note", config={"message": "once"})
            stack.saleor.graphql_delay(3.0)  # the re-read, then the note, hang in Saleor

            async def note_in_flight() -> bool:
                return any(b"orderNoteAdd" in body for body in stack.saleor.delayed_bodies)

            await stack.saleor.place_order(auto_confirm=True)
            await eventually(note_in_flight)
            worker.send_signal(signal.SIGKILL)  # the worker dies with the send in flight; its message is unacked
            worker.wait(timeout=scaled(10))
            stack.saleor.graphql_delay(0.0)
            worker = start_worker(settings)  # RabbitMQ redelivers the message to it at once: dropped (running)

            await settles(lambda: states(stack), ["unknown"], what="the job states")  # the lease expired: not re-sent blindly, a person decides
            await settles(stack.notes, ["once"])  # Saleor finishes the held request (3 s after it came)
            await asyncio.sleep(1.0)
            assert stack.notes() == ["once"]  # the worker died before hearing so; never a second one
    finally:
        stop(worker)
        delete_queue(settings)


async def test_a_worker_killed_before_its_hand_over_is_taken_over_at_once_by_the_redelivery(
        settings: Settings) -> None:
    """The broker hands the killed worker's message to the next worker, which takes over the job it had started
    but not handed to anyone yet: it runs now, not when its (hour-long) lease expires, and runs once."""
    broker = BROKERS["rabbitmq"]  # hands a killed worker's messages back at once (Redis: after an hour)
    require_broker(broker)
    settings = celery_settings(settings, broker, job_lease_seconds=3600.0)
    worker = start_worker(settings)
    try:
        async with running_stack(settings) as stack:
            await stack.rule(key="note", stage="new", kind="add_note", config={"message": "once"},
                             delay_seconds=3600)  # a delayed rule re-reads the order before it acts
            await stack.saleor.place_order(auto_confirm=False)
            await settles(lambda: states(stack), ["scheduled"], what="the job states")
            # Saleor delivers a mutation's webhooks before it answers: once the stage is written into Saleor and
            # the echo handled, the app leaves the order alone.
            await settles(lambda: mirror_settled(stack), True, what="the stage written into Saleor")
            await settles(lambda: pending_webhooks(stack), 0, what="webhooks not handled")
            async with stack.container.engine.connect() as lock, lock.begin():
                # The test holds the order's row: the worker re-reads the order before it acts (planned after
                # the last read), and the run then waits to store what it read — before any hand-over.
                await lock.execute(select(ORDERS.c.id).with_for_update())
                holder = (await lock.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                async with stack.container.engine.begin() as connection:
                    now = datetime.now(UTC)
                    await connection.execute(update(JOBS).values(due_at=now, created_at=now))
                await settles(lambda: waiting_for(stack, holder), 1, what="runs waiting for the order row")
                worker.send_signal(signal.SIGKILL)  # dies before its hand-over; the message was not acknowledged
                worker.wait(timeout=scaled(10))
                worker = start_worker(settings)
                await settles(lambda: waiting_for(stack, holder), 2, what="runs waiting for the order row")
            await settles(lambda: states(stack), ["succeeded"], what="the job states")
            assert stack.notes() == ["once"]
            assert (await stack.jobs())[0]["attempts"] == 2  # the interrupted start counts
    finally:
        stop(worker)
        delete_queue(settings)


async def test_a_message_delivered_twice_runs_its_job_once(settings: Settings) -> None:
    broker = BROKERS["rabbitmq"]
    require_broker(broker)
    settings = celery_settings(settings, broker)
    worker = start_worker(settings)
    try:
        async with running_stack(settings) as stack:
            await stack.rule(key="note", stage="new", kind="add_note", config={"message": "one"})
            await stack.saleor.place_order(auto_confirm=False)
            await settles(lambda: states(stack), ["succeeded"], what="the job states")
            job_id = (await stack.jobs())[0]["id"]
            app = create_celery(broker, settings.celery_queue)
            for attempts in (0, 0, 1):  # the original message twice more, and one naming the attempt that ran
                publish(app, [JobTicket(job_id, attempts)], settings.celery_queue)
            await asyncio.sleep(1.5)
            assert stack.notes() == ["one"]
            assert (await stack.jobs())[0]["attempts"] == 1
    finally:
        stop(worker)
        delete_queue(settings)


async def test_two_workers_on_one_machine_both_serve(settings: Settings) -> None:
    """Each worker process has a node name of its own: with the same name, RabbitMQ closes the second one's
    control channel and that worker dies (parallel tests and two `worker` commands on one host did so)."""
    broker = BROKERS["rabbitmq"]
    require_broker(broker)
    settings = celery_settings(settings, broker)
    workers = [start_worker(settings), start_worker(settings)]
    app = create_celery(broker, settings.celery_queue)
    try:
        names = {f"automation-{worker.pid}@" for worker in workers}

        def answering() -> set[str]:
            replies = app.control.ping(timeout=scaled(1))
            return {name for reply in replies for node in reply for name in names if node.startswith(name)}

        await eventually(lambda: answering() == names, what="both workers answering a ping")
        async with running_stack(settings) as stack:
            await stack.rule(key="note", stage="new", kind="add_note", config={"message": "{{ order.number }}"})
            stop(workers[0])
            order = await stack.saleor.place_order(auto_confirm=False)
            await settles(stack.notes, [str(order.number)])  # the second worker, alive, ran it
        assert workers[1].poll() is None
    finally:
        app.close()
        for worker in workers:
            stop(worker)
        delete_queue(settings)


def start_redis(port: int, directory: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
                             "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_a_broker_restart_loses_nothing_and_doubles_nothing(settings: Settings, tmp_path: Path) -> None:
    require(shutil.which("redis-server") is not None, "redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    redis = start_redis(port, tmp_path)
    broker = f"redis://127.0.0.1:{port}/0"
    settings = celery_settings(settings, broker, dispatch_resend_seconds=2.0)
    worker: subprocess.Popen[bytes] | None = None
    try:
        await eventually(lambda: _reachable(broker))
        worker = start_worker(settings)
        async with running_stack(settings) as stack:
            await stack.rule(key="note", stage="new", kind="add_note", config={"message": "{{ order.number }}"})
            first = await stack.saleor.place_order(auto_confirm=False)
            await settles(stack.notes, [str(first.number)])
            await settles(lambda: states(stack), ["succeeded"], what="the job states")  # recorded: the worker may go now

            stop(worker)  # no consumer: the next job's message waits in Redis…
            lost = await stack.saleor.place_order(auto_confirm=False)
            await eventually(lambda: _sent(stack))
            redis.send_signal(signal.SIGKILL)  # …and dies with it (no persistence)
            redis.wait(timeout=scaled(10))

            down = await stack.saleor.place_order(auto_confirm=False)  # the broker is down
            assert stack.saleor.deliveries[-1].outcome == "success"  # webhooks are still acknowledged…
            await eventually(lambda: _planned(stack, 3))  # …and planned; the job waits in the database
            await asyncio.sleep(1.0)
            assert stack.notes() == [str(first.number)]

            redis = start_redis(port, tmp_path)  # back, empty
            worker = start_worker(settings)
            expected = sorted(str(order.number) for order in (first, lost, down))
            await settles(lambda: sorted(stack.notes()), expected)
            await asyncio.sleep(2.5)  # past another resend interval: still once each
            assert sorted(stack.notes()) == expected
            await settles(lambda: states(stack), ["succeeded"] * 3, what="the job states")
            assert [job["attempts"] for job in await stack.jobs()] == [1, 1, 1]
    finally:
        if worker is not None:
            stop(worker)
        stop(redis)


async def _reachable(url: str) -> bool:
    from tests.e2e.celery_stack import _PROBLEMS, broker_problem

    _PROBLEMS.pop(url, None)
    return broker_problem(url) is None


async def _sent(stack: EngineStack) -> bool:
    return any(job["dispatched_until"] is not None for job in await stack.jobs())


async def _planned(stack: EngineStack, count: int) -> bool:
    return len(await stack.jobs()) == count
