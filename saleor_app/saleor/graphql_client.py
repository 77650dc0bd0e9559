"""GraphQL calls to one Saleor installation with gql over httpx; Saleor's failures become our error tree."""

from __future__ import annotations

import logging
from collections.abc import Mapping
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

from graphql import DocumentNode, parse
from saleor_app.domain.errors import AppAccessLost, PermanentError, SaleorUnavailable
from saleor_app.saleor import documents

log = logging.getLogger(__name__)


@cache
def parsed(name: str) -> DocumentNode:
    return parse(documents.load(name))


class SaleorGraphQLClient:
    """One installation's endpoint and token; keeps one HTTP connection pool open between calls.

    Saleor allows no batching (GRAPHQL_BATCH_MAX_COUNT=1), so gql's batching stays off.
    """

    def __init__(self, saleor_api_url: str, token: str, *, timeout: float = 10.0) -> None:
        self.saleor_api_url = saleor_api_url
        transport = HTTPXAsyncTransport(
            saleor_api_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,
        )
        self._client = Client(transport=transport, execute_timeout=timeout + 1)
        self._session: AsyncClientSession | None = None

    async def execute(self, name: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run the document `name` from graphql/; returns `data`. Raises RetryableError/PermanentError kinds."""
        request = GraphQLRequest(parsed(name), variable_values=dict(variables or {}))
        try:
            if self._session is None:
                self._session = await self._client.connect_async(reconnecting=False)  # type: ignore[no-untyped-call]
            result = await self._session.execute(request)
        except TransportQueryError as exc:
            raise _query_error(name, self.saleor_api_url, exc) from exc
        except TransportServerError as exc:
            if exc.code in (401, 403):
                raise AppAccessLost(f"Saleor refused the app's token ({exc.code}) for {name}") from exc
            raise SaleorUnavailable(f"Saleor answered {name} with HTTP {exc.code}: {exc}") from exc
        except TransportProtocolError as exc:
            raise SaleorUnavailable(f"Saleor's answer to {name} was not a GraphQL response: {exc}") from exc
        except (httpx.HTTPError, TransportError, TimeoutError, OSError) as exc:
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


def _query_error(name: str, url: str, exc: TransportQueryError) -> Exception:
    errors = exc.errors or []
    codes = {((error.get("extensions") or {}).get("exception") or {}).get("code") for error in errors}
    messages = "; ".join(str(error.get("message")) for error in errors) or str(exc)
    if "PermissionDenied" in codes:
        # A deleted or deactivated app's token is treated like no token: HTTP 200 with PermissionDenied.
        return AppAccessLost(
            f"Saleor at {url} denied {name}: {messages}. The app was deactivated or removed, or lacks a permission."
        )
    return PermanentError(f"Saleor rejected {name}: {messages}")
