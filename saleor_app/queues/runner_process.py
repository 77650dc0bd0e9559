"""The embedded default's runner in a process of its own: `serve` supervises it and wakes it through a pipe.

The engine's work (re-reading and planning orders, running jobs) is CPU-bound Python; on the web process's event
loop it delays every webhook acknowledgement, and in a thread it would still hold the GIL. So `serve` starts one
child process that runs the runner and the background tasks, and keeps only the web in its own.

The child's stdin is the only channel: first its settings as one JSON line (so it runs with exactly the web's
configuration), then one byte per wake (a webhook stored, a job due now). A wake is coalesced while the last one
has not left the web process, and it costs one non-blocking write. End of file means the web process is gone
(even SIGKILLed): the child stops as it would on SIGTERM, so it never outlives `serve` by more than its grace.

A child that dies is logged and started again with back-off; its running jobs' leases expire and recovery
decides their fate (engine/recovery.py), as after any crash.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable, Sequence

from saleor_app import metrics

log = logging.getLogger(__name__)

WAKE = b"\x01"


class RunnerSupervisor:
    """Web side: starts the runner process, restarts it when it dies, wakes it, and stops it on shutdown."""

    def __init__(
        self,
        command: Sequence[str],
        settings_json: str,
        *,
        shutdown_grace_seconds: float,
        first_restart_seconds: float = 1.0,
        max_restart_seconds: float = 30.0,
        stable_seconds: float = 60.0,
    ) -> None:
        self._command = list(command)
        self._settings_line = settings_json.encode() + b"\n"
        self._grace = shutdown_grace_seconds
        self._first_restart = first_restart_seconds
        self._max_restart = max_restart_seconds
        self._stable = stable_seconds  # a child that ran this long had not been crash-looping: back-off resets
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def pid(self) -> int | None:
        """The running child's process id (None between a death and its restart)."""
        return self._process.pid if self._process is not None and self._process.returncode is None else None

    def wake(self) -> None:
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return  # no child right now: the next one does a round as it starts
        if process.stdin.transport.get_write_buffer_size():
            return  # a wake is still on its way: the child reads every pending byte as one
        try:
            process.stdin.write(WAKE)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the child is dying; supervision starts a new one

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._supervise(), name="runner-supervisor")

    async def stop(self) -> None:
        """SIGTERM and end of file to the child: it stops claiming and lets running jobs finish within its grace."""
        self._stopping.set()
        process = self._process
        if process is not None and process.returncode is None:
            _close_stdin(process)
            try:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), timeout=self._grace + 10.0)
            except ProcessLookupError:
                pass
            except TimeoutError:
                log.error("the job runner process did not stop in time; killed", extra={"pid": process.pid})
                process.kill()
                await process.wait()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self._first_restart
        while not self._stopping.is_set():
            started = loop.time()
            process = await self._spawn()
            code = await process.wait()
            self._process = None
            if self._stopping.is_set():
                return
            if loop.time() - started >= self._stable:
                delay = self._first_restart
            metrics.RUNNER_RESTARTS.inc()
            log.error("the job runner process exited unexpectedly (%s); starting a new one in %.0f s — webhooks are "
                      "still stored meanwhile, and its interrupted jobs are recovered when their leases expire",
                      _describe(code), delay, extra={"pid": process.pid, "exit_code": code})
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, self._max_restart)

    async def _spawn(self) -> asyncio.subprocess.Process:
        # stdout and stderr are inherited: both processes log to one stream
        process = await asyncio.create_subprocess_exec(*self._command, stdin=asyncio.subprocess.PIPE)
        assert process.stdin is not None
        process.stdin.write(self._settings_line)
        self._process = process
        log.info("job runner process started", extra={"pid": process.pid})
        return process


def listen_for_wakes(fd: int, wake: Callable[[], None], parent_gone: Callable[[], None]) -> None:
    """Child side: every readable burst on `fd` (the supervisor's pipe) is one wake; end of file, the web is gone."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if data:
            wake()
            return
        loop.remove_reader(fd)
        parent_gone()

    loop.add_reader(fd, readable)


def _close_stdin(process: asyncio.subprocess.Process) -> None:
    if process.stdin is not None and not process.stdin.is_closing():
        process.stdin.close()


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
