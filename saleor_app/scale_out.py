"""Composition of the scale-out parts (wiring's helper): PostgreSQL pool options, the Celery dispatcher, the
Celery worker app, and the retention task. Only wiring and the CLI call these."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from celery import Celery
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from saleor_app.domain.ports import Clock
from saleor_app.engine.order_events import HandleOrderEvents
from saleor_app.engine.recovery import RecoverLeases
from saleor_app.queues.celery_app import create_celery, publish
from saleor_app.queues.celery_worker import ProcessBridge, WorkerParts
from saleor_app.queues.dispatcher import CeleryDispatcher
from saleor_app.settings import Settings
from saleor_app.store.dispatch import SqlDispatchStore
from saleor_app.store.leader import AdvisoryLeader
from saleor_app.store.retention import SqlRetention

if TYPE_CHECKING:
    from saleor_app.wiring import Container

log = logging.getLogger(__name__)


def pool_options(settings: Settings) -> dict[str, Any]:
    """PostgreSQL's connection pool per process (SQLite keeps SQLAlchemy's defaults)."""
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        return {}
    return {"pool_size": settings.database_pool_size, "max_overflow": settings.database_max_overflow,
            "pool_timeout": settings.database_pool_timeout_seconds,
            "pool_recycle": settings.database_pool_recycle_seconds}


def celery_app(settings: Settings, run: Callable[..., object] | None = None) -> Celery:
    assert settings.celery_broker_url is not None  # the settings validator requires it with JOB_RUNNER=celery
    return create_celery(settings.celery_broker_url, settings.celery_queue, run=run)


def celery_dispatcher(settings: Settings, engine: AsyncEngine, order_events: HandleOrderEvents,
                      recover: RecoverLeases, clock: Clock) -> CeleryDispatcher:
    app = celery_app(settings)
    return CeleryDispatcher(
        SqlDispatchStore(engine), lambda may_claim: order_events.run_once(may_claim=may_claim), recover,
        partial(publish, app, queue=settings.celery_queue), app.close, clock,
        leads_inbox=AdvisoryLeader(engine), followups=order_events.take_followups,
        batch_size=settings.dispatch_batch_size, lease=timedelta(seconds=settings.job_lease_seconds),
        resend_after=timedelta(seconds=settings.dispatch_resend_seconds), idle_seconds=settings.dispatch_idle_seconds,
    )


def worker_app(settings: Settings, build: Callable[[], Container]) -> tuple[Celery, ProcessBridge]:
    """The worker's Celery app; each worker process builds its own container on its first message."""

    def parts() -> WorkerParts:
        container = build()
        return WorkerParts(start=SqlDispatchStore(container.engine).start, execute=container.execute_job.run_batch,
                           clock=container.clock, lease=timedelta(seconds=settings.job_lease_seconds),
                           close=container.aclose)

    bridge = ProcessBridge(parts)
    return celery_app(settings, run=bridge), bridge


def retention_task(settings: Settings, engine: AsyncEngine, clock: Clock) -> Callable[[], Awaitable[None]]:
    retention = SqlRetention(engine)

    async def trim_old_rows() -> None:
        trimmed = await retention.trim(clock.now(), activity_days=settings.activity_retention_days,
                                       inbox_days=settings.inbox_retention_days)
        if trimmed.activity or trimmed.inbox:
            log.info("old rows deleted", extra={"activity": trimmed.activity, "inbox": trimmed.inbox})

    return trim_old_rows


def worker_argv(concurrency: int | None, loglevel: str, extra: Mapping[str, str] | None = None) -> list[str]:
    # A node name of its own per worker process (Celery's default is celery@<host> for all of them): RabbitMQ
    # gives a node's control queue to one connection only and closes the second worker's channel on one machine.
    argv = ["worker", f"--loglevel={loglevel}", "--without-gossip", "--without-mingle", "--without-heartbeat",
            f"--hostname=automation-{os.getpid()}@%h"]
    if concurrency is not None:
        argv.append(f"--concurrency={concurrency}")
    argv += [f"--{key}={value}" for key, value in (extra or {}).items()]
    return argv
