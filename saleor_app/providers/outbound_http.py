"""The one HTTP client for URLs a merchant types: public http(s) addresses only, checked at connect time.

The addresses it may reach are decided by the app's one address policy (providers/addresses.py: public
addresses; loopback only with ALLOW_LOOPBACK_TARGETS), checked when the connection is opened, so DNS rebinding
cannot slip a private address past it.

What else is refused (`OutboundRefused`, a `PermanentError`: retrying will not help, the message says what to
fix): schemes other than http/https, any 3xx answer (redirects are never followed: the error names where the
server wanted to go), and answers larger than the size cap.

What is transient (`OutboundUnavailable`, a `RetryableError`): temporary DNS failures, refused or reset
connections, protocol garbage, and timeouts (connect, read, and the total deadline around the whole exchange).

HTTP statuses are the caller's business: any non-3xx answer is returned as a `GuardedResponse`.
`GuardedResponse.raise_for_status()` applies the usual policy in one place: 408, 425, 429 and 5xx raise
`OutboundUnavailable`; other 4xx raise `OutboundRejected` (a `PermanentError`).

Bodies: the client asks for `Accept-Encoding: identity` and returns the bytes as received, so the size cap
counts bytes on the wire and a compressed "bomb" cannot expand in memory. Environment proxies and .netrc are
ignored (`trust_env=False`). asyncio only (the default resolver is the running loop's getaddrinfo).

`allow_hosts` (host names or IP literals) lifts the address check for those hosts, for tests; the app itself
passes only the policy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Final, Self

import httpcore
import httpx

from saleor_app.domain.errors import PermanentError
from saleor_app.providers.addresses import (
    SCHEMES,
    AddressPolicy,
    GuardedTransport,
    OutboundRefused,
    OutboundUnavailable,
    Resolver,
    origin_of,
    refusal_reason,
    system_resolver,
)

__all__ = [
    "GuardedHttpClient", "GuardedResponse", "OutboundRefused", "OutboundRejected", "OutboundUnavailable", "Resolver",
    "refusal_reason", "system_resolver",
]

_USER_AGENT: Final = "saleor-order-automation/0.1 (outbound)"
_SHOWN_LOCATION_CHARS: Final = 200
_RETRYABLE_STATUSES: Final = frozenset({408, 425, 429})


class OutboundRejected(PermanentError):
    """The peer answered with a 4xx status that retrying will not change (see `raise_for_status`)."""


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
        where = origin_of(httpx.URL(self.url))
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
        policy: AddressPolicy | None = None,
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
        policy = policy or AddressPolicy()
        if allow_hosts:
            policy = AddressPolicy.of(allow_loopback=policy.allow_loopback,
                                      trusted_hosts=[*policy.trusted_hosts, *allow_hosts])
        transport = GuardedTransport(policy, resolver=resolver, connector=connector)
        self._timeout = timeout
        self._max_bytes = max_response_bytes
        self._http = httpx.AsyncClient(
            transport=transport,
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
                f"{origin_of(target)} did not answer completely within {self._timeout:g} s; try again later."
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
                f"Refused the answer from {origin_of(url)}: it announces {declared} bytes, over {limit}. "
                "Use a smaller file or resource."
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():  # raw: the cap counts wire bytes, nothing is decompressed
            size += len(chunk)
            if size > self._max_bytes:
                raise OutboundRefused(
                    f"Refused the answer from {origin_of(url)}: it is larger than {limit}. "
                    "Use a smaller file or resource."
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _checked_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise OutboundRefused(f"Refused {url[:100]!r}: it is not a valid URL ({exc}).") from exc
    if parsed.scheme not in SCHEMES:
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
        f"Refused the redirect ({response.status_code}) from {origin_of(url)} {wanted}: redirects are not "
        "followed. Use the final URL directly."
    )
