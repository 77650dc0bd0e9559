"""Request bodies are capped per path and time-bound before any route reads them (web/request_guard.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from saleor_app.app import create_app
from saleor_app.settings import Settings
from saleor_app.wiring import Container
from tests.fakes.loopback import LoopbackServer
from tests.timing import scaled

CHUNK = 64 * 1024
ENDLESS = 200 * 1024 * 1024  # what the client would send if nobody stopped it

# Every route that reads a body from the outside, with the cap it has.
CAPPED = {
    "/api/inbound/1/secret": 64 * 1024,
    "/api/twilio/1/inbound": 64 * 1024,
    "/api/providers/postmark/1/events": 256 * 1024,
    "/api/register": 16 * 1024,
    "/api/v1/config": 1_000_000,
    "/api/webhooks/orders": 1_000_000,
    "/api/v1/rules": 1_000_000,
}


class CountingClient:
    """The ASGI receive side of one chunked upload that never ends by itself: counts what the app pulled."""

    def __init__(self) -> None:
        self.sent = 0
        self.answer: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.sent += CHUNK
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": self.sent < ENDLESS}

    async def send(self, message: dict[str, Any]) -> None:
        self.answer.append(message)

    @property
    def status(self) -> int:
        return int(next(m["status"] for m in self.answer if m["type"] == "http.response.start"))


def _scope(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    method = "PUT" if path == "/api/v1/config" else "POST"
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), (b"transfer-encoding", b"chunked"), *(headers or [])],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}


@pytest.mark.parametrize(("path", "cap"), CAPPED.items())
async def test_a_chunked_upload_is_stopped_one_chunk_past_the_cap(container: Container, settings: Settings,
                                                                  path: str, cap: int) -> None:
    app = create_app(settings, container)
    client = CountingClient()
    await app(_scope(path), client.receive, client.send)
    assert client.status == 413
    assert client.sent <= cap + CHUNK, f"{path}: read {client.sent} bytes for a cap of {cap}"


async def test_a_declared_length_over_the_cap_is_refused_before_reading(container: Container,
                                                                         settings: Settings) -> None:
    app = create_app(settings, container)
    client = CountingClient()
    await app(_scope("/api/v1/config", [(b"content-length", str(ENDLESS).encode())]), client.receive, client.send)
    assert client.status == 413 and client.sent == 0


async def test_a_stalled_body_gets_408_and_its_connection_is_closed(container: Container,
                                                                    settings: Settings) -> None:
    # The client holds the rest of its body forever; the deadline is the one thing that can end the request.
    settings = settings.model_copy(update={"request_body_timeout_seconds": 0.5})
    app = create_app(settings, container)
    async with LoopbackServer(app) as server:
        stalled = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(5)]
        try:
            for _reader, writer in stalled:
                writer.write(b"POST /api/inbound/1/secret HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                             b"application/json\r\nContent-Length: 100\r\n\r\n{\"order\": ")
                await writer.drain()
            for reader, _writer in stalled:
                answer = await asyncio.wait_for(reader.read(), scaled(30))  # read() returns at EOF: the server closed
                assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        finally:  # closed even when the server kept one open
            for _reader, writer in stalled:
                writer.close()


def test_the_guard_has_a_cap_for_every_path(container: Container, settings: Settings) -> None:
    from saleor_app.web.request_guard import RequestGuard, body_limits

    limits = body_limits(webhook_max_bytes=settings.webhook_max_body_bytes,
                         default_max_bytes=settings.request_max_body_bytes)
    guard = RequestGuard(create_app(settings, container), limits, 1)
    assert {path: guard.limit_for(path) for path in CAPPED} == CAPPED
    assert guard.limit_for("/anything/else") == settings.request_max_body_bytes
