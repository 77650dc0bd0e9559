"""`serve`'s process layout (the web process, and the job runner's own process) and the runner process's command."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from saleor_app.settings import Settings

log = logging.getLogger(__name__)


@contextmanager
def shared_metrics(settings: Settings) -> Iterator[None]:
    """With the runner in its own process, both processes count into one directory that /metrics adds up.

    prometheus_client picks its storage when it is imported, so this runs before anything imports it; the child
    inherits the variable. An operator's own PROMETHEUS_MULTIPROC_DIR is used as it is."""
    if not settings.runner_has_own_process or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    directory = tempfile.mkdtemp(prefix="saleor-automation-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    # uvicorn re-raises the SIGTERM it shut down on: exit through Python so the directory is removed
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(directory, ignore_errors=True)


def _exit_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signal.SIGTERM)


def run_jobs_command() -> None:
    """(Started by `serve`.) The job runner process: settings on stdin as one JSON line, then a byte per wake."""
    # Ctrl-C reaches the whole process group; `serve` stops the web first, then this process (SIGTERM or EOF)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from saleor_app.logs import configure_logging

    settings = Settings.model_validate_json(sys.stdin.buffer.readline())
    configure_logging(settings.log_level, settings.log_format, component="runner")
    asyncio.run(_run_jobs(settings))


async def _run_jobs(settings: Settings) -> None:
    from saleor_app.queues.runner_process import listen_for_wakes
    from saleor_app.wiring import build_container

    container = build_container(settings)
    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    listen_for_wakes(sys.stdin.fileno(), container.runner.wake, parent_gone=stopped.set)
    container.start()
    log.info("job runner ready", extra={"pid": os.getpid()})
    try:
        await stopped.wait()
        log.info("job runner stopping: no new claims; running jobs get %.0f s to finish",
                 settings.runner_shutdown_grace_seconds)
    finally:
        await container.aclose()
