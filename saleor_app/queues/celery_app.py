"""The Celery app of the scale-out runner: one task, "run these jobs now", acknowledged after it ran.

Celery is the transport, never the schedule: a message carries job tickets (id and attempts, see
store/dispatch.py) for jobs due now — no ETA or countdown — and the worker's conditional start in the database
decides whether each still runs. So a message delivered twice, redelivered after a worker was killed, or sent
again by the dispatcher runs nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from celery import Celery, Task
from sqlalchemy.exc import DBAPIError

from saleor_app.store.dispatch import JobTicket

log = logging.getLogger(__name__)

RUN_JOBS = "saleor_automation.run_jobs"
TASK_RETRIES = 3  # a worker that cannot reach the database: the message is retried at once, a few times


RunTickets = Callable[[Sequence[JobTicket], bool], object]  # (tickets, redelivered by the broker)


def create_celery(broker_url: str, queue: str, *, run: RunTickets | None = None) -> Celery:
    """The dispatcher's app (`run` is None: it only publishes) or a worker's (`run` executes a message's jobs)."""
    app = Celery("saleor_automation", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        task_acks_late=True,  # a worker killed mid-job leaves the message to the broker…
        task_reject_on_worker_lost=True,  # …which redelivers it; the job's state then drops the duplicate
        worker_prefetch_multiplier=1,  # a slow batch holds no other messages hostage
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        # A publish while the broker is down fails fast: the jobs stay due in the database and are sent later.
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2},
        broker_connection_timeout=2.0,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        broker_transport_options={"socket_connect_timeout": 2, "socket_timeout": 5},
    )
    if run is not None:
        _register(app, run)
    return app


def _register(app: Celery, run: RunTickets) -> None:
    @app.task(name=RUN_JOBS, bind=True, max_retries=TASK_RETRIES)  # type: ignore[untyped-decorator]
    def run_jobs(self: Task[Any, Any], tickets: list[list[int]]) -> None:
        redelivered = bool((self.request.delivery_info or {}).get("redelivered"))  # its worker died holding it
        try:
            run([JobTicket(job_id, attempts) for job_id, attempts in tickets], redelivered)
        except DBAPIError as exc:
            if not exc.connection_invalidated and not _is_connection_error(exc):
                raise
            log.warning("worker could not reach the database; retrying the message", extra={"reason": str(exc)})
            raise self.retry(exc=exc, countdown=0) from exc  # countdown 0: no ETA message


def _is_connection_error(exc: DBAPIError) -> bool:
    return exc.__class__.__name__ in {"OperationalError", "InterfaceError"}


def publish(app: Celery, tickets: Sequence[JobTicket], queue: str) -> None:
    """One message for these jobs (blocking: the dispatcher calls it from a thread)."""
    app.send_task(RUN_JOBS, args=[[[t.job_id, t.attempts] for t in tickets]], queue=queue,
                  ignore_result=True)
