"""The guarded outbound client against a real HTTP server on 127.0.0.1; nothing may leave loopback."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import pytest

from saleor_app.domain.errors import PermanentError, RetryableError
from saleor_app.providers.outbound_http import (
    GuardedHttpClient,
    OutboundRefused,
    OutboundRejected,
    OutboundUnavailable,
    refusal_reason,
)
from tests.timing import scaled

CAP = 1000


@dataclass(frozen=True)
class SeenRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class LoopbackServer:
    """A tiny HTTP/1.1 server, one request per connection, whose routes are the scenarios below."""

    def __init__(self) -> None:
        self.requests: list[SeenRequest] = []
        self._handlers: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *header_lines = head.strip().split("\r\n")
            method, target, _ = request_line.split(" ")
            headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(SeenRequest(method, target, headers, body))
            await self._respond(target, headers, body, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _respond(self, target: str, headers: dict[str, str], body: bytes, out: asyncio.StreamWriter) -> None:
        if target == "/hello":
            await _send(out, 200, b"hello from loopback")
        elif target == "/echo":
            await _send(out, 200, body, {"Content-Type": headers.get("content-type", "")})
        elif target == "/redirect":
            await _send(out, 302, b"", {"Location": "http://10.0.0.1/"})
        elif target == "/exact":
            await _send(out, 200, b"x" * CAP)
        elif target == "/big":
            await _send(out, 200, b"x" * (CAP * 5))
        elif target == "/big-chunked":
            out.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            for _ in range(50):
                out.write(b"64\r\n" + b"x" * 100 + b"\r\n")
                await out.drain()
            out.write(b"0\r\n\r\n")
            await out.drain()
        elif target == "/slow-headers":
            await asyncio.Event().wait()  # never answers (the handler is cancelled when the server stops)
        elif target == "/trickle":
            out.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            while True:  # one byte every 50 ms, for as long as the client listens
                out.write(b"1\r\nx\r\n")
                await out.drain()
                await asyncio.sleep(0.05)
        elif target.startswith("/status/"):
            await _send(out, int(target.removeprefix("/status/")), b"nope")
        else:
            await _send(out, 404, b"no such route")


async def _send(out: asyncio.StreamWriter, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    out.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await out.drain()


class RecordingConnector(httpcore.AsyncNetworkBackend):
    """The real anyio backend, recording every socket it is asked to open and refusing anything off loopback."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.calls.append((host, port))
        if not ipaddress.ip_address(host).is_loopback:
            raise AssertionError(f"the client tried to connect to {host}, off loopback")
        return await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class FakeResolver:
    """A DNS table; unknown names fail like getaddrinfo does for a name that does not exist."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


MakeClient = Callable[..., GuardedHttpClient]


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    peer = LoopbackServer()
    await peer.start()
    yield peer
    await peer.stop()


@pytest.fixture
def connector() -> RecordingConnector:
    return RecordingConnector()


@pytest.fixture
def resolver() -> FakeResolver:
    return FakeResolver(
        {
            "internal.example": ["10.0.0.5"],
            "mixed.example": ["93.184.216.34", "10.0.0.5"],
            "rebind.example": ["::ffff:169.254.169.254"],
            "app.test": ["127.0.0.1"],
        }
    )


@pytest.fixture
async def make_client(connector: RecordingConnector, resolver: FakeResolver) -> AsyncIterator[MakeClient]:
    clients: list[GuardedHttpClient] = []

    def make(**options: Any) -> GuardedHttpClient:
        options.setdefault("connector", connector)
        options.setdefault("resolver", resolver)
        options.setdefault("timeout", scaled(10))
        options.setdefault("max_response_bytes", CAP)
        client = GuardedHttpClient(**options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def refused(call: Awaitable[object]) -> str:
    with pytest.raises(OutboundRefused) as caught:
        await call
    return str(caught.value)


# --- the address verdict, without any network ------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "127.0.0.1",
        "127.8.9.10",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.254",
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "240.0.0.1",
        "198.18.0.1",
        "192.0.2.1",
        "192.0.0.8",
        "203.0.113.9",
        "::",
        "::1",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "64:ff9b::a00:1",
        "64:ff9b::7f00:1",
        "64:ff9b:1::1",
        "2002:a00:1::",
        "2002:7f00:1::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "2001:db8::1",
        "100::1",
    ],
)
def test_non_public_addresses_have_a_refusal_reason(address: str) -> None:
    assert refusal_reason(address) is not None


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(address) is None


def test_reasons_name_the_problem() -> None:
    assert "link-local" in (refusal_reason("169.254.169.254") or "")
    assert "loopback" in (refusal_reason("::ffff:127.0.0.1") or "")
    assert "carrier-grade NAT" in (refusal_reason("100.64.0.1") or "")


def test_error_classes_sit_in_the_error_tree() -> None:
    assert issubclass(OutboundRefused, PermanentError)
    assert issubclass(OutboundRejected, PermanentError)
    assert issubclass(OutboundUnavailable, RetryableError)


# --- refusals happen before any socket is opened ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:{port}/hello", "loopback"),
        ("http://[::1]:{port}/hello", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::ffff:127.0.0.1]/", "IPv4-mapped"),
        ("http://0.0.0.0:{port}/", "unspecified"),
        ("http://internal.example/", "internal.example: it could not be resolved to a public internet address"),
        ("http://mixed.example/", "mixed.example: it could not be resolved to a public internet address"),
        ("https://rebind.example/", "rebind.example: it could not be resolved to a public internet address"),
        ("http://does-not-exist.example/", "does-not-exist.example: it could not be resolved to a public internet"),
    ],
)
async def test_non_public_targets_are_refused_before_connecting(
    make_client: MakeClient, connector: RecordingConnector, server: LoopbackServer, resolver: FakeResolver, url: str,
    why: str
) -> None:
    """A typed address is named with its kind; a host name gets one answer that shows nothing the resolver said
    (which internal address it has, or whether the name exists at all)."""
    client = make_client()
    message = await refused(client.get(url.format(port=server.port)))
    assert why in message
    if ".example" in url:  # a host name, not a typed address
        assert not [address for addresses in resolver.table.values() for address in addresses if address in message]
    assert connector.calls == []
    assert server.requests == []


@pytest.mark.parametrize("host", ["localhost", "2130706433"])  # 2130706433 is 127.0.0.1 to getaddrinfo
async def test_names_the_system_resolves_to_loopback_are_refused(
    make_client: MakeClient, connector: RecordingConnector, server: LoopbackServer, host: str
) -> None:
    client = make_client(resolver=None)
    await refused(client.get(f"http://{host}:{server.port}/hello"))
    assert connector.calls == []
    assert server.requests == []


@pytest.mark.parametrize("url", ["ftp://example.com/file", "file:///etc/passwd", "example.com/no-scheme"])
async def test_other_schemes_are_refused(
    make_client: MakeClient, connector: RecordingConnector, resolver: FakeResolver, url: str
) -> None:
    message = await refused(make_client().get(url))
    assert "only http:// and https://" in message
    assert resolver.calls == []
    assert connector.calls == []


async def test_allow_list_opens_only_what_it_names(
    make_client: MakeClient, connector: RecordingConnector, server: LoopbackServer
) -> None:
    client = make_client(allow_hosts=["127.0.0.1"])
    await refused(client.get("http://10.1.2.3/"))
    await refused(client.get(f"http://[::1]:{server.port}/hello"))
    await refused(client.get("http://internal.example/"))
    assert connector.calls == []


# --- what an allowed peer gets and gives -----------------------------------------------------------------


async def test_allow_listed_loopback_server_is_reachable(
    make_client: MakeClient, connector: RecordingConnector, server: LoopbackServer
) -> None:
    async with make_client(allow_hosts=["127.0.0.1"]) as client:
        response = await client.get(server.url("/hello"))
    assert response.status == 200
    assert response.body == b"hello from loopback"
    assert response.raise_for_status() is response
    assert connector.calls == [("127.0.0.1", server.port)]
    assert server.requests[0].headers["accept-encoding"] == "identity"


async def test_connects_to_the_checked_address_but_keeps_the_host_name(
    make_client: MakeClient, connector: RecordingConnector, server: LoopbackServer
) -> None:
    client = make_client(allow_hosts=["APP.test."])
    response = await client.post(f"http://app.test:{server.port}/echo", json={"order": "42"})
    assert json.loads(response.body) == {"order": "42"}
    assert connector.calls == [("127.0.0.1", server.port)]
    assert server.requests[0].headers["host"] == f"app.test:{server.port}"
    assert server.requests[0].method == "POST"


async def test_redirect_is_refused_and_not_followed(
    make_client: MakeClient, connector: RecordingConnector, server: LoopbackServer
) -> None:
    client = make_client(allow_hosts=["127.0.0.1"])
    message = await refused(client.get(server.url("/redirect")))
    assert "302" in message
    assert "http://10.0.0.1/" in message
    assert [seen.target for seen in server.requests] == ["/redirect"]
    assert connector.calls == [("127.0.0.1", server.port)]


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
async def test_answers_over_the_cap_are_refused(make_client: MakeClient, server: LoopbackServer, path: str) -> None:
    client = make_client(allow_hosts=["127.0.0.1"])
    message = await refused(client.get(server.url(path)))
    assert f"{CAP} byte limit" in message


async def test_an_answer_exactly_at_the_cap_is_accepted(make_client: MakeClient, server: LoopbackServer) -> None:
    response = await make_client(allow_hosts=["127.0.0.1"]).get(server.url("/exact"))
    assert len(response.body) == CAP


async def test_a_slow_server_hits_the_read_timeout(make_client: MakeClient, server: LoopbackServer) -> None:
    client = make_client(allow_hosts=["127.0.0.1"], timeout=scaled(30), read_timeout=0.3)
    with pytest.raises(OutboundUnavailable, match=r"timed out \(ReadTimeout\)"):  # the read timeout, not the total
        await client.get(server.url("/slow-headers"))


async def test_a_trickling_body_hits_the_total_deadline(make_client: MakeClient, server: LoopbackServer) -> None:
    client = make_client(allow_hosts=["127.0.0.1"], timeout=0.3, read_timeout=scaled(30), max_response_bytes=10**6)
    with pytest.raises(OutboundUnavailable, match="within 0.3 s"):  # every read is quick; the whole is too long
        await client.get(server.url("/trickle"))


async def test_a_closed_port_is_retryable(make_client: MakeClient) -> None:
    with socket.socket() as probe:  # bind and release: nothing listens on this port afterwards
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OutboundUnavailable, match="Could not talk to"):
        await make_client(allow_hosts=["127.0.0.1"]).get(f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize(
    ("status", "error"), [(503, OutboundUnavailable), (429, OutboundUnavailable), (404, OutboundRejected)]
)
async def test_statuses_are_returned_and_mapped_on_request(
    make_client: MakeClient, server: LoopbackServer, status: int, error: type[Exception]
) -> None:
    response = await make_client(allow_hosts=["127.0.0.1"]).get(server.url(f"/status/{status}"))
    assert response.status == status
    with pytest.raises(error, match=str(status)):
        response.raise_for_status()
