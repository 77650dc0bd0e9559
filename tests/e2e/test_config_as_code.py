"""Automation as code against the real stack (both databases): export, import, round trip, all-or-nothing, API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from saleor_app.domain.config_document import ConfigFileError
from saleor_app.domain.config_file import dump_config, parse_config
from saleor_app.domain.triggers import TriggerSpec
from saleor_app.engine.config_plan import ApplyReport
from saleor_app.store.tables import ActivityRow, AutomationSettingsRow, RuleRow, StageRow, TriggerRow
from tests.cli_runs import invoke as invoke_cli
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.timing import HTTP_TIMEOUT
from tests.unit.test_config_file import readme_example

TABLES = {"rules": RuleRow, "triggers": TriggerRow, "stages": StageRow, "settings": AutomationSettingsRow}


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


async def export(stack: EngineStack) -> str:
    return dump_config(await stack.container.configure.export_config(stack.installation.id))


async def apply(stack: EngineStack, text: str, *, dry_run: bool = False) -> ApplyReport:
    parsed = parse_config(text)
    return await stack.container.configure.apply_config(stack.installation.id, parsed.document, dry_run=dry_run,
                                                        locate=parsed.locate)


async def snapshot(stack: EngineStack) -> dict[str, list[dict[str, Any]]]:
    """Every configuration row as stored, ids and updated_at included."""
    found = {}
    async with stack.container.engine.connect() as connection:
        for name, model in TABLES.items():
            table = model.__table__  # type: ignore[attr-defined]
            rows = await connection.execute(select(table).order_by(*table.primary_key.columns))
            found[name] = [dict(row) for row in rows.mappings()]
    return found


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


async def test_the_readme_example_applies_and_an_export_imported_again_changes_nothing(stack: EngineStack) -> None:
    report = await apply(stack, readme_example())
    assert report.stages.added == ["on-hold"]
    assert set(report.rules.added) == {"pay-reminder", "thanks", "morning-check", "ship-it", "new-order-note",
                                       "tracking-note"}
    assert report.triggers.added == ["marked-paid", "hold-gifts"] and report.settings == ["time_zone", "quiet_hours"]
    exported = await export(stack)
    assert parse_config(exported).document == parse_config(readme_example()).document
    before = await snapshot(stack)
    activity = len(await stack.activity())

    again = await apply(stack, exported)

    assert again.unchanged and again.lines() == ["nothing to change: the installation already has this configuration"]
    assert await snapshot(stack) == before  # same rows, same ids, same positions, same updated_at
    assert len(await stack.activity()) == activity
    assert await export(stack) == exported


async def test_a_configuration_made_by_hand_round_trips(stack: EngineStack) -> None:
    configure, installation = stack.container.configure, stack.installation.id
    await configure.add_custom_stage(installation, "packing", "Packing", ["UNFULFILLED"])
    await stack.rule(key="b-second", stage="paid", kind="add_note", config={"message": "2"}, delay_seconds=5400)
    await stack.rule(key="a-first", stage="paid", kind="add_note", config={"message": "1"})
    await stack.rule(key="gone", stage="paid", kind="add_note", config={"message": "x"})
    await configure.delete_rule(installation, "gone")  # leaves a gap in the positions
    await stack.rule(key="gift", event="metadata_changed", event_params={"key": "gift"}, kind="add_note",
                     config={"message": "gift"}, cancel_on_move=True)
    await configure.save_trigger(installation, TriggerSpec(key="pack", stage="packing", event="order_fully_paid"))
    exported = await export(stack)
    assert exported.index("key: b-second") < exported.index("key: a-first")
    before = await snapshot(stack)
    assert (await apply(stack, exported)).unchanged
    assert await snapshot(stack) == before


async def test_import_adds_changes_and_removes_and_cancels_a_removed_rules_jobs(stack: EngineStack) -> None:
    await stack.rule(key="later", stage="awaiting-payment", kind="add_note", config={"message": "old text"},
                     delay_seconds=3600)
    await stack.rule(key="doomed", stage="awaiting-payment", kind="add_note", config={"message": "never"},
                     delay_seconds=3600)
    await stack.rule(key="then", stage="awaiting-payment", kind="add_note", config={"message": "after doomed"},
                     after_previous=True)
    await stack.container.configure.save_trigger(stack.installation.id, TriggerSpec(
        key="old-trigger", stage="paid", event="order_paid"))
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    assert await stack.job_states() == {"later": "scheduled", "doomed": "scheduled", "then": "waiting"}

    text = await export(stack)
    text = edit(text, "message: old text", "message: new text")
    text = edit(text, "      - key: doomed\n        name: doomed\n        kind: add_note\n        message: never\n"
                      "        enabled: true\n        delay: 1h\n", "")
    text = edit(text, "      - key: old-trigger\n        name: old-trigger\n        event: order_paid\n"
                      "        enabled: true\n",
                "      - key: new-trigger\n        name: Fully paid\n        event: order_fully_paid\n")
    text = edit(text, "    name: Shipped\n", "    name: Sent\n")
    dry = await apply(stack, text, dry_run=True)
    assert dry.dry_run and dry.cancelled_jobs == 1 and dry.rules.removed == ["doomed"]
    assert await stack.job_states() == {"later": "scheduled", "doomed": "scheduled", "then": "waiting"}

    report = await apply(stack, text)

    assert report.rules.changed == ["later"] and report.rules.removed == ["doomed"] and not report.rules.added
    assert report.triggers.added == ["new-trigger"] and report.triggers.removed == ["old-trigger"]
    assert report.stages.changed == ["shipped"] and report.cancelled_jobs == 1
    jobs = {job["rule_key"]: job for job in await stack.jobs()}
    assert jobs["doomed"]["state"] == "cancelled"
    assert jobs["doomed"]["reason"] == "cancelled: the rule was removed (configuration import)"
    assert jobs["then"]["state"] == "cancelled"  # its predecessor was cancelled: the chain stops
    assert "configuration imported: stages changed: shipped; rules changed: later; rules removed: doomed; triggers " \
           "added: new-trigger; triggers removed: old-trigger; pending jobs cancelled: 1" in await stack.activity()
    await stack.advance(timedelta(hours=1))
    assert stack.notes() == ["new text"]  # the changed rule's pending job ran with the new config
    assert (await apply(stack, text)).unchanged


async def test_reordering_moves_positions_and_a_rule_can_change_stage(stack: EngineStack) -> None:
    for key in ("one", "two", "three"):
        await stack.rule(key=key, stage="paid", kind="add_note", config={"message": key})
    text = await export(stack)
    block = {key: f"      - key: {key}\n        name: {key}\n        kind: add_note\n        message: {key}\n"
                  "        enabled: true\n" for key in ("one", "two", "three")}
    text = edit(text, block["one"] + block["two"] + block["three"], block["three"] + block["one"])
    text = edit(text, "    name: Shipped\n", "    name: Shipped\n    rules:\n" + block["two"])
    report = await apply(stack, text)
    assert report.rules.changed == ["three", "one", "two"]
    rules = await stack.container.configure.export_config(stack.installation.id)
    by_stage = {stage.key: [rule.key for rule in stage.rules] for stage in rules.stages}
    assert by_stage["paid"] == ["three", "one"] and by_stage["shipped"] == ["two"]
    assert (await apply(stack, await export(stack))).unchanged


async def test_a_bad_reference_in_the_middle_leaves_everything_unchanged(stack: EngineStack) -> None:
    await stack.rule(key="keep", stage="paid", kind="add_note", config={"message": "keep"})
    before = await snapshot(stack)
    text = await export(stack)
    text = edit(text, "time_zone: UTC", "time_zone: Europe/Berlin")  # a valid change before the bad one
    text = edit(text, "        message: keep\n", "        message: changed\n")
    bad = edit(text, "    name: Refunded\n", "    name: Refunded\n    rules:\n      - key: move\n        name: Move\n"
                                             "        kind: change_stage\n        stage: returned\n")
    line = bad.splitlines().index("        stage: returned") + 1
    with pytest.raises(ConfigFileError) as caught:
        await apply(stack, bad)
    assert str(caught.value).startswith(f"line {line}, column 16: stages[3].rules[0].stage: Returned follows Saleor")
    assert await snapshot(stack) == before


async def test_a_failure_while_writing_rolls_everything_back(stack: EngineStack, monkeypatch) -> None:
    await stack.rule(key="keep", stage="paid", kind="add_note", config={"message": "keep"})
    before = await snapshot(stack)
    text = edit(await export(stack), "time_zone: UTC", "time_zone: Europe/Berlin")
    text = edit(text, "        message: keep\n", "        message: changed\n")
    text = edit(text, "    name: Shipped\n", "    name: Sent\n")
    store = stack.container.automation
    real = store.transaction

    def failing_transaction() -> Any:
        context = real()

        class Failing:
            async def __aenter__(self) -> Any:
                tx = await context.__aenter__()

                async def boom(*args: Any, **kwargs: Any) -> None:
                    raise RuntimeError("the database went away")

                tx.set_trigger_position = boom  # written last: everything before it was already written
                tx.save_trigger = boom
                return tx

            async def __aexit__(self, *exc: Any) -> Any:
                return await context.__aexit__(*exc)

        return Failing()

    text = edit(text, "    name: Paid\n", "    name: Paid\n    triggers:\n      - key: t\n        event: order_paid\n")
    monkeypatch.setattr(store, "transaction", failing_transaction)
    with pytest.raises(RuntimeError, match="went away"):
        await apply(stack, text)
    monkeypatch.undo()
    assert await snapshot(stack) == before


async def test_a_stage_is_removed_only_when_no_order_is_in_it(stack: EngineStack) -> None:
    configure, installation = stack.container.configure, stack.installation.id
    await configure.add_custom_stage(installation, "on-hold", "On hold", ["UNFULFILLED"])
    await configure.add_custom_stage(installation, "spare", "Spare", ["UNFULFILLED"])
    await configure.save_trigger(installation, TriggerSpec(key="hold", stage="on-hold", event="order_fully_paid"))
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    await stack.saleor.charge(order, order.total)
    await stack.settle()
    assert await stack.order_stage(order.id) == "on-hold"
    text = await export(stack)
    without_hold = edit(text, "  - key: on-hold\n    name: On hold\n    match:\n      custom: true\n"
                              "      status: [UNFULFILLED]\n    triggers:\n      - key: hold\n        name: hold\n"
                              "        event: order_fully_paid\n        enabled: true\n", "")
    with pytest.raises(ConfigFileError, match="stage 'on-hold' is missing, but 1 order"):
        await apply(stack, without_hold)
    without_default = edit(text, "  - key: expired\n    name: Expired\n    match:\n      status: [EXPIRED]\n", "")
    with pytest.raises(ConfigFileError, match="the default stages can be renamed, re-matched and reordered"):
        await apply(stack, without_default)
    report = await apply(stack, edit(text, "  - key: spare\n    name: Spare\n    match:\n      custom: true\n"
                                           "      status: [UNFULFILLED]\n", ""))
    assert report.stages.removed == ["spare"] and not report.stages.changed
    assert "key: spare" not in await export(stack)


async def api(stack: EngineStack, method: str, path: str, content: str | None = None, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=stack.container.settings.app_url) as client:
        return await client.request(method, f"/api/v1{path}", params=params, content=content,
                                    headers=stack.dashboard_headers())


async def test_the_json_api_exports_and_imports_the_same_documents(stack: EngineStack) -> None:
    response = await api(stack, "GET", "/config")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/yaml")
    assert response.text == await export(stack)
    as_json = await api(stack, "GET", "/config", format="json")
    assert as_json.json()["stages"][0] == {"key": "new", "name": "New",
                                           "match": {"status": ["UNCONFIRMED"], "refund": "none"}}

    dry = await api(stack, "PUT", "/config", content=readme_example(), dry_run="true")
    assert dry.status_code == 200 and dry.json()["report"]["dryRun"] is True
    assert "on-hold" in dry.json()["report"]["stages"]["added"]
    assert "key: on-hold" not in await export(stack)
    applied = await api(stack, "PUT", "/config", content=readme_example())
    assert applied.status_code == 200 and applied.json()["report"]["rules"]["added"]
    json_again = await api(stack, "PUT", "/config", content=as_json.text)  # JSON is YAML: the old document
    assert json_again.status_code == 200 and json_again.json()["report"]["stages"]["removed"] == ["on-hold"]

    bad = readme_example().replace("delay: 1d", "delay: one day")
    line = bad.splitlines().index("        delay: one day") + 1
    refused = await api(stack, "PUT", "/config", content=bad)
    assert refused.status_code == 422
    assert refused.json()["error"] == {"code": "INVALID_CONFIG", "message": f"line {line}, column 16: "
                                       "stages[1].rules[0].delay: 'one day' is not a duration; write it like 90s, "
                                       "10m, 2h, 1d or 1h30m"}
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=stack.container.settings.app_url) as client:
        assert (await client.get("/api/v1/config")).status_code == 401
    activity = await stack.rows(ActivityRow.__table__)  # type: ignore[attr-defined]
    assert sum(row["message"].startswith("configuration imported") for row in activity) == 2


async def invoke(stack: EngineStack, *args: str, stdin: str | None = None) -> Any:
    settings = stack.container.settings
    env = {"APP_ENV": "test", "DATABASE_URL": settings.database_url, "DATA_DIR": str(settings.data_dir),
           "ENCRYPTION_KEYS": ",".join(settings.encryption_keys), "LOG_FORMAT": "text", "LOG_LEVEL": "WARNING",
           "ALLOWED_SALEOR_URLS": settings.allowed_saleor_urls or ""}
    # The command runs its own event loop (asyncio.run), so it runs in a thread, as it would in its own process.
    return await asyncio.to_thread(invoke_cli, ["config", *args], env=env, stdin=stdin)


@pytest.mark.usefixtures("restore_logging")
async def test_the_cli_exports_checks_and_imports(stack: EngineStack, tmp_path: Path) -> None:
    url = stack.saleor.api_url
    printed = await invoke(stack, "export", "--saleor-api-url", url)
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == await export(stack)
    target = tmp_path / "automation.yaml"
    written = await invoke(stack, "export", "--saleor-api-url", url, "--output", str(target))
    assert written.exit_code == 0 and target.read_text() == await export(stack)

    example = tmp_path / "example.yaml"
    example.write_text(readme_example())
    dry = await invoke(stack, "import", str(example), "--saleor-api-url", url, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.startswith("Dry run, nothing was changed. Importing would do this:\n"
                                 "settings changed: time_zone, quiet_hours\nstages added: on-hold\n")
    assert await export(stack) == target.read_text()
    applied = await invoke(stack, "import", str(example), "--saleor-api-url", url)
    assert applied.exit_code == 0 and "rules added: pay-reminder, thanks, morning-check, ship-it" in applied.stdout
    same = await invoke(stack, "import", "-", "--saleor-api-url", url, stdin=await export(stack))
    assert same.exit_code == 0 and "nothing to change" in same.stdout

    bad = readme_example().replace("delay: 2h", "delay: 2 hours").replace("time_zone: Europe/Berlin",
                                                                          "time_zone: Berlin")
    example.write_text(bad)
    zone, delay = (bad.splitlines().index(line) + 1 for line in ("  time_zone: Berlin", "        delay: 2 hours"))
    refused = await invoke(stack, "import", str(example), "--saleor-api-url", url)
    assert refused.exit_code == 1
    assert refused.stderr == (f"{example}: nothing was changed:\n"
                              f"  line {zone}, column 14: settings.time_zone: 'Berlin' is not an IANA time zone (e.g. "
                              "Europe/Berlin)\n"
                              f"  line {delay}, column 16: stages[2].rules[2].delay: '2 hours' is not a duration; "
                              "write it like 90s, 10m, 2h, 1d or 1h30m\n")
    unknown = await invoke(stack, "export", "--saleor-api-url", "https://elsewhere.example/graphql/")
    assert unknown.exit_code == 2 and url in unknown.stderr  # the hint lists the installed URLs
    missing = await invoke(stack, "import", str(tmp_path / "nope.yaml"), "--saleor-api-url", url)
    assert missing.exit_code == 2 and "Cannot read" in missing.stderr
