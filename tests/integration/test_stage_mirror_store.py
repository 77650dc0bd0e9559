"""The stage-mirror record is compare-and-set: of concurrent writers that read the same record, one claims it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from saleor_app.domain.stage_mirror import MirrorRecord
from tests.fakes.signing import SaleorSigner
from tests.integration.helpers import install


async def test_one_of_concurrent_claims_wins_and_the_record_round_trips(container) -> None:
    installation = await install(container, SaleorSigner())
    now = datetime.now(UTC).replace(microsecond=123456)
    async with container.automation.transaction() as tx:
        order = await tx.save_order(installation.id, "T3JkZXI6MQ==", {"status": "UNFULFILLED"}, now)
    assert order.mirror == MirrorRecord()
    claim = MirrorRecord("paid", 7, now)

    async def try_claim() -> bool:
        async with container.automation.transaction() as tx:
            return await tx.claim_mirror(order.id, MirrorRecord(), claim)

    assert sorted(await asyncio.gather(*[try_claim() for _ in range(6)])) == [False] * 5 + [True]
    async with container.automation.reading() as tx:
        stored = await tx.order(installation.id, order.order_id)
    assert stored is not None and stored.mirror == claim  # the claim time comes back exactly: it is compared
    async with container.automation.transaction() as tx:
        assert await tx.claim_mirror(order.id, claim, MirrorRecord("paid", 7))
        assert not await tx.claim_mirror(order.id, claim, MirrorRecord("paid", 7))
