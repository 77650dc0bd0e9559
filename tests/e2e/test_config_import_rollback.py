"""A configuration import is all or nothing, on both databases: when the database refuses a write anywhere in the
import's one transaction — a trigger written after the file's providers, a workflow written after the team, the
log line written last of all — no provider, setting, stage, rule, trigger, team member, group, sequence, workflow
or suppression changes, and no provider callback is registered. The fault is the database's own: a trigger in the
database that refuses one row, as a constraint would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from saleor_app.domain.config_file import dump_config
from saleor_app.domain.providers import ProviderStatus
from saleor_app.store.tables import (
    ActivityRow,
    AutomationSettingsRow,
    ProviderAccountRow,
    RuleRow,
    SenderRow,
    SequenceRow,
    StageRow,
    SuppressionRow,
    TeamGroupRow,
    TeamMemberRow,
    TriggerRow,
    WorkflowRow,
)
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.e2e.test_config_secrets import config_import
from tests.e2e.test_employee_config import FILE
from tests.fakes.twilio import FakeTwilio

SHOP = "+15005550006"
TABLES = (AutomationSettingsRow, StageRow, RuleRow, TriggerRow, TeamMemberRow, TeamGroupRow, SequenceRow,
          WorkflowRow, SuppressionRow, ProviderAccountRow, SenderRow, ActivityRow)

# The team's file (team, a sequence, a workflow, rules naming them) with a Twilio account of its own, enabled SMS
# and call rules on it, a trigger and a suppression: every section an import writes.
PIPELINE = FILE.replace("    match: {status: [UNFULFILLED], charge_status: [NONE, PARTIAL], refund: none}\n",
                        "    match: {status: [UNFULFILLED], charge_status: [NONE, PARTIAL], refund: none}\n"
                        "    rules:\n"
                        "      - {key: texted, name: Reminder by SMS, kind: sms, provider: twilio-main,\n"
                        "         text: 'Order {{ order.number }}: please pay'}\n"
                        "      - {key: called, name: Reminder by phone, kind: call, text: Please pay your order}\n"
                        ).replace("    match: {status: [UNFULFILLED], charge_status: [FULL, OVERCHARGED]}\n",
                                  "    match: {status: [UNFULFILLED], charge_status: [FULL, OVERCHARGED]}\n"
                                  "    triggers:\n      - {key: late, event: order_paid}\n") + (
    "providers:\n- key: twilio-main\n  kind: twilio\n  credentials:\n"
    "    account_sid: ${SHOP_TWILIO_SID}\n    auth_token: ${SHOP_TWILIO_TOKEN}\n"
    "suppressions:\n- {channel: email, address: gone@example.com, reason: asked us by phone}\n")

# (table, the row it refuses): where in the import's transaction the database says no.
FAULTS = {
    "a trigger, after the providers": ("triggers", "NEW.key = 'late'"),
    "a workflow, after the team": ("workflows", "NEW.key = 'follow-up'"),
    "the log line, last of all": ("activity", "substr(NEW.message, 1, 22) = 'configuration imported'"),
}


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as fake:
        fake.account.add_number(SHOP, "Shop line")
        yield fake


@pytest.fixture
async def stack(settings, twilio: FakeTwilio) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings.model_copy(update={"twilio_api_base_url": twilio.base_url})):
        yield built


async def snapshot(stack: EngineStack) -> dict[str, list[dict[str, Any]]]:
    """Every row an import could write, as stored (ids and times included)."""
    found = {}
    async with stack.container.engine.connect() as connection:
        for model in TABLES:
            table = model.__table__  # type: ignore[attr-defined]
            rows = await connection.execute(select(table).order_by(*table.primary_key.columns))
            found[table.name] = [dict(row) for row in rows.mappings()]
    return found


async def refuse(stack: EngineStack, table: str, condition: str) -> None:
    """Make the database refuse inserting the rows of `table` that match `condition` (in terms of NEW)."""
    async with stack.container.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            await connection.exec_driver_sql(f"CREATE TRIGGER refuse_import BEFORE INSERT ON {table} FOR EACH ROW "
                                             f"WHEN {condition} BEGIN SELECT RAISE(ABORT, 'refused by the database'); "
                                             "END")
        else:
            await connection.exec_driver_sql("CREATE FUNCTION refuse_import() RETURNS trigger LANGUAGE plpgsql AS "
                                             "$$ BEGIN RAISE EXCEPTION 'refused by the database'; END $$")
            await connection.exec_driver_sql(f"CREATE TRIGGER refuse_import BEFORE INSERT ON {table} FOR EACH ROW "
                                             f"WHEN ({condition}) EXECUTE FUNCTION refuse_import()")


async def allow(stack: EngineStack, table: str) -> None:
    async with stack.container.engine.begin() as connection:
        sqlite = connection.dialect.name == "sqlite"
        await connection.exec_driver_sql("DROP TRIGGER refuse_import" + ("" if sqlite else f" ON {table}"))


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("fault", FAULTS)
async def test_a_write_the_database_refuses_leaves_every_section_as_it_was(
        stack: EngineStack, twilio: FakeTwilio, tmp_path: Path, fault: str) -> None:
    installation = stack.installation.id
    await stack.rule(key="keep", stage="paid", kind="add_note", config={"message": "keep"})
    file = tmp_path / "automation.yaml"
    file.write_text(PIPELINE)
    env = {"SHOP_TWILIO_SID": twilio.account.sid, "SHOP_TWILIO_TOKEN": twilio.account.auth_token}
    table, condition = FAULTS[fault]
    await refuse(stack, table, condition)
    before = await snapshot(stack)
    exported = dump_config(await stack.container.configure.export_config(installation))

    failed = await config_import(stack, file, **env)
    assert failed.exit_code == 1 and "The database refused: refused by the database" in failed.stderr, failed.output
    assert "What it refused was rolled back" in failed.stderr and "Traceback" not in failed.output
    assert twilio.requests, "the account was checked with a real call before the transaction"
    assert await snapshot(stack) == before
    assert dump_config(await stack.container.configure.export_config(installation)) == exported
    assert twilio.account.numbers[0].sms_url == ""  # nothing committed, so no callback registered

    await allow(stack, table)  # the same file, the fault gone: all of it lands
    applied = await config_import(stack, file, **env)
    assert applied.exit_code == 0, applied.output
    [view] = await stack.container.providers.list(installation)
    assert view.account.status is ProviderStatus.CONNECTED
    after = await snapshot(stack)
    assert {row["key"] for row in after["team_members"]} == {"ann", "bob"}
    assert [row["key"] for row in after["workflows"]] == ["follow-up"]
    assert [row["address"] for row in after["suppressions"]] == ["gone@example.com"]
    assert {"texted", "called", "owner"} <= {row["key"] for row in after["rules"]}
    assert "keep" not in {row["key"] for row in after["rules"]}  # not in the file: removed
    assert twilio.account.numbers[0].sms_url.endswith("/inbound")
