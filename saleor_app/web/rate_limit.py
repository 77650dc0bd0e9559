"""Per-client rate limits for endpoints anyone may call (registration), counted in this process.

The client is the TCP peer, unless that peer is one of TRUSTED_PROXIES: then it is the right-most address of
`X-Forwarded-For` that is not a trusted proxy (the left part of that header is whatever the client wrote).
IPv6 clients are counted per /64, the block one subscriber usually gets, so rotating addresses within it does not
reset the count. The counts live in the process: with several processes behind a balancer a client gets up to
`limit` attempts in each of them, which still bounds what one client can make the app do.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict, deque
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from starlette.requests import Request

from saleor_app.domain.ports import Clock

_MAX_CLIENTS: Final = 10_000  # a bound on memory: the clients not seen for longest are forgotten first

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    """TRUSTED_PROXIES entries (addresses or CIDR blocks) as networks; raises ValueError on a bad entry."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


class ClientAddress:
    """Who is calling: the peer, or the client a trusted proxy forwarded."""

    def __init__(self, trusted_proxies: Sequence[str] = ()) -> None:
        self._trusted = trusted_networks(trusted_proxies)

    def of(self, request: Request) -> str:
        peer = request.client.host if request.client else ""
        if not self._is_trusted(peer):
            return peer
        hops = [hop.strip() for header in request.headers.getlist("x-forwarded-for") for hop in header.split(",")]
        for hop in reversed([hop for hop in hops if hop]):
            if not self._is_trusted(hop):
                return hop
        return peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)


def client_key(address: str) -> str:
    """What is counted: the IPv4 address, or the IPv6 address's /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else ip)


class RateLimiter:
    """At most `limit` attempts per client in any `window` (a sliding window over the attempts' times)."""

    def __init__(self, limit: int, window: timedelta, clock: Clock, *, max_clients: int = _MAX_CLIENTS) -> None:
        if limit < 1 or window <= timedelta(0):
            raise ValueError("a rate limit needs a positive limit and window")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_clients = max_clients
        self._attempts: OrderedDict[str, deque[datetime]] = OrderedDict()

    def attempt(self, client: str) -> int | None:
        """Count an attempt: None when it is allowed, else the seconds to wait before the next one is."""
        now = self._clock.now()
        key = client_key(client)
        times = self._attempts.pop(key, None) or deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        self._attempts[key] = times  # most recently seen last
        if len(self._attempts) > self._max_clients:
            self._attempts.popitem(last=False)
        if len(times) >= self.limit:
            return max(1, math.ceil((times[0] + self.window - now).total_seconds()))
        times.append(now)
        return None
