"""The catch-up poller's store on SQLite and PostgreSQL: checkpoints that never go back, and known orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from saleor_app.store.catchup import SqlCatchUpStore
from saleor_app.store.tables import OrderRow
from tests.fakes.signing import SaleorSigner
from tests.integration.helpers import install

T0 = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)


async def seed_orders(container, installation_id: int, statuses: list[str], *, prefix: str = "o") -> None:
    async with container.engine.begin() as connection:
        await connection.execute(insert(OrderRow.__table__), [  # type: ignore[attr-defined]
            {"installation_id": installation_id, "order_id": f"{prefix}{i}", "number": str(i),
             "snapshot": {"id": f"{prefix}{i}", "status": status, "updatedAt": T0.isoformat()},
             "snapshot_at": T0, "first_seen_at": T0} for i, status in enumerate(statuses)])


async def test_the_checkpoint_moves_forward_only_and_an_error_keeps_it(container) -> None:
    store = SqlCatchUpStore(container.engine)
    installation = await install(container, SaleorSigner())
    assert await store.state(installation.id) is None

    await store.record_error(installation.id, "Saleor answered with HTTP 503", T0)
    first = await store.state(installation.id)
    assert first is not None and first.updated_since is None and first.last_error == "Saleor answered with HTTP 503"

    await store.save_scan(installation.id, T0 + timedelta(minutes=5), T0 + timedelta(minutes=6))
    saved = await store.state(installation.id)
    assert saved is not None
    assert saved.updated_since == T0 + timedelta(minutes=5) and saved.last_run_at == T0 + timedelta(minutes=6)
    assert saved.last_error is None and saved.last_recheck_at is None

    # A slower process finishing an older scan late must not move the checkpoint back.
    await store.save_scan(installation.id, T0 + timedelta(minutes=1), T0 + timedelta(minutes=7))
    kept = await store.state(installation.id)
    assert kept is not None
    assert kept.updated_since == T0 + timedelta(minutes=5) and kept.last_run_at == T0 + timedelta(minutes=7)

    await store.record_error(installation.id, "x" * 5000, T0 + timedelta(minutes=8))
    failed = await store.state(installation.id)
    assert failed is not None and failed.updated_since == T0 + timedelta(minutes=5)
    assert failed.last_error == "x" * 1000 and failed.last_run_at == T0 + timedelta(minutes=8)

    await store.save_recheck(installation.id, T0 + timedelta(minutes=9))
    await store.save_scan(installation.id, T0 + timedelta(minutes=10, microseconds=7), T0 + timedelta(minutes=10))
    latest = await store.state(installation.id)
    assert latest is not None and latest.last_error is None
    assert latest.updated_since == T0 + timedelta(minutes=10, microseconds=7)  # microseconds survive
    assert latest.last_recheck_at == T0 + timedelta(minutes=9)


async def test_a_checkpoint_in_another_time_zone_is_stored_as_the_same_moment(container) -> None:
    store = SqlCatchUpStore(container.engine)
    installation = await install(container, SaleorSigner())
    await store.save_scan(installation.id, T0.astimezone(ZoneInfo("Asia/Tokyo")), T0)
    # SQLite keeps naive text: written as Tokyo wall time (19:00), the checkpoint would read 19:00 UTC.
    await store.save_scan(installation.id, T0 - timedelta(seconds=1), T0)
    saved = await store.state(installation.id)
    assert saved is not None and saved.updated_since == T0


async def test_unfinished_orders_are_the_known_ones_not_final_paged_by_row(container) -> None:
    store = SqlCatchUpStore(container.engine)
    installation = await install(container, SaleorSigner())
    other = await install(container, SaleorSigner(), api_url="https://other.example.com/graphql/")
    statuses = ["UNCONFIRMED", "FULFILLED", "UNFULFILLED", "CANCELED", "PARTIALLY_FULFILLED", "EXPIRED",
                "RETURNED", "PARTIALLY_RETURNED", "DRAFT", "UNFULFILLED"]
    await seed_orders(container, installation.id, statuses)
    await seed_orders(container, other.id, ["UNCONFIRMED"], prefix="other")

    pages, after = [], 0
    while page := await store.unfinished_orders(installation.id, after, 2):
        pages.append([order.order_id for order in page])
        after = page[-1].row_id
    assert pages == [["o0", "o2"], ["o4", "o7"], ["o9"]]
    first = (await store.unfinished_orders(installation.id, 0, 1))[0]
    assert first.snapshot["status"] == "UNCONFIRMED"


async def test_snapshots_are_read_by_order_id_within_the_installation(container) -> None:
    store = SqlCatchUpStore(container.engine)
    installation = await install(container, SaleorSigner())
    other = await install(container, SaleorSigner(), api_url="https://other.example.com/graphql/")
    await seed_orders(container, installation.id, ["UNCONFIRMED", "FULFILLED"])
    await seed_orders(container, other.id, ["UNFULFILLED"])  # the same Saleor ids in another shop
    found = await store.snapshots(installation.id, ["o0", "o1", "unknown"])
    assert {order_id: snapshot["status"] for order_id, snapshot in found.items()} == {"o0": "UNCONFIRMED",
                                                                                        "o1": "FULFILLED"}
    assert await store.snapshots(installation.id, []) == {}
