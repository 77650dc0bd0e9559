"""`saleor-automation worker` (a Celery worker) and `saleor-automation dispatch` (the dispatcher alone)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import typer

from saleor_app.cli_support import announce, load_settings, refuse_unless_ready
from saleor_app.settings import Settings

log = logging.getLogger(__name__)


def _celery_settings() -> Settings:
    settings = load_settings(human=False)
    if settings.job_runner != "celery":
        typer.echo("This command needs JOB_RUNNER=celery, CELERY_BROKER_URL and a PostgreSQL DATABASE_URL "
                   "(see the README's Scale out section).", err=True)
        raise typer.Exit(2)
    announce(settings, refuse_unless_ready(settings))
    return settings


def worker_command(
    concurrency: int = typer.Option(None, "--concurrency", "-c", envvar="WORKER_CONCURRENCY", show_default=False,
                                    help="Worker processes (default: one per CPU)."),
    metrics_port: int = typer.Option(None, envvar="WORKER_METRICS_PORT", show_default=False,
                                     help="Serve /metrics of all this worker's processes on this port (needs "
                                          "PROMETHEUS_MULTIPROC_DIR, an empty directory)."),
) -> None:
    """Run a Celery worker: it executes the jobs the dispatchers send (JOB_RUNNER=celery)."""
    settings = _celery_settings()
    from celery import signals

    from saleor_app.scale_out import worker_app, worker_argv
    from saleor_app.wiring import build_container

    if metrics_port is not None:
        _serve_worker_metrics(metrics_port)
    app, bridge = worker_app(settings, lambda: build_container(settings))

    @signals.worker_process_shutdown.connect(weak=False)  # type: ignore[untyped-decorator]
    def _close(pid: int | None = None, **_: object) -> None:
        bridge.close()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]

    app.worker_main(worker_argv(concurrency, settings.log_level))


def _serve_worker_metrics(port: int) -> None:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        typer.echo("--metrics-port needs PROMETHEUS_MULTIPROC_DIR: an empty directory the worker's processes "
                   "share (set it in the environment before the worker starts).", err=True)
        raise typer.Exit(2)
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, registry=registry)


def dispatch_command() -> None:
    """Run the dispatcher alone: webhooks → moves, interrupted jobs, due jobs → the broker (JOB_RUNNER=celery).

    Any number may run beside `serve` (which has its own unless DISPATCHER_ENABLED=false).
    """
    settings = _celery_settings()
    asyncio.run(_dispatch(settings))


async def _dispatch(settings: Settings) -> None:
    from saleor_app.wiring import build_container

    container = build_container(settings)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    container.runner.start()
    log.info("dispatcher ready: due jobs go to the queue %s", settings.celery_queue,
             extra={"queue": settings.celery_queue})
    try:
        await stopped.wait()
    finally:
        await container.aclose()
