"""Retention: activity and handled webhooks older than their limits go, in batches; pending webhooks and
younger rows stay; 0 keeps everything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from saleor_app.store.retention import SqlRetention
from saleor_app.store.tables import ActivityRow, WebhookInboxRow
from tests.fakes.signing import SaleorSigner
from tests.integration.helpers import install

ACTIVITY = ActivityRow.__table__
INBOX = WebhookInboxRow.__table__


async def test_old_activity_and_handled_webhooks_are_trimmed_in_batches(container) -> None:
    installation = await install(container, SaleorSigner())
    now = datetime.now(UTC)
    old, young = now - timedelta(days=40), now - timedelta(days=5)
    async with container.engine.begin() as connection:
        await connection.execute(insert(ACTIVITY), [
            {"installation_id": installation.id, "kind": "job", "message": f"m{i}", "at": old if i < 7 else young}
            for i in range(10)])
        await connection.execute(insert(INBOX), [
            {"installation_id": installation.id, "event": "order_updated", "body_sha256": f"{i:064d}", "body": b"{}",
             "state": state, "received_at": at}
            for i, (state, at) in enumerate([("processed", old), ("ignored", old), ("pending", old),
                                              ("processed", young)])])
    retention = SqlRetention(container.engine, batch=3)
    kept = await retention.trim(now, activity_days=0, inbox_days=0)
    assert (kept.activity, kept.inbox) == (0, 0)
    trimmed = await retention.trim(now, activity_days=30, inbox_days=30)
    assert (trimmed.activity, trimmed.inbox) == (7, 2)
    async with container.engine.connect() as connection:
        assert (await connection.execute(select(func.count()).select_from(ACTIVITY))).scalar_one() == 3
        states = sorted(row[0] for row in await connection.execute(select(INBOX.c.state)))
    assert states == ["pending", "processed"]  # a pending delivery is never deleted, however old
