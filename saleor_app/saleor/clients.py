"""One long-lived GraphQL client per installation, so calls reuse their HTTP connections."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from saleor_app.domain.installations import Installation
from saleor_app.domain.ports import InstallationRepository
from saleor_app.saleor.gateway import SaleorAppProblems, SaleorOrderGateway
from saleor_app.saleor.graphql_client import SaleorGraphQLClient


class SaleorClients:
    def __init__(self, installations: InstallationRepository, *, timeout: float,
                 transport: Callable[[], httpx.AsyncBaseTransport] | None = None) -> None:
        """`transport` makes each client's address-guarded transport."""
        self._installations = installations
        self._timeout = timeout
        self._transport = transport
        self._clients: dict[int, tuple[str, SaleorGraphQLClient]] = {}

    async def client(self, installation: Installation) -> SaleorGraphQLClient:
        token = await self._installations.token_for(installation.id)
        cached = self._clients.get(installation.id)
        if cached is not None and cached[0] == token:
            return cached[1]
        if cached is not None:
            await cached[1].close()  # a reinstall brought a new token
        client = self.connect(installation.saleor_api_url, token)
        self._clients[installation.id] = (token, client)
        return client

    def connect(self, saleor_api_url: str, token: str) -> SaleorGraphQLClient:
        """A new client for any Saleor URL and token, through the same address policy; the caller closes it."""
        return SaleorGraphQLClient(saleor_api_url, token, timeout=self._timeout,
                                   transport=self._transport() if self._transport else None)

    async def order_gateway(self, installation: Installation) -> SaleorOrderGateway:
        return SaleorOrderGateway(await self.client(installation))

    async def app_problems(self, installation: Installation) -> SaleorAppProblems:
        return SaleorAppProblems(await self.client(installation))

    async def aclose(self) -> None:
        for _, client in self._clients.values():
            await client.close()
        self._clients.clear()
