"""Claims: one UPDATE … RETURNING; concurrent claimers (FOR UPDATE SKIP LOCKED on PostgreSQL) never share a job."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from saleor_app.domain.installations import InstallationStatus
from saleor_app.store.tables import JobRow, OrderRow
from tests.fakes.signing import SaleorSigner
from tests.integration.helpers import APP_ID, install


async def seed(container, installation_id: int, due: datetime, count: int) -> None:
    now = datetime.now(UTC)
    async with container.engine.begin() as connection:
        await connection.execute(insert(OrderRow.__table__), [
            {"id": i + 1, "installation_id": installation_id, "order_id": f"o{i}", "number": str(i),
             "snapshot": {}, "snapshot_at": now, "first_seen_at": now} for i in range(count)])
        await connection.execute(insert(JobRow.__table__), [
            {"installation_id": installation_id, "order_row_id": i + 1, "rule_key": "r", "kind": "add_note",
             "idempotency_key": f"k{i}", "state": "scheduled", "due_at": due, "attempts": 0, "reason": "",
             "created_at": now, "updated_at": now} for i in range(count)])


async def test_concurrent_claims_never_share_a_job(container) -> None:
    installation = await install(container, SaleorSigner())
    now = datetime.now(UTC)
    await seed(container, installation.id, now - timedelta(seconds=1), 60)
    batches = await asyncio.gather(*[container.automation.claim_due(now, timedelta(minutes=5), 7) for _ in range(12)])
    claimed = [job_id for batch in batches for job_id in batch]
    assert len(claimed) == len(set(claimed)) == 60
    assert await container.automation.claim_due(now, timedelta(minutes=5), 7) == []


async def test_future_jobs_and_paused_or_inactive_installations_are_not_claimed(container) -> None:
    installation = await install(container, SaleorSigner())
    now = datetime.now(UTC)
    await seed(container, installation.id, now + timedelta(minutes=1), 3)
    assert await container.automation.claim_due(now, timedelta(minutes=5), 10) == []
    later = now + timedelta(minutes=2)
    await container.configure.pause(installation.id)
    assert await container.automation.claim_due(later, timedelta(minutes=5), 10) == []
    from saleor_app.engine.configure import OnResume

    await container.configure.resume(installation.id, OnResume.RUN)
    await container.installations.set_status(installation.id, InstallationStatus.INACTIVE, now, app_id=APP_ID)
    assert await container.automation.claim_due(later, timedelta(minutes=5), 10) == []
    await container.installations.set_status(installation.id, InstallationStatus.ACTIVE, now, app_id=APP_ID)
    assert len(await container.automation.claim_due(later, timedelta(minutes=5), 10)) == 3
