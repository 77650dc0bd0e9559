"""One long-lived GraphQL client per installation, so calls reuse their HTTP connections."""

from __future__ import annotations

from saleor_app.domain.installations import Installation
from saleor_app.domain.ports import InstallationRepository
from saleor_app.saleor.gateway import SaleorAppProblems, SaleorOrderGateway
from saleor_app.saleor.graphql_client import SaleorGraphQLClient


class SaleorClients:
    def __init__(self, installations: InstallationRepository, *, timeout: float) -> None:
        self._installations = installations
        self._timeout = timeout
        self._clients: dict[int, tuple[str, SaleorGraphQLClient]] = {}

    async def client(self, installation: Installation) -> SaleorGraphQLClient:
        token = await self._installations.token_for(installation.id)
        cached = self._clients.get(installation.id)
        if cached is not None and cached[0] == token:
            return cached[1]
        if cached is not None:
            await cached[1].close()  # a reinstall brought a new token
        client = SaleorGraphQLClient(installation.saleor_api_url, token, timeout=self._timeout)
        self._clients[installation.id] = (token, client)
        return client

    async def order_gateway(self, installation: Installation) -> SaleorOrderGateway:
        return SaleorOrderGateway(await self.client(installation))

    async def app_problems(self, installation: Installation) -> SaleorAppProblems:
        return SaleorAppProblems(await self.client(installation))

    async def aclose(self) -> None:
        for _, client in self._clients.values():
            await client.close()
        self._clients.clear()
