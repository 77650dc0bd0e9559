"""Prometheus metrics every process records (web, dispatcher, Celery workers) and the API adapters call.

Counters and histograms live in the process that observes them. In a process with `PROMETHEUS_MULTIPROC_DIR`
set (Celery's prefork children, several uvicorn workers on one host), prometheus_client writes them to files in
that directory and `render()` adds them up across the processes. What the database knows (jobs by state, inbox
lag) is read at scrape time instead (web/metrics.py), so it is right whichever process did the work.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

WEBHOOKS = Counter("saleor_automation_webhooks_total", "Webhook deliveries answered, by HTTP status and outcome",
                   ["status", "outcome"])
JOB_OUTCOMES = Counter("saleor_automation_job_outcomes_total", "Jobs run, by the state they ended in", ["state"])
JOB_START_DELAY = Histogram("saleor_automation_job_start_delay_seconds", "From a job's due time to its start",
                           buckets=_LATENCY_BUCKETS)
JOB_RUN = Histogram("saleor_automation_job_run_seconds", "Time to run a batch of jobs, per job in the batch",
                    buckets=_LATENCY_BUCKETS)
JOBS_IGNORED = Counter("saleor_automation_job_messages_dropped_total",
                       "Broker messages for jobs that were no longer waiting to run (duplicates, cancelled, stale)")
PROVIDER_CALLS = Counter("saleor_automation_provider_calls_total", "Calls to Saleor and messaging providers",
                         ["provider", "operation", "outcome"])
PROVIDER_SECONDS = Histogram("saleor_automation_provider_call_seconds", "Duration of calls to providers",
                             ["provider"], buckets=_LATENCY_BUCKETS)
DISPATCH_CLAIMED = Counter("saleor_automation_dispatch_claimed_total", "Jobs the dispatcher sent to the broker")
DISPATCH_FAILED = Counter("saleor_automation_dispatch_publish_failures_total",
                          "Jobs the broker did not take (they stay due in the database)")
RUNNER_RESTARTS = Counter("saleor_automation_runner_restarts_total",
                          "Times `serve` started its job runner process again after it died")
DISPATCH_CLAIM_SECONDS = Histogram("saleor_automation_dispatch_claim_seconds", "Duration of one dispatch claim",
                                   buckets=_LATENCY_BUCKETS)


def webhook_answered(status: int) -> None:
    outcome = "accepted" if status < 300 else "unavailable" if status >= 500 else "refused"
    WEBHOOKS.labels(status=str(status), outcome=outcome).inc()


def provider_call(provider: str, operation: str, outcome: str, seconds: float) -> None:
    """For provider adapters: one call to `provider` (saleor, postmark, smtp, twilio, http…); outcome is "ok",
    or a short error class such as "unavailable", "rejected", "timeout"."""
    PROVIDER_CALLS.labels(provider=provider, operation=operation, outcome=outcome).inc()
    PROVIDER_SECONDS.labels(provider=provider).observe(seconds)


@contextmanager
def timed_call(provider: str, operation: str) -> Iterator[None]:
    """Records a call as "ok", or as the exception's class name when it raises (and re-raises it)."""
    started = time.perf_counter()
    try:
        yield
    except BaseException as exc:
        provider_call(provider, operation, exc.__class__.__name__, time.perf_counter() - started)
        raise
    provider_call(provider, operation, "ok", time.perf_counter() - started)


def render() -> bytes:
    """This process's metrics in the text format, or every process's on this host in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
