"""Contract: every webhook captured from a real Saleor 3.23.28 passes the app's verifier and ingest."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import func, select

from saleor_app.app import create_app
from saleor_app.domain.installations import InstallationStatus
from saleor_app.store.tables import WebhookInboxRow
from tests.conftest import SAMPLES, SAMPLES_HOW, require
from tests.integration.helpers import asgi_client

SAMPLE_API_URL = "http://127.0.0.1:8000/graphql/"
SAMPLE_APP_ID = "QXBwOjI="


def captured() -> list[tuple[str, bytes, list[list[str]]]]:
    out = []
    for body_path in sorted((SAMPLES / "webhooks").glob("*.body")):
        headers = json.loads(body_path.with_suffix(".headers.json").read_text())["headers"]
        out.append((body_path.stem, body_path.read_bytes(), headers))
    return out


@pytest.fixture
async def sample_app(container, settings, saleor_http):
    require((SAMPLES / "jwks.json").exists(), f"the captured Saleor samples are not at {SAMPLES}: {SAMPLES_HOW}")
    from datetime import UTC, datetime

    from saleor_app.domain.ports import NewInstallation

    jwks = json.loads((SAMPLES / "jwks.json").read_text())
    saleor_http.handler = lambda request: httpx.Response(200, json=jwks)
    await container.installations.upsert(
        NewInstallation(SAMPLE_API_URL, SAMPLE_APP_ID, "sample-token", jwks, ("MANAGE_ORDERS",), "3.23.28"),
        datetime.now(UTC),
    )
    async with asgi_client(create_app(settings, container)) as client:
        yield client


async def test_every_captured_webhook_is_accepted_and_a_one_byte_change_is_not(container, sample_app) -> None:
    deliveries = captured()
    assert len(deliveries) == 39
    order_events = 0
    for name, body, headers in deliveries:
        path = "/api/webhooks/app" if name.endswith("app_deleted") else "/api/webhooks/orders"
        sent_headers = [(k, v) for k, v in headers if k not in {"Host", "Content-Length"}]
        tampered = body[:-2] + bytes([body[-2] ^ 1]) + body[-1:]
        refused = await sample_app.post(path, content=tampered, headers=sent_headers)
        assert refused.status_code in (401, 503), (name, refused.text)  # 503 when the refetch is held back
        if name.endswith("app_deleted"):
            continue  # applied last, below: it uninstalls
        response = await sample_app.post(path, content=body, headers=sent_headers)
        assert response.status_code == 200, (name, response.text)
        order_events += 1
    async with container.engine.connect() as connection:
        stored = (await connection.execute(select(func.count()).select_from(WebhookInboxRow))).scalar_one()
        self_caused = (
            await connection.execute(
                select(func.count()).select_from(WebhookInboxRow).where(WebhookInboxRow.self_caused)
            )
        ).scalar_one()
    assert stored == order_events == 38
    assert self_caused == 8  # 09-12, 17 and 36-38 were caused by the capturing app itself

    name, body, headers = deliveries[-1]
    sent_headers = [(k, v) for k, v in headers if k not in {"Host", "Content-Length"}]
    response = await sample_app.post("/api/webhooks/app", content=body, headers=sent_headers)
    assert response.status_code == 200
    installation = await container.installations.get_by_url(SAMPLE_API_URL)
    assert installation is not None and installation.status is InstallationStatus.UNINSTALLED

