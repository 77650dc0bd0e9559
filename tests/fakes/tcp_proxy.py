"""A TCP proxy on loopback that can drop a connection after the server received the request: the client sent
everything, the server acted on it, and the answer never arrives (a reset) — the "did it happen?" case."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType


class DroppingProxy:
    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self._server: asyncio.Server | None = None
        self._drops = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.dropped = 0
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def drop_next_responses(self, times: int = 1) -> None:
        """The next `times` answers are swallowed: the client's connection is reset when they start to arrive."""
        self._drops += times

    async def start(self) -> DroppingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> DroppingProxy:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        except OSError:
            client_writer.transport.abort()
            self._tasks.discard(task)
            return
        upload = asyncio.create_task(self._pipe(client_reader, upstream_writer))
        try:
            while chunk := await upstream_reader.read(65536):
                if self._drops:
                    self._drops -= 1
                    self.dropped += 1
                    client_writer.transport.abort()  # RST: the answer is lost after the server acted
                    break
                client_writer.write(chunk)
                await client_writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            upload.cancel()
            with contextlib.suppress(BaseException):
                await upload
            upstream_writer.close()
            client_writer.close()
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        writer.close()
