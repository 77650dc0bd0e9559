"""GET /metrics in Prometheus's text format: the processes' counters (saleor_app/metrics.py) plus what the database
knows at scrape time — jobs by live state, how late the oldest due job is, and the inbox's backlog and lag.

The database figures are the truth whichever process (web, dispatcher, worker) did the work; every query is an
index range scan over unfinished rows, so a scrape stays cheap however many jobs have finished.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from saleor_app import metrics
from saleor_app.domain.jobs import JobState
from saleor_app.store.database import aware
from saleor_app.store.tables import JobRow, WebhookInboxRow

JOBS = JobRow.__table__  # type: ignore[attr-defined]
INBOX = WebhookInboxRow.__table__  # type: ignore[attr-defined]
LIVE = [JobState.WAITING, JobState.SCHEDULED, JobState.RETRYING, JobState.RUNNING, JobState.UNKNOWN]
DUE = [JobState.SCHEDULED.value, JobState.RETRYING.value]


class _Snapshot(Collector):
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self._families = families

    def collect(self) -> list[GaugeMetricFamily]:
        return self._families


async def database_gauges(engine: AsyncEngine, now: datetime) -> list[GaugeMetricFamily]:
    async with engine.connect() as connection:
        counts: dict[str, int] = dict((await connection.execute(
            select(JOBS.c.state, func.count()).where(JOBS.c.state.in_([s.value for s in LIVE])).group_by(JOBS.c.state)
        )).all())
        oldest_due = aware((await connection.execute(
            select(func.min(JOBS.c.due_at)).where(JOBS.c.state.in_(DUE), JOBS.c.due_at <= now))).scalar())
        pending, oldest_webhook = (await connection.execute(
            select(func.count(), func.min(INBOX.c.received_at)).where(INBOX.c.state == "pending"))).one()
    jobs = GaugeMetricFamily("saleor_automation_jobs", "Unfinished jobs by state (finished ones: "
                             "saleor_automation_job_outcomes_total)", labels=["state"])
    for state in LIVE:
        jobs.add_metric([state.value], counts.get(state.value, 0))
    overdue = GaugeMetricFamily("saleor_automation_jobs_overdue_seconds",
                                "How long the oldest due job has waited to start (0: none waiting)")
    overdue.add_metric([], max(0.0, (now - oldest_due).total_seconds()) if oldest_due else 0.0)
    backlog = GaugeMetricFamily("saleor_automation_inbox_pending", "Stored webhooks not handled yet")
    backlog.add_metric([], pending)
    lag = GaugeMetricFamily("saleor_automation_inbox_lag_seconds",
                            "Age of the oldest stored webhook not handled yet (0: none)")
    oldest = aware(oldest_webhook)
    lag.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
    return [jobs, overdue, backlog, lag]


def metrics_router(engine: AsyncEngine) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/metrics")
    async def scrape() -> Response:
        registry = CollectorRegistry()
        registry.register(_Snapshot(await database_gauges(engine, datetime.now(UTC))))
        body = metrics.render() + generate_latest(registry)
        return Response(content=body, media_type=CONTENT_TYPE_LATEST)

    return router
