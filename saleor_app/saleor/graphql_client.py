"""GraphQL calls to one Saleor installation with gql over httpx; Saleor's failures become our error tree."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

import httpx
from gql import Client
from gql.client import AsyncClientSession
from gql.graphql_request import GraphQLRequest
from gql.transport.exceptions import (
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.httpx import HTTPXAsyncTransport

from graphql import DocumentNode, parse, print_ast
from saleor_app import metrics
from saleor_app.domain.errors import AppAccessLost, PermanentError, SaleorRateLimited, SaleorUnavailable
from saleor_app.providers.addresses import OutboundRefused, OutboundUnavailable
from saleor_app.saleor import documents

log = logging.getLogger(__name__)


@cache
def parsed(name: str) -> DocumentNode:
    return parse(documents.load(name))


class _PreparedRequest(GraphQLRequest):
    """A request whose query text is printed once per document: gql prints the AST on every call (about 0.75 ms
    for the order query), and that is on the critical path of every job."""

    def __init__(self, name: str, variables: dict[str, Any]) -> None:
        super().__init__(parsed(name), variable_values=variables)
        self._text = _printed(name)

    @property
    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"query": self._text}
        if self.variable_values:
            payload["variables"] = self.variable_values
        return payload


@cache
def _printed(name: str) -> str:
    return print_ast(parsed(name))


def connect_timeout(timeout: float) -> float:
    """Half of SALEOR_TIMEOUT_SECONDS may go to connecting (5 s at the default 10): a Saleor that does not take the
    connection soon is down, and the rest is left for its answer."""
    return timeout / 2


class SaleorGraphQLClient:
    """One installation's endpoint and token; keeps one HTTP connection pool open between calls.

    Saleor allows no batching (GRAPHQL_BATCH_MAX_COUNT=1), so gql's batching stays off.
    """

    def __init__(self, saleor_api_url: str, token: str, *, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        """`transport`: the address-guarded one the wiring builds (one per client: closing a client closes it)."""
        self.saleor_api_url = saleor_api_url
        transport_options: dict[str, Any] = {} if transport is None else {"transport": transport}
        gql_transport = HTTPXAsyncTransport(
            saleor_api_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, connect=connect_timeout(timeout)),
            follow_redirects=False,
            trust_env=False,
            **transport_options,
        )
        self._client = Client(transport=gql_transport, execute_timeout=timeout + 1)
        self._session: AsyncClientSession | None = None

    async def execute(self, name: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run the document `name` from graphql/; returns `data`. Raises RetryableError/PermanentError kinds."""
        request = _PreparedRequest(name, dict(variables or {}))
        try:
            if self._session is None:
                self._session = await self._client.connect_async(reconnecting=False)  # type: ignore[no-untyped-call]
            with metrics.timed_call("saleor", name):
                result = await self._session.execute(request)
        except TransportQueryError as exc:
            raise _query_error(name, self.saleor_api_url, exc) from exc
        except TransportServerError as exc:
            if exc.code in (401, 403):
                raise AppAccessLost(f"Saleor refused the app's token ({exc.code}) for {name}") from exc
            if exc.code == 429:
                wait = retry_after(exc)
                raise SaleorRateLimited(f"Saleor asked the app to slow down (HTTP 429) for {name}"
                                        + (f", for {wait:g} s" if wait is not None else ""), wait) from exc
            raise SaleorUnavailable(f"Saleor answered {name} with HTTP {exc.code}: {exc}") from exc
        except TransportProtocolError as exc:
            raise SaleorUnavailable(f"Saleor's answer to {name} was not a GraphQL response: {exc}") from exc
        except OutboundRefused:  # the address policy refused Saleor's address: retrying will not change it
            await self.close()
            raise
        except (httpx.HTTPError, TransportError, TimeoutError, OSError, OutboundUnavailable) as exc:
            await self.close()
            raise SaleorUnavailable(
                f"could not reach Saleor at {self.saleor_api_url} for {name}: {exc.__class__.__name__} {exc}"
            ) from exc
        return dict(result)

    async def close(self) -> None:
        if self._session is not None:
            self._session = None
            try:
                await self._client.close_async()  # type: ignore[no-untyped-call]
            except Exception:  # closing a broken connection must not mask the original error
                log.debug("closing the GraphQL client failed", exc_info=True)


def retry_after(exc: TransportServerError) -> float | None:
    """Seconds from the 429's `Retry-After` (a number of seconds or an HTTP date), when Saleor sent one."""
    response = getattr(exc.__cause__, "response", None)
    value = response.headers.get("retry-after") if isinstance(response, httpx.Response) else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def is_saleor_answer(exc: BaseException) -> bool:
    """Whether an error of `execute` is Saleor's own GraphQL answer (errors in a GraphQL response), as opposed to
    an exchange that failed or an answer that was not GraphQL at all."""
    return isinstance(exc.__cause__, TransportQueryError)


def _query_error(name: str, url: str, exc: TransportQueryError) -> Exception:
    errors = exc.errors or []
    codes = {((error.get("extensions") or {}).get("exception") or {}).get("code") for error in errors}
    # Saleor repeats one sentence for each field a document asks for (AppIdentity's `app` and `shop`): say it once
    messages = "; ".join(dict.fromkeys(str(error.get("message")) for error in errors)) or str(exc)
    if "PermissionDenied" in codes:
        # A deleted or deactivated app's token is treated like no token: HTTP 200 with PermissionDenied.
        return AppAccessLost(
            f"Saleor at {url} denied {name}: {messages}. The app was deactivated or removed, or lacks a permission."
        )
    return PermanentError(f"Saleor rejected {name}: {messages}")
