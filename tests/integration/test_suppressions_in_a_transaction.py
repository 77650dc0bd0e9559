"""A suppression added inside someone else's transaction (a configuration import's): an address suppressed
already — by another process meanwhile, say — answers False and leaves the transaction usable, on both databases
(PostgreSQL aborts a whole transaction on a failed insert unless it sits in a savepoint)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select

from saleor_app.domain.providers import SuppressionChannel
from saleor_app.store.automation import SqlAutomationStore
from saleor_app.store.database import create_engine
from saleor_app.store.tables import InstallationRow, SuppressionRow

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def test_a_duplicate_inside_an_import_is_refused_quietly_and_the_rest_commits(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            installation = (await connection.execute(insert(InstallationRow.__table__).values(
                saleor_api_url="https://shop.example.com/graphql/", app_id="QXBwOjE=", jwks={}, permissions=[],
                status="active", installed_at=NOW, updated_at=NOW).returning(InstallationRow.__table__.c.id))
            ).scalar_one()
        async with SqlAutomationStore(engine).transaction() as tx:
            store = tx.providers()
            email = SuppressionChannel.EMAIL
            assert await store.suppress(installation, email, "Gone@Example.com", "file", "import", NOW)
            assert not await store.suppress(installation, email, "gone@example.com", "race", "import", NOW)
            assert await store.suppress(installation, email, "also@example.com", "file", "import", NOW)
        async with engine.connect() as connection:
            rows = (await connection.execute(select(SuppressionRow.__table__.c.address)
                                             .order_by(SuppressionRow.__table__.c.address))).scalars().all()
        assert rows == ["also@example.com", "gone@example.com"]
    finally:
        await engine.dispose()
