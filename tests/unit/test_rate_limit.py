"""Who is calling (X-Forwarded-For only from TRUSTED_PROXIES) and the sliding per-client window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.requests import Request

from saleor_app.web.rate_limit import ClientAddress, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.value = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.value


def request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return Request({"type": "http", "method": "POST", "path": "/api/register", "headers": headers,
                    "client": (peer, 50000)})


@pytest.mark.parametrize(("trusted", "peer", "forwarded", "client"), [
    ((), "203.0.113.5", "198.51.100.1", "203.0.113.5"),  # an untrusted peer's header is ignored
    (("10.0.0.0/8",), "10.0.0.2", "198.51.100.1", "198.51.100.1"),
    (("10.0.0.0/8",), "10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.9", "198.51.100.1"),  # right-most untrusted
    (("10.0.0.0/8",), "10.0.0.2", None, "10.0.0.2"),
    (("10.0.0.0/8",), "10.0.0.2", "not-an-ip", "not-an-ip"),
])
def test_the_client_is_the_peer_unless_a_trusted_proxy_says_otherwise(
        trusted: tuple[str, ...], peer: str, forwarded: str | None, client: str) -> None:
    assert ClientAddress(trusted).of(request(peer, forwarded)) == client


def test_ten_a_minute_then_wait_as_long_as_the_oldest_attempt_needs() -> None:
    clock = Clock()
    limiter = RateLimiter(10, timedelta(minutes=1), clock)
    for second in range(10):
        clock.value += timedelta(seconds=1)
        assert limiter.attempt("203.0.113.5") is None, second
    assert limiter.attempt("203.0.113.5") == 51  # the first attempt leaves the window 51 s from now
    assert limiter.attempt("203.0.113.6") is None  # another client
    clock.value += timedelta(seconds=51)
    assert limiter.attempt("203.0.113.5") is None
    assert limiter.attempt("203.0.113.5") is not None  # the second one is still inside the window


def test_ipv6_clients_count_per_64_and_memory_is_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(2, timedelta(minutes=1), clock, max_clients=3)
    assert limiter.attempt("2001:db8:1:2::1") is None
    assert limiter.attempt("2001:db8:1:2::ffff") is None
    assert limiter.attempt("2001:db8:1:2:aaaa::1") is not None  # the same /64
    for client in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        limiter.attempt(client)
    assert limiter.attempt("2001:db8:1:2::1") is None  # forgotten: the oldest of more than three clients
