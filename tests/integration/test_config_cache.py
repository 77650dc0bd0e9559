"""Configuration is cached per installation and version: a change made by another process is seen at once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event

from saleor_app.domain.pipeline import DEFAULT_PIPELINE
from saleor_app.domain.rules import RuleSpec
from saleor_app.domain.triggers import TriggerSpec
from saleor_app.store.automation import SqlAutomationStore
from saleor_app.store.database import create_engine
from tests.fakes.signing import SaleorSigner
from tests.integration.helpers import install


async def test_a_second_process_sees_configuration_changes_and_reads_are_cached(container, settings) -> None:
    installation = await install(container, SaleorSigner())
    await container.automation.seed_pipeline(installation.id, DEFAULT_PIPELINE, datetime.now(UTC))
    other_engine = create_engine(settings.database_url)
    other = SqlAutomationStore(other_engine)  # another process: its own engine and cache
    statements: list[str] = []
    event.listen(other_engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: statements.append(statement))
    try:
        async with other.transaction() as tx:
            assert await tx.rules(installation.id, "new") == []
            assert await tx.triggers(installation.id) == []
        statements.clear()
        async with other.transaction() as tx:  # nothing changed: one read (the version) answers everything
            assert [stage.key for stage in (await tx.pipeline(installation.id)).stages][0] == "new"
            assert await tx.rules(installation.id, "new") == [] and (await tx.settings(installation.id)).time_zone
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1

        await container.configure.save_rule(installation.id, RuleSpec(
            key="hello", name="hello", stage="new", kind="add_note", config={"message": "hi"}))
        await container.configure.save_trigger(installation.id, TriggerSpec(
            key="paid", stage="paid", event="order_paid"))
        async with other.transaction() as tx:
            assert [rule.key for rule in await tx.rules(installation.id, "new")] == ["hello"]
            assert [trigger.key for trigger in await tx.triggers(installation.id)] == ["paid"]
        await container.configure.delete_rule(installation.id, "hello")
        async with other.transaction() as tx:
            assert await tx.rules(installation.id, "new") == []
    finally:
        await other_engine.dispose()
