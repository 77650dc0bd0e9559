"""The one HTTP client for URLs a merchant types: public http(s) addresses only, checked at connect time.

Why at connect time: checking a URL's host before sending is not enough, because DNS can answer the check with
a public address and the connection with a private one (DNS rebinding). Here the httpcore network backend
resolves the host itself, refuses the connection if ANY resolved address is not a public internet address, and
then connects to the checked IP — the Host header and TLS SNI/certificate check still use the typed host name.

What is refused (`OutboundRefused`, a `PermanentError`: retrying will not help, the message says what to fix):
schemes other than http/https, addresses that are private, loopback, link-local (cloud metadata at
169.254.169.254), carrier-grade NAT, multicast, unspecified, reserved, documentation or benchmarking, IPv6
unique-local and site-local, IPv4-compatible and Teredo addresses, IPv4-mapped / NAT64 / 6to4 addresses that
embed any of those, host names that do not exist, any 3xx answer (redirects are never followed: the error names
where the server wanted to go), and answers larger than the size cap.

What is transient (`OutboundUnavailable`, a `RetryableError`): temporary DNS failures, refused or reset
connections, protocol garbage, and timeouts (connect, read, and the total deadline around the whole exchange).

HTTP statuses are the caller's business: any non-3xx answer is returned as a `GuardedResponse`.
`GuardedResponse.raise_for_status()` applies the usual policy in one place: 408, 425, 429 and 5xx raise
`OutboundUnavailable`; other 4xx raise `OutboundRejected` (a `PermanentError`).

Bodies: the client asks for `Accept-Encoding: identity` and returns the bytes as received, so the size cap
counts bytes on the wire and a compressed "bomb" cannot expand in memory. Environment proxies and .netrc are
ignored (`trust_env=False`). asyncio only (the default resolver is the running loop's getaddrinfo).

`allow_hosts` (host names or IP literals) lifts the address check for tests that talk to loopback peers; the
settings refuse it in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final, Self

import httpcore
import httpx

from saleor_app import metrics
from saleor_app.domain.errors import PermanentError, RetryableError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Turns (host name, port) into IP address strings; raises `socket.gaierror` like getaddrinfo."""

_SCHEMES: Final = frozenset({"http", "https"})
_USER_AGENT: Final = "saleor-order-automation/0.1 (outbound)"
_SHOWN_LOCATION_CHARS: Final = 200
_RETRYABLE_STATUSES: Final = frozenset({408, 425, 429})
_NO_SUCH_HOST: Final = frozenset({socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)})
_PUBLIC_ONLY: Final = "Only public internet addresses may be called; use a URL that is reachable from the internet."
# What a refused host NAME gets, whether it does not exist or resolves to a non-public address: the answer never
# shows what the server's resolver said (an internal address, or which internal names exist). A typed IP address
# is the caller's own input, and is named with its kind.
NOT_PUBLIC: Final = "could not be resolved to a public internet address"


class OutboundRefused(PermanentError):
    """The client would not send the request or accept the answer (scheme, address, redirect, size)."""


class OutboundUnavailable(RetryableError):
    """The peer could not be reached or answered too slowly (or with 408/425/429/5xx): try again later."""


class OutboundRejected(PermanentError):
    """The peer answered with a 4xx status that retrying will not change (see `raise_for_status`)."""


# Checked in order, so the specific ranges come before the ranges that contain them.
_V4_RANGES: Final = tuple(
    (ipaddress.IPv4Network(network), label)
    for network, label in (
        ("0.0.0.0/8", "'this network' / unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT (shared)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata lives here)"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignment"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved / broadcast"),
    )
)
_V6_RANGES: Final = tuple(
    (ipaddress.IPv6Network(network), label)
    for network, label in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible (deprecated)"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo tunnel"),
        ("2001:db8::/32", "documentation"),
        ("2001::/23", "IETF protocol assignment"),
        ("3fff::/20", "documentation"),
        ("fc00::/7", "unique-local (private)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
    )
)
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")


def refusal_reason(address: str) -> str | None:
    """Why the IP literal `address` must not be contacted, or None when it is a public internet address."""
    ip = _parse_ip(address)
    if ip is None:
        raise ValueError(f"{address!r} is not an IP address")
    return _reason(ip)


def _not_public(name: str) -> str:
    return f"Refused to call {name}: it {NOT_PUBLIC}. Check the URL. {_PUBLIC_ONLY}"


def _reason(ip: IPAddress) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            form, inner = embedded
            why = _reason(inner)
            return None if why is None else f"the {form} form of {inner}, {why}"
    ranges: Iterable[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]]
    ranges = _V6_RANGES if isinstance(ip, ipaddress.IPv6Address) else _V4_RANGES
    for network, label in ranges:
        if ip in network:
            return f"a {label} address ({network})"
    # Belt and braces for ranges the tables above miss (IANA keeps adding special-purpose blocks).
    if ip.is_multicast or ip.is_reserved or ip.is_private or not ip.is_global:
        return "not a public internet address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """IPv6 forms that reach an IPv4 host: judge them by that host (::ffff:127.0.0.1 is loopback)."""
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    return None


def _normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _parse_ip(text: str) -> IPAddress | None:
    try:  # getaddrinfo answers link-local IPv6 with a "%scope" suffix; the scope does not change the verdict
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _origin(url: httpx.URL) -> str:
    """scheme://host:port only: paths and queries of webhook URLs often carry secrets, so errors leave them out."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


async def system_resolver(host: str, port: int) -> list[str]:
    """The default `Resolver`: the running event loop's getaddrinfo."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]


class _AddressGuard(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, then connects to a checked IP — the only way our pool opens a socket.

    `connect_unix_socket` keeps the base class's NotImplementedError: the pool is built without `uds`.
    """

    def __init__(
        self,
        inner: httpcore.AsyncNetworkBackend,
        resolver: Resolver,
        allowed_names: frozenset[str],
        allowed_addresses: frozenset[IPAddress],
    ) -> None:
        self._inner = inner
        self._resolver = resolver
        self._allowed_names = allowed_names
        self._allowed_addresses = allowed_addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        *others, last = await self._checked_addresses(host, port, timeout)
        for address in others:
            with contextlib.suppress(httpcore.ConnectError, httpcore.ConnectTimeout):
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
        return await self._inner.connect_tcp(
            last, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)

    async def _checked_addresses(self, host: str, port: int, timeout: float | None) -> list[str]:
        name = _normalise_host(host)
        literal = _parse_ip(name)
        addresses = [literal] if literal is not None else await self._resolve(name, port, timeout)
        if name not in self._allowed_names:
            for address in addresses:
                why = None if address in self._allowed_addresses else _reason(address)
                if why is not None:
                    raise OutboundRefused(f"Refused to connect to {name}: it is {why}. {_PUBLIC_ONLY}"
                                          if literal is not None else _not_public(name))
        return [str(address) for address in addresses]

    async def _resolve(self, name: str, port: int, timeout: float | None) -> list[IPAddress]:
        try:
            async with asyncio.timeout(timeout):
                answers = await self._resolver(name, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {name} took longer than {timeout} s") from exc
        except socket.gaierror as exc:
            if exc.errno in _NO_SUCH_HOST:
                raise OutboundRefused(_not_public(name)) from exc
            raise OutboundUnavailable(f"Could not resolve {name} ({exc.strerror}); try again later.") from exc
        parsed = [_parse_ip(answer) for answer in answers]
        addresses = [address for address in dict.fromkeys(parsed) if address is not None]
        if not addresses or len(addresses) < len(set(parsed)):
            raise OutboundRefused(_not_public(name))
        return addresses


class _GuardedTransport(httpx.AsyncBaseTransport):
    """httpx's own AsyncHTTPTransport, minus proxies, over a pool whose only way out is the address guard."""

    def __init__(self, guard: _AddressGuard) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=guard,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in _SCHEMES:  # the client checks first; this keeps the transport safe on its own
            raise OutboundRefused(f"Refused {_origin(url)}: only http:// and https:// URLs may be called.")
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _transient_errors(url), metrics.timed_call("http", request.method):  # until the headers arrive
            core_response = await self._pool.handle_async_request(core_request)
        stream = core_response.stream
        if not isinstance(stream, AsyncIterable):  # pragma: no cover - an async pool always streams async
            raise TypeError("httpcore returned a synchronous stream to an async transport")
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_ResponseStream(stream, url),
            extensions=core_response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes], url: httpx.URL) -> None:
        self._stream = stream
        self._url = url

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _transient_errors(self._url):
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            with _transient_errors(self._url):
                await close()


@contextlib.contextmanager
def _transient_errors(url: httpx.URL) -> Iterator[None]:
    try:
        yield
    except httpcore.TimeoutException as exc:
        raise OutboundUnavailable(f"{_origin(url)} timed out ({type(exc).__name__}); try again later.") from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
        raise OutboundUnavailable(
            f"Could not talk to {_origin(url)}: {exc or type(exc).__name__}. Check that the server is up."
        ) from exc


@dataclass(frozen=True, slots=True)
class GuardedResponse:
    """A complete, size-capped answer. Never a 3xx: those are refused."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def raise_for_status(self) -> GuardedResponse:
        """Return self for 2xx; raise `OutboundUnavailable` (408/425/429/5xx) or `OutboundRejected` (other)."""
        if self.ok:
            return self
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "unknown status"
        where = _origin(httpx.URL(self.url))
        if self.status >= 500 or self.status in _RETRYABLE_STATUSES:
            raise OutboundUnavailable(f"{where} answered {self.status} {phrase}; try again later.")
        detail = self.text[:200].strip()
        raise OutboundRejected(
            f"{where} refused the request with {self.status} {phrase}"
            + (f": {detail}" if detail else "")
            + ". Check the URL and what that service expects."
        )


class GuardedHttpClient:
    """Sends requests to merchant-typed URLs; see the module docstring for what it refuses and why."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        max_response_bytes: int = 5_000_000,
        allow_hosts: Sequence[str] = (),
        resolver: Resolver | None = None,
        connector: httpcore.AsyncNetworkBackend | None = None,
        user_agent: str = _USER_AGENT,
    ) -> None:
        """`timeout` bounds the whole exchange; connect/read default to it. `connector` is the httpcore
        backend that opens checked sockets (default: anyio) — tests inject one that records its calls."""
        if timeout <= 0 or max_response_bytes <= 0:
            raise ValueError("timeout and max_response_bytes must be positive")
        if isinstance(allow_hosts, str):
            raise TypeError("allow_hosts is a sequence of host names, not one string")
        names: set[str] = set()
        addresses: set[IPAddress] = set()
        for entry in filter(None, map(_normalise_host, allow_hosts)):
            ip = _parse_ip(entry)
            if ip is None:
                names.add(entry)
            else:
                addresses.add(ip)
        guard = _AddressGuard(
            connector or httpcore.AnyIOBackend(),
            resolver or system_resolver,
            frozenset(names),
            frozenset(addresses),
        )
        self._timeout = timeout
        self._max_bytes = max_response_bytes
        self._http = httpx.AsyncClient(
            transport=_GuardedTransport(guard),
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(
                timeout,
                connect=timeout if connect_timeout is None else connect_timeout,
                read=timeout if read_timeout is None else read_timeout,
            ),
            headers={"User-Agent": user_agent},
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: object = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> GuardedResponse:
        target = _checked_url(url)
        sent_headers = httpx.Headers(headers)
        sent_headers["Accept-Encoding"] = "identity"
        try:
            async with asyncio.timeout(self._timeout):
                async with self._http.stream(
                    method, target, json=json, content=content, headers=sent_headers
                ) as response:
                    if 300 <= response.status_code < 400:
                        raise _redirect_refusal(target, response)
                    body = await self._capped_body(target, response)
        except TimeoutError as exc:
            raise OutboundUnavailable(
                f"{_origin(target)} did not answer completely within {self._timeout:g} s; try again later."
            ) from exc
        return GuardedResponse(status=response.status_code, headers=response.headers, body=body, url=str(target))

    async def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> GuardedResponse:
        return await self.request("GET", url, headers=headers)

    async def post(
        self,
        url: str,
        *,
        json: object = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> GuardedResponse:
        return await self.request("POST", url, json=json, content=content, headers=headers)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _capped_body(self, url: httpx.URL, response: httpx.Response) -> bytes:
        limit = f"the {self._max_bytes} byte limit (OUTBOUND_MAX_RESPONSE_BYTES)"
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise OutboundRefused(
                f"Refused the answer from {_origin(url)}: it announces {declared} bytes, over {limit}. "
                "Use a smaller file or resource."
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():  # raw: the cap counts wire bytes, nothing is decompressed
            size += len(chunk)
            if size > self._max_bytes:
                raise OutboundRefused(
                    f"Refused the answer from {_origin(url)}: it is larger than {limit}. "
                    "Use a smaller file or resource."
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _checked_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise OutboundRefused(f"Refused {url[:100]!r}: it is not a valid URL ({exc}).") from exc
    if parsed.scheme not in _SCHEMES:
        scheme = f"{parsed.scheme}://" if parsed.scheme else "a URL without a scheme"
        raise OutboundRefused(
            f"Refused {scheme}: only http:// and https:// URLs may be called. Enter a full http(s) address."
        )
    if not parsed.host:
        raise OutboundRefused(f"Refused {url[:100]!r}: the URL has no host name.")
    return parsed


def _redirect_refusal(url: httpx.URL, response: httpx.Response) -> OutboundRefused:
    location = response.headers.get("Location")
    if location is None:
        wanted = "without saying where (no Location header)"
    else:
        with contextlib.suppress(httpx.InvalidURL):
            location = str(url.join(location))
        wanted = f"to {location[:_SHOWN_LOCATION_CHARS]}"
    return OutboundRefused(
        f"Refused the redirect ({response.status_code}) from {_origin(url)} {wanted}: redirects are not "
        "followed. Use the final URL directly."
    )
