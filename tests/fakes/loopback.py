"""Serve an ASGI app over real HTTP on 127.0.0.1 inside the running event loop (uvicorn; the OS picks the port).

Usable from function-scoped pytest-asyncio tests: the server is an asyncio task of the test's own loop, so a
fake Saleor, the app under test and a test receiver can all call one another.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Literal

import uvicorn

from tests.secret_watch import watched


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Several servers share the test's main thread; letting each swap SIGINT handlers in and out (not LIFO)
        # leaves a stopped server's handler installed, and Ctrl+C no longer stops the test run.
        yield


def _port_range() -> range:
    """This test process's own slice of 20000-32000: parallel workers (pytest-xdist's gw0, gw1, …) never pick the
    same port between a probe and the bind that follows it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    slot = int(worker) % 8 if worker.isdigit() else 0
    start = 20000 + slot * 1500
    return range(start, start + 1500)


def free_port() -> int:
    """A port that was free a moment ago (for apps whose settings need their own URL up front).

    Taken below Linux's ephemeral range (32768+): a port the OS hands out for port 0 can be reused at once as
    the local port of an outgoing connection, and the server that binds it a moment later fails with EADDRINUSE.
    """
    ports = _port_range()
    for _ in range(100):
        port = random.choice(ports)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {ports.start} and {ports.stop - 1}")


class LoopbackServer:
    def __init__(self, app: Any, *, port: int = 0, lifespan: Literal["auto", "on", "off"] = "off") -> None:
        """`port=0` lets the OS choose; pass `free_port()` when the app must know its URL before it starts."""
        self._app = app
        self._lifespan = lifespan
        self._wanted_port = port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> LoopbackServer:
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the listener has it,
        # and without it every keep-alive request waits ~40 ms for a delayed ACK (Nagle).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", self._wanted_port))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(watched(self._app), lifespan=self._lifespan, log_config=None, log_level="warning",
                                access_log=False, ws="none", http="h11", timeout_graceful_shutdown=2,
                                proxy_headers=False)  # as `saleor-automation serve`: the app reads X-Forwarded-For
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the loopback server stopped during start-up")
            await asyncio.sleep(0.005)
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def __aenter__(self) -> LoopbackServer:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()
