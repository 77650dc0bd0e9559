"""Helpers for integration tests: an installed tenant and signed deliveries through the ASGI app."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from saleor_app.domain.installations import Installation
from saleor_app.domain.ports import NewInstallation
from saleor_app.wiring import Container
from tests.fakes.signing import SaleorSigner
from tests.secret_watch import watched

API_URL = "https://shop.example.com/graphql/"
APP_ID = "QXBwOjE="


async def install(
    container: Container, signer: SaleorSigner, *, api_url: str = API_URL, app_id: str = APP_ID
) -> Installation:
    return await container.installations.upsert(
        NewInstallation(api_url, app_id, "app-token-secret", signer.jwks, ("MANAGE_ORDERS",), "3.23.28"),
        datetime.now(UTC),
    )


def webhook_headers(signer: SaleorSigner, body: bytes, event: str, api_url: str = API_URL) -> dict[str, str]:
    signature = signer.sign_webhook(body)
    return {
        "Content-Type": "application/json",
        "Saleor-Event": event,
        "Saleor-Domain": api_url.split("/")[2],
        "Saleor-Signature": signature,
        "Saleor-Api-Url": api_url,
    }


def order_body(order_id: str = "T3JkZXI6MQ==", *, principal: str = "VXNlcjox", recipient: str = APP_ID,
               extra: str = "") -> bytes:
    return (
        '{"__typename": "OrderCreated", "issuedAt": "2026-11-24T01:20:43.214405+00:00", "version": "3.23.28", '
        f'"issuingPrincipal": {{"__typename": "User", "id": "{principal}"}}, "recipient": {{"id": "{recipient}"}}, '
        f'"order": {{"id": "{order_id}", "number": "22", "status": "UNFULFILLED"{extra}}}}}'
    ).encode()


def asgi_client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=watched(app)), base_url="http://localhost")  # type: ignore[arg-type]
