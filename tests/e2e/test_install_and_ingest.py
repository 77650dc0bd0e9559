"""The real app over real HTTP against the fake Saleor: install, signed webhooks, gateway, lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from saleor_app.app import create_app
from saleor_app.domain.errors import AppAccessLost, SaleorRefusal, SaleorUnavailable
from saleor_app.domain.installations import Installation, InstallationStatus
from saleor_app.settings import Settings
from saleor_app.store.tables import WebhookInboxRow
from saleor_app.wiring import Container, build_container
from tests.fakes.loopback import LoopbackServer, free_port
from tests.fakes.saleor import FakeSaleor
from tests.fakes.saleor_install import InstallFailed
from tests.timing import HTTP_TIMEOUT


@dataclass
class Stack:
    saleor: FakeSaleor
    container: Container
    app_url: str

    @property
    def manifest_url(self) -> str:
        return f"{self.app_url}/api/manifest"

    async def installation(self) -> Installation:
        found = await self.container.installations.get_by_url(self.saleor.api_url)
        assert found is not None
        return found

    async def inbox(self) -> list[tuple[str, bool, str | None]]:
        async with self.container.engine.connect() as connection:
            table = WebhookInboxRow.__table__  # type: ignore[attr-defined]
            rows = await connection.execute(select(table.c.event, table.c.self_caused, table.c.order_id)
                                            .order_by(table.c.id))
            return [(row[0], bool(row[1]), row[2]) for row in rows]


async def start_stack(settings: Settings, **overrides: object) -> AsyncIterator[Stack]:
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    settings = settings.model_copy(update={"app_url": app_url, **overrides})
    container = build_container(settings)
    # Lifespan off: the worker does not run, so these tests see exactly what ingest stored.
    try:
        async with FakeSaleor() as saleor, LoopbackServer(create_app(settings, container), port=port,
                                                          lifespan="off"):
            yield Stack(saleor, container, app_url)
    finally:
        await container.aclose()


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[Stack]:
    async for built in start_stack(settings):
        yield built


async def test_install_from_the_manifest_stores_the_installation(stack: Stack) -> None:
    app = await stack.saleor.install(stack.manifest_url)
    installation = await stack.installation()
    assert installation.app_id == app.id
    assert installation.status is InstallationStatus.ACTIVE
    assert installation.permissions == ("MANAGE_ORDERS",)
    assert installation.jwks == stack.saleor.signer.jwks
    assert await stack.container.installations.token_for(installation.id) == app.token
    assert [hook.name for hook in app.webhooks] == ["order-automation: order events", "order-automation: app lifecycle"]


async def test_order_webhooks_are_verified_and_stored_and_self_caused_ones_flagged(stack: Stack) -> None:
    await stack.saleor.install(stack.manifest_url)
    order = await stack.saleor.place_order(auto_confirm=False)
    gateway = await stack.container.saleor.order_gateway(await stack.installation())
    await gateway.confirm(order.id)  # the echo arrives before the mutation returns
    await gateway.add_note(order.id, "hello from the app")
    assert [d.status for d in stack.saleor.deliveries if d.saleor_event.startswith("order")] == [200, 200, 200]
    assert await stack.inbox() == [
        ("order_created", False, order.id),
        ("order_confirmed", True, order.id),
        ("order_updated", True, order.id),
    ]


async def test_gateway_reads_orders_and_maps_saleors_refusals(stack: Stack) -> None:
    await stack.saleor.install(stack.manifest_url)
    order = await stack.saleor.place_order(auto_confirm=True)
    gateway = await stack.container.saleor.order_gateway(await stack.installation())
    snapshot = await gateway.get_order(order.id)
    assert snapshot is not None and snapshot["number"] == str(order.number) and snapshot["status"] == "UNFULFILLED"
    with pytest.raises(SaleorRefusal) as refused:
        await gateway.confirm(order.id)
    assert refused.value.codes == {"INVALID"}
    assert "status different than unconfirmed" in str(refused.value)
    await gateway.mark_as_paid(order.id)
    with pytest.raises(SaleorRefusal, match="can not be manually marked as paid"):
        await gateway.mark_as_paid(order.id)
    with pytest.raises(SaleorRefusal) as empty:
        await gateway.add_note(order.id, "   ")
    assert empty.value.codes == {"REQUIRED"}
    stack.saleor.fail_graphql(times=1, status=503)
    with pytest.raises(SaleorUnavailable):
        await gateway.get_order(order.id)
    assert (await gateway.get_order(order.id)) is not None  # the next call goes through


async def test_deleted_app_loses_access_and_is_uninstalled(stack: Stack) -> None:
    await stack.saleor.install(stack.manifest_url)
    installation = await stack.installation()
    gateway = await stack.container.saleor.order_gateway(installation)
    await stack.saleor.delete_app()
    assert (await stack.installation()).status is InstallationStatus.UNINSTALLED
    with pytest.raises(AppAccessLost):
        await gateway.get_order("T3JkZXI6MQ==")


async def test_deactivation_and_reactivation_reach_the_app(stack: Stack) -> None:
    await stack.saleor.install(stack.manifest_url)
    await stack.saleor.set_app_active(False)
    assert (await stack.installation()).status is InstallationStatus.INACTIVE
    await stack.saleor.set_app_active(True)
    assert (await stack.installation()).status is InstallationStatus.ACTIVE


async def test_a_lifecycle_event_of_another_shape_is_acknowledged_and_ignored(stack: Stack) -> None:
    """Found by the fuzzer: `{"app": true}` was an AttributeError, answered 503, which Saleor retries for days."""
    await stack.saleor.install(stack.manifest_url)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        for event in ("APP_DELETED", "APP_STATUS_CHANGED"):
            for body in (b'{"app": true}', b'{"app": [1]}', b'{"app": {"id": 7}}', b"[]", b"not json"):
                response = await client.post(f"{stack.app_url}/api/webhooks/app", content=body, headers={
                    "saleor-event": event, "saleor-api-url": stack.saleor.api_url,
                    "saleor-signature": stack.saleor.signer.sign_webhook(body)})
                assert response.status_code == 200, f"{event} {body!r}: {response.status_code} {response.text}"
    assert (await stack.installation()).status is InstallationStatus.ACTIVE


async def test_reinstall_replaces_token_and_app_id(stack: Stack) -> None:
    first = await stack.saleor.install(stack.manifest_url)
    await stack.saleor.delete_app(first)
    second = await stack.saleor.install(stack.manifest_url)
    installation = await stack.installation()
    assert second.id != first.id
    assert installation.app_id == second.id and installation.status is InstallationStatus.ACTIVE
    assert await stack.container.installations.token_for(installation.id) == second.token


async def test_install_without_manage_orders_fails_with_a_clear_message(stack: Stack) -> None:
    with pytest.raises(InstallFailed) as failed:
        await stack.saleor.install(stack.manifest_url, permissions=[])
    assert "MANAGE_ORDERS" in failed.value.message
    assert await stack.container.installations.get_by_url(stack.saleor.api_url) is None


async def test_register_from_outside_the_allow_list_makes_no_outbound_call(settings: Settings) -> None:
    async for stack in start_stack(settings, allowed_saleor_urls=r"https://[a-z]+\.saleor\.cloud/graphql/"):
        with pytest.raises(InstallFailed) as failed:
            await stack.saleor.install(stack.manifest_url)
        assert failed.value.status == 403
        assert "ALLOWED_SALEOR_URLS" in failed.value.message
        assert stack.saleor.requests == []  # refused before any call to the claimed Saleor


async def test_register_with_a_token_saleor_does_not_know_is_401(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        response = await client.post(f"{stack.app_url}/api/register", json={"auth_token": "made-up-token-000000000000000"},
                                     headers={"Saleor-Api-Url": stack.saleor.api_url})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNKNOWN_APP_ID"
    assert response.json()["error"]["message"].count("you need one of the following permissions") == 1
    assert stack.saleor.requests == ["POST /graphql/"]  # the proof only: no keys fetched for a bad token
    assert await stack.container.installations.get_by_url(stack.saleor.api_url) is None


async def test_register_when_saleor_keys_are_unreachable_fails_and_stores_nothing(stack: Stack) -> None:
    stack.saleor.jwks_down(True)
    with pytest.raises(InstallFailed) as failed:
        await stack.saleor.install(stack.manifest_url)
    assert "keys" in failed.value.message
    assert await stack.container.installations.get_by_url(stack.saleor.api_url) is None


async def test_register_when_saleor_cannot_be_reached_back_says_so(stack: Stack) -> None:
    closed = f"http://127.0.0.1:{free_port()}/graphql/"
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        response = await client.post(f"{stack.app_url}/api/register", json={"auth_token": "t" * 30},
                                     headers={"Saleor-Api-Url": closed})
    assert response.status_code == 502
    assert "could not call Saleor back" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "headers", "code"),
    [
        (b'{"auth_token": "x"}', {}, "MISSING_SALEOR_API_URL"),
        (b"not json", {"Saleor-Api-Url": "http://127.0.0.1:1/graphql/"}, "INVALID_BODY"),
        (b"{}", {"Saleor-Api-Url": "http://127.0.0.1:1/graphql/"}, "MISSING_AUTH_TOKEN"),
        (b'{"auth_token": "x"}', {"Saleor-Api-Url": "http://127.0.0.1:1/api/"}, "INVALID_SALEOR_API_URL"),
    ],
)
async def test_malformed_register_calls_are_400(stack: Stack, body: bytes, headers: dict[str, str], code: str) -> None:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        response = await client.post(f"{stack.app_url}/api/register", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"success": False, "error": {"code": code, "message": response.json()["error"]["message"]}}


async def test_webhook_sync_is_idempotent_and_repairs_changed_webhooks(stack: Stack, settings: Settings) -> None:
    app = await stack.saleor.install(stack.manifest_url)
    await stack.container.sync_all_webhooks()
    assert not [m for m in stack.saleor.mutations if m.name.startswith("webhook")]
    moved = settings.model_copy(update={"app_url": stack.app_url, "app_api_base_url": "http://127.0.0.1:9/moved"})
    other = build_container(moved)
    try:
        await other.sync_all_webhooks()
    finally:
        await other.aclose()
    assert sorted(m.name for m in stack.saleor.mutations if m.name.startswith("webhook")) == ["webhookUpdate"] * 2
    assert {hook.target_url for hook in app.webhooks} == {"http://127.0.0.1:9/moved/api/webhooks/orders",
                                                          "http://127.0.0.1:9/moved/api/webhooks/app"}


async def test_key_rotation_in_saleor_is_followed(stack: Stack) -> None:
    await stack.saleor.install(stack.manifest_url)
    stack.saleor.rotate_key()
    order = await stack.saleor.place_order(auto_confirm=False)
    assert [d.status for d in stack.saleor.deliveries if d.saleor_event == "order_created"] == [200]
    assert (await stack.inbox())[0][2] == order.id
