"""Installations at rest: encrypted tokens, reinstall, stale lifecycle events, personal-data purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from saleor_app.domain.errors import AppAccessLost
from saleor_app.domain.installations import InstallationStatus
from saleor_app.domain.ports import NewInstallation
from saleor_app.domain.webhooks import triage
from saleor_app.store.tables import WebhookInboxRow
from tests.fakes.signing import SaleorSigner
from tests.integration.helpers import API_URL, APP_ID, install, order_body


async def test_token_is_encrypted_at_rest(container) -> None:
    installation = await install(container, SaleorSigner())
    async with container.engine.connect() as connection:
        stored = (await connection.execute(text("SELECT token_encrypted FROM installations"))).scalar_one()
    assert "app-token-secret" not in stored
    assert await container.installations.token_for(installation.id) == "app-token-secret"


async def test_reinstall_replaces_token_and_app_id_and_reactivates(container) -> None:
    signer = SaleorSigner()
    first = await install(container, signer)
    await container.installations.set_status(first.id, InstallationStatus.UNINSTALLED, datetime.now(UTC), app_id=APP_ID)
    second = await container.installations.upsert(
        NewInstallation(API_URL, "QXBwOjI=", "new-token", signer.jwks, ("MANAGE_ORDERS",), "3.23.28"), datetime.now(UTC)
    )
    assert second.id == first.id
    assert second.app_id == "QXBwOjI=" and second.status is InstallationStatus.ACTIVE
    assert await container.installations.token_for(second.id) == "new-token"


async def test_status_change_for_a_stale_app_id_changes_nothing(container) -> None:
    installation = await install(container, SaleorSigner())
    changed = await container.installations.set_status(
        installation.id, InstallationStatus.UNINSTALLED, datetime.now(UTC), app_id="QXBwOjk5"
    )
    assert changed is False
    assert (await container.installations.get(installation.id)).status is InstallationStatus.ACTIVE


async def test_personal_data_is_purged_only_after_the_retention_period(container) -> None:
    installation = await install(container, SaleorSigner())
    stored = await container.inbox.store(triage(installation.id, "order_created", order_body(), datetime.now(UTC)))
    assert stored is True
    await container.installations.set_status(installation.id, InstallationStatus.UNINSTALLED, datetime.now(UTC),
                                             app_id=APP_ID)
    retention = timedelta(days=30)
    assert await container.lifecycle.purge_personal_data(retention) == 0

    async def inbox_count() -> int:
        async with container.engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(WebhookInboxRow))).scalar_one())

    assert await inbox_count() == 1
    later = datetime.now(UTC) + retention + timedelta(minutes=1)
    assert await container.installations.purge_uninstalled(later - retention, later) == 1
    assert await inbox_count() == 0
    assert await container.installations.get(installation.id) is not None  # rules survive a reinstall
    with pytest.raises(AppAccessLost):
        await container.installations.token_for(installation.id)


async def test_inbox_tells_new_from_duplicate(container) -> None:
    installation = await install(container, SaleorSigner())
    delivery = triage(installation.id, "order_created", order_body(), datetime.now(UTC))
    assert await container.inbox.store(delivery) is True
    assert await container.inbox.store(delivery) is False
