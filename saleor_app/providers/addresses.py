"""The one address policy for every connection the app opens, and the connect-time guard that applies it.

Who uses it: the calls to Saleor (register, keys, GraphQL), the guarded client for merchant URLs (HTTP request
rules, team webhooks, audio links) and the SMTP provider. Every one of them is checked the same way.

Why at connect time: checking a URL's host before sending is not enough, because DNS can answer the check with
a public address and the connection with a private one (DNS rebinding). Here the httpcore network backend
resolves the host itself, refuses the connection if ANY resolved address is not allowed, and then connects to the
checked IP — the Host header and TLS SNI/certificate check still use the typed host name. Redirects are never
followed by the clients built on it.

What is allowed (`AddressPolicy`): public internet addresses; loopback too when `allow_loopback` (the
ALLOW_LOOPBACK_TARGETS setting: dev and tests, refused in production); and any address for a host the operator
vouched for (`trusted_hosts`: a host written out in ALLOWED_SALEOR_URLS, for Saleor calls only — see
`hosts_named_in`). Everything else is refused: private, link-local (cloud metadata at 169.254.169.254),
carrier-grade NAT, multicast, unspecified, reserved, documentation or benchmarking, IPv6 unique-local and
site-local, IPv4-compatible and Teredo addresses, IPv4-mapped / NAT64 / 6to4 addresses that embed any of those,
and host names that do not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpcore
import httpx

from saleor_app import metrics
from saleor_app.domain.errors import PermanentError, RetryableError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Turns (host name, port) into IP address strings; raises `socket.gaierror` like getaddrinfo."""

SCHEMES: Final = frozenset({"http", "https"})
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
    ip = parse_ip(address)
    if ip is None:
        raise ValueError(f"{address!r} is not an IP address")
    return _reason(ip)


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


def _not_public(name: str) -> str:
    return f"Refused to call {name}: it {NOT_PUBLIC}. Check the URL. {_PUBLIC_ONLY}"


def normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def parse_ip(text: str) -> IPAddress | None:
    try:  # getaddrinfo answers link-local IPv6 with a "%scope" suffix; the scope does not change the verdict
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def origin_of(url: httpx.URL) -> str:
    """scheme://host:port only: paths and queries of webhook URLs often carry secrets, so errors leave them out."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


async def system_resolver(host: str, port: int) -> list[str]:
    """The default `Resolver`: the running event loop's getaddrinfo."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses a connection may reach (see the module docstring)."""

    allow_loopback: bool = False
    trusted_hosts: frozenset[str] = field(default_factory=frozenset)
    """Host names or IP literals that may resolve to any address: the operator vouched for them."""

    @classmethod
    def of(cls, *, allow_loopback: bool = False, trusted_hosts: Iterable[str] = ()) -> AddressPolicy:
        names = (normalise_host(host) for host in trusted_hosts)
        return cls(allow_loopback, frozenset(str(parse_ip(name) or name) for name in names if name))

    def trusts(self, host: str) -> bool:
        name = normalise_host(host)
        return str(parse_ip(name) or name) in self.trusted_hosts

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """Why `address` (one of `host`'s) must not be contacted, or None when it may be."""
        if self.trusts(host) or str(address) in self.trusted_hosts:
            return None
        if self.allow_loopback and _is_loopback(address):
            return None
        return _reason(address)

    def refusal_of(self, host: str, address: str) -> str | None:
        """`refusal` for an address string as resolvers give it."""
        ip = parse_ip(address)
        if ip is None:
            return f"not an IP address ({address!r})"
        return self.refusal(host, ip)


def names_loopback(host: str) -> bool:
    """Whether a host as typed is this machine outright (a loopback address, localhost): saying so tells nobody
    anything about the network, unlike what some other name resolves to."""
    name = normalise_host(host)
    ip = parse_ip(name)
    return _is_loopback(ip) if ip is not None else name == "localhost" or name.endswith(".localhost")


def _is_loopback(ip: IPAddress) -> bool:
    """127.0.0.0/8 and ::1, also as ::ffff:127.x (a dual-stack socket reaches this machine through it). NAT64 and
    6to4 forms are not loopback: they reach another machine's loopback, through a gateway."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


_LITERAL_HOST: Final = re.compile(r"//((?:[A-Za-z0-9_-]|\\?\.)+)(?=$|:|/|\\/|\)|\||\$)")


def hosts_named_in(pattern: str | None) -> frozenset[str]:
    """The hosts an ALLOWED_SALEOR_URLS regex writes out literally, right after `//` and up to the port, path or
    the end of an alternative: `http://api:8000/graphql/` names `api`; `https://[a-z]+\\.saleor\\.cloud/graphql/`
    and `http://.*/graphql/` name none. Only these are "vouched for" and may resolve to a private address."""
    if not pattern:
        return frozenset()
    named = (match.group(1).replace("\\", "") for match in _LITERAL_HOST.finditer(pattern))
    return frozenset(filter(None, map(normalise_host, named)))


class _AddressGuard(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, then connects to a checked IP — the only way our pool opens a socket.

    `connect_unix_socket` keeps the base class's NotImplementedError: the pool is built without `uds`.
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend, resolver: Resolver, policy: AddressPolicy) -> None:
        self._inner = inner
        self._resolver = resolver
        self._policy = policy

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
        name = normalise_host(host)
        literal = parse_ip(name)
        addresses = [literal] if literal is not None else await self._resolve(name, port, timeout)
        for address in addresses:
            why = self._policy.refusal(name, address)
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
        parsed = [parse_ip(answer) for answer in answers]
        addresses = [address for address in dict.fromkeys(parsed) if address is not None]
        if not addresses or len(addresses) < len(set(parsed)):
            raise OutboundRefused(_not_public(name))
        return addresses


class GuardedTransport(httpx.AsyncBaseTransport):
    """httpx's own AsyncHTTPTransport, minus proxies, over a pool whose only way out is the address guard.

    Transport failures become `OutboundUnavailable` (retry) and refusals `OutboundRefused`. `metric` names the
    calls in the provider-call metrics (None: the caller times them itself). `connector` is the httpcore backend
    that opens checked sockets (default: anyio); tests inject one that records its calls."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        resolver: Resolver | None = None,
        connector: httpcore.AsyncNetworkBackend | None = None,
        metric: str | None = "http",
    ) -> None:
        guard = _AddressGuard(connector or httpcore.AnyIOBackend(), resolver or system_resolver, policy)
        self._metric = metric
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=guard,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in SCHEMES:  # the client checks first; this keeps the transport safe on its own
            raise OutboundRefused(f"Refused {origin_of(url)}: only http:// and https:// URLs may be called.")
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        timed = metrics.timed_call(self._metric, request.method) if self._metric else contextlib.nullcontext()
        with _transient_errors(url), timed:  # until the headers arrive
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
        raise OutboundUnavailable(f"{origin_of(url)} timed out ({type(exc).__name__}); try again later.") from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
        raise OutboundUnavailable(
            f"Could not talk to {origin_of(url)}: {exc or type(exc).__name__}. Check that the server is up."
        ) from exc
