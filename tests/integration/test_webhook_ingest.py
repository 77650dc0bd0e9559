"""POST /api/webhooks/*: verification, durable storage, dedupe and every refusal, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, text

from saleor_app.app import create_app
from saleor_app.domain.installations import InstallationStatus
from saleor_app.store.tables import WebhookInboxRow
from saleor_app.wiring import Container
from tests.fakes.signing import SaleorSigner
from tests.integration.helpers import API_URL, APP_ID, asgi_client, install, order_body, webhook_headers


async def inbox_rows(container: Container) -> list[WebhookInboxRow]:
    async with container.engine.connect() as connection:
        rows = (await connection.execute(select(WebhookInboxRow.__table__))).all()  # type: ignore[attr-defined]
    return [WebhookInboxRow(**row._mapping) for row in rows]


@pytest.fixture
def signer() -> SaleorSigner:
    return SaleorSigner()


@pytest.fixture
async def client(container: Container, settings) -> httpx.AsyncClient:
    async with asgi_client(create_app(settings, container)) as http:
        yield http


async def test_signed_delivery_is_stored_before_acknowledgement(container, client, signer) -> None:
    installation = await install(container, signer)
    body = order_body()
    response = await client.post("/api/webhooks/orders", content=body,
                                 headers=webhook_headers(signer, body, "order_created"))
    assert response.status_code == 200, response.text
    [row] = await inbox_rows(container)
    assert row.installation_id == installation.id
    assert row.event == "order_created"
    assert row.body == body
    assert row.order_id == "T3JkZXI6MQ=="
    assert row.issued_at == "2026-11-24T01:20:43.214405+00:00"
    assert row.self_caused is False and row.parse_error is None and row.state == "pending"


async def test_duplicate_is_acknowledged_and_stored_once(container, client, signer) -> None:
    await install(container, signer)
    body = order_body()
    headers = webhook_headers(signer, body, "order_created")
    for _ in range(3):
        assert (await client.post("/api/webhooks/orders", content=body, headers=headers)).status_code == 200
    other_event = webhook_headers(signer, body, "order_updated")
    assert (await client.post("/api/webhooks/orders", content=body, headers=other_event)).status_code == 200
    assert sorted(row.event for row in await inbox_rows(container)) == ["order_created", "order_updated"]


async def test_concurrent_distinct_deliveries_are_all_stored(container, client, signer) -> None:
    import asyncio

    await install(container, signer)
    bodies = [order_body(f"T3JkZXI6{i}") for i in range(60)]
    responses = await asyncio.gather(*[
        client.post("/api/webhooks/orders", content=b, headers=webhook_headers(signer, b, "order_updated"))
        for b in bodies
    ])
    assert [r.status_code for r in responses] == [200] * 60
    assert len(await inbox_rows(container)) == 60


async def test_self_caused_event_is_flagged(container, client, signer) -> None:
    await install(container, signer)
    body = order_body(principal=APP_ID)
    await client.post("/api/webhooks/orders", content=body, headers=webhook_headers(signer, body, "order_updated"))
    [row] = await inbox_rows(container)
    assert row.self_caused is True


async def test_verified_body_that_does_not_parse_is_stored_and_flagged(container, client, signer) -> None:
    await install(container, signer)
    body = b'{"order": {"id": "T3Jk'
    response = await client.post("/api/webhooks/orders", content=body,
                                 headers=webhook_headers(signer, body, "order_updated"))
    assert response.status_code == 200
    [row] = await inbox_rows(container)
    assert row.parse_error is not None and "not valid JSON" in row.parse_error
    assert row.body == body


async def test_tampered_body_is_refused_with_401(container, client, signer, saleor_http) -> None:
    await install(container, signer)
    saleor_http.handler = lambda request: httpx.Response(200, json=signer.jwks)
    body = order_body()
    headers = webhook_headers(signer, body, "order_created")
    response = await client.post("/api/webhooks/orders", content=body.replace(b"22", b"23"), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "SIGNATURE_VERIFICATION_FAILED"
    assert await inbox_rows(container) == []


async def test_another_installations_key_is_refused(container, client, signer, saleor_http) -> None:
    await install(container, signer)
    intruder = SaleorSigner()
    saleor_http.handler = lambda request: httpx.Response(200, json=signer.jwks)
    body = order_body()
    response = await client.post("/api/webhooks/orders", content=body,
                                 headers=webhook_headers(intruder, body, "order_created"))
    assert response.status_code == 401
    assert await inbox_rows(container) == []


async def test_unknown_saleor_is_refused_without_any_outbound_call(container, client, signer, saleor_http) -> None:
    body = order_body()
    response = await client.post("/api/webhooks/orders", content=body,
                                 headers=webhook_headers(signer, body, "order_created", "https://evil.example/graphql/"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "NOT_REGISTERED"
    assert saleor_http.requests == []


async def test_jwks_unreachable_answers_503_so_saleor_retries(container, client, signer, saleor_http) -> None:
    await install(container, signer)
    saleor_http.handler = lambda request: httpx.Response(502)
    rotated = SaleorSigner()
    body = order_body()
    response = await client.post("/api/webhooks/orders", content=body,
                                 headers=webhook_headers(rotated, body, "order_created"))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "KEYS_UNAVAILABLE"


async def test_key_rotation_is_accepted_after_refetch(container, client, signer, saleor_http) -> None:
    await install(container, signer)
    rotated = SaleorSigner()
    saleor_http.handler = lambda request: httpx.Response(200, json=rotated.jwks)
    body = order_body()
    response = await client.post("/api/webhooks/orders", content=body,
                                 headers=webhook_headers(rotated, body, "order_created"))
    assert response.status_code == 200
    stored = await container.installations.get_by_url(API_URL)
    assert stored is not None and stored.jwks == rotated.jwks


@pytest.mark.parametrize(
    ("drop", "status"),
    [("Saleor-Api-Url", 400), ("Saleor-Event", 400), ("Saleor-Signature", 401)],
)
async def test_missing_headers(container, client, signer, drop: str, status: int) -> None:
    await install(container, signer)
    body = order_body()
    headers = webhook_headers(signer, body, "order_created")
    del headers[drop]
    response = await client.post("/api/webhooks/orders", content=body, headers=headers)
    assert response.status_code == status
    assert drop in response.json()["error"]["message"]
    assert await inbox_rows(container) == []


async def test_oversized_body_is_refused_with_413(container, client, signer) -> None:
    await install(container, signer)
    body = order_body(extra=', "pad": "' + "x" * 1_000_001 + '"')
    response = await client.post("/api/webhooks/orders", content=body,
                                 headers=webhook_headers(signer, body, "order_created"))
    assert response.status_code == 413
    assert await inbox_rows(container) == []


async def test_event_the_app_does_not_subscribe_to_is_refused(container, client, signer) -> None:
    await install(container, signer)
    body = order_body()
    response = await client.post("/api/webhooks/orders", content=body,
                                 headers=webhook_headers(signer, body, "checkout_created"))
    assert response.status_code == 400
    assert "checkout_created" in response.json()["error"]["message"]


async def test_database_failure_answers_503_and_acknowledges_nothing(container, client, signer) -> None:
    await install(container, signer)
    await container.installations.get_by_url(API_URL)  # cached, so only the write fails
    async with container.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE webhook_inbox RENAME TO webhook_inbox_gone"))
    body = order_body()
    response = await client.post("/api/webhooks/orders", content=body,
                                 headers=webhook_headers(signer, body, "order_created"))
    assert response.status_code == 503
    async with container.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE webhook_inbox_gone RENAME TO webhook_inbox"))
    response = await client.post("/api/webhooks/orders", content=body,
                                 headers=webhook_headers(signer, body, "order_created"))
    assert response.status_code == 200
    assert len(await inbox_rows(container)) == 1


def lifecycle_body(event: str, app_id: str, *, active: bool | None = None) -> bytes:
    typename = "AppDeleted" if event == "app_deleted" else "AppStatusChanged"
    app = f'{{"id": "{app_id}", "identifier": "saleor.order-automation"'
    if active is not None:
        app += f', "isActive": {"true" if active else "false"}'
    return (
        f'{{"__typename": "{typename}", "issuedAt": "2026-11-24T01:40:00+00:00", "version": "3.23.28", '
        f'"issuingPrincipal": {{"__typename": "User", "id": "VXNlcjoyMQ=="}}, "recipient": {{"id": "{app_id}"}}, '
        f'"app": {app}}}}}'
    ).encode()


async def test_app_deleted_from_a_previous_install_does_not_uninstall(container, client, signer) -> None:
    await install(container, signer)
    body = lifecycle_body("app_deleted", "QXBwOjk5")
    response = await client.post("/api/webhooks/app", content=body, headers=webhook_headers(signer, body, "app_deleted"))
    assert response.status_code == 200
    current = await container.installations.get_by_url(API_URL)
    assert current is not None and current.status is InstallationStatus.ACTIVE
    assert await container.installations.token_for(current.id) == "app-token-secret"


async def test_app_deleted_uninstalls_wipes_token_and_refuses_later_events(container, client, signer) -> None:
    installation = await install(container, signer)
    body = lifecycle_body("app_deleted", APP_ID)
    response = await client.post("/api/webhooks/app", content=body, headers=webhook_headers(signer, body, "app_deleted"))
    assert response.status_code == 200
    current = await container.installations.get_by_url(API_URL)
    assert current is not None and current.status is InstallationStatus.UNINSTALLED
    from saleor_app.domain.errors import AppAccessLost

    with pytest.raises(AppAccessLost):
        await container.installations.token_for(installation.id)
    order = order_body()
    late = await client.post("/api/webhooks/orders", content=order, headers=webhook_headers(signer, order, "order_created"))
    assert late.status_code == 410
    assert await inbox_rows(container) == []


async def test_deactivation_pauses_and_reactivation_resumes(container, client, signer) -> None:
    await install(container, signer)
    for active, expected in [(False, InstallationStatus.INACTIVE), (True, InstallationStatus.ACTIVE)]:
        body = lifecycle_body("app_status_changed", APP_ID, active=active)
        response = await client.post("/api/webhooks/app", content=body,
                                     headers=webhook_headers(signer, body, "app_status_changed"))
        assert response.status_code == 200
        current = await container.installations.get_by_url(API_URL)
        assert current is not None and current.status is expected


async def test_webhook_paths_take_only_post_and_other_routes_pass_through(client) -> None:
    response = await client.get("/api/webhooks/orders")
    assert response.status_code == 405
    manifest = await client.get("/api/manifest")
    assert manifest.status_code == 200 and manifest.json()["id"] == "saleor.order-automation"
    assert (await client.post("/api/webhooks/orders/")).status_code == 404  # exact paths: no slash redirects


async def test_a_poison_delivery_is_refused_alone_and_its_neighbours_are_stored(container, client, signer,
                                                                                 caplog) -> None:
    import asyncio

    await install(container, signer)
    poison = order_body("P" * 300)  # signed, so it passes every check before the inbox
    bodies = [order_body(f"T3JkZXI6{i}") for i in range(5)] + [poison] + [order_body(f"T3JkZXI6{i}")
                                                                           for i in range(5, 10)]
    responses = await asyncio.gather(*[
        client.post("/api/webhooks/orders", content=b, headers=webhook_headers(signer, b, "order_updated"))
        for b in bodies
    ])
    assert [r.status_code for r in responses] == [200] * 5 + [400] + [200] * 5
    assert responses[5].json()["error"]["code"] == "DELIVERY_REFUSED"
    assert sorted(row.order_id or "" for row in await inbox_rows(container)) == sorted(
        f"T3JkZXI6{i}" for i in range(10))
    [refused] = [r for r in caplog.records if r.getMessage() == "webhook delivery refused"]
    assert refused.event == "order_updated" and refused.order_id.startswith("PPPP")  # type: ignore[attr-defined]


async def test_the_inbox_stores_a_batch_around_a_row_the_database_refuses(container, database_url) -> None:
    """Rows gathered into one commit: the one the database refuses fails alone (whatever the reason), the others are
    stored. Three stores queued before the writer runs are one batch (asyncio runs tasks in the order they start)."""
    import asyncio
    from datetime import UTC, datetime

    from saleor_app.domain.webhooks import DeliveryRefused, triage
    from saleor_app.store.inbox import SqlWebhookInbox

    signer = SaleorSigner()
    installation = await install(container, signer)
    now = datetime.now(UTC)
    good = [triage(installation.id, "order_updated", order_body(f"T3JkZXI6{i}"), now) for i in range(2)]
    # No such installation: a foreign key both databases enforce.
    poisons = [triage(installation.id + 1000, "order_updated", order_body("T3JkZXI6x"), now)]
    if database_url.startswith("postgresql"):  # a value too long for its column (SQLite does not check lengths)
        long_id = triage(installation.id, "order_updated", order_body("T3JkZXI6y"), now)
        poisons.append(type(long_id)(**{**{f: getattr(long_id, f) for f in long_id.__slots__},
                                        "order_id": "P" * 300}))
    inbox = SqlWebhookInbox(database_url)
    try:
        for poison in poisons:
            results = await asyncio.gather(inbox.store(good[0]), inbox.store(poison), inbox.store(good[1]),
                                           return_exceptions=True)
            assert results[0] in (True, False) and results[2] in (True, False), results
            assert isinstance(results[1], DeliveryRefused), results
    finally:
        await inbox.close()
    assert sorted(row.order_id or "" for row in await inbox_rows(container)) == ["T3JkZXI60", "T3JkZXI61"]
