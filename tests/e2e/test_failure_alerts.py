"""Failure alerts end to end: the alerts API after jobs die or end unknown, the daily digest through a real SMTP
server on loopback, Saleor app problems recorded by the fake Saleor, and the settings' validation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from saleor_app.domain import kinds
from saleor_app.domain.errors import OutcomeUnknown
from saleor_app.domain.providers import ProviderSpec, ProviderStatus
from saleor_app.domain.team import MemberSpec
from saleor_app.engine.execute import ActionContext
from saleor_app.store.alerts import failed_jobs
from saleor_app.store.tables import ActivityRow, JobRow
from tests.e2e.engine_stack import EngineStack, FakeClock, engine_stack
from tests.fakes.saleor_problems import problems_of
from tests.fakes.smtp import FakeSmtp
from tests.timing import HTTP_TIMEOUT

# 2026-05-04 05:00 UTC is 07:00 in Berlin (summer time): before the digest hour of 09:00.
START = datetime(2026, 5, 4, 5, 0, tzinfo=UTC)
JOBS = JobRow.__table__  # type: ignore[attr-defined]


class HandedOverConfig(kinds.KindConfig):
    text: str


async def dropped_after_handover(ctx: ActionContext) -> str:
    raise OutcomeUnknown("the provider accepted the connection, then it dropped before answering")


kinds.register(kinds.RuleKind("test_alerts_send", "Test send of unknown outcome", HandedOverConfig, idempotent=False))


async def built_stack(settings: Any, smtp: FakeSmtp | None) -> AsyncIterator[EngineStack]:
    clock = FakeClock(START)
    if smtp is not None:
        settings = settings.model_copy(update={"allow_loopback_targets": True,
                                               "smtp_ca_bundle": str(smtp.ca_file)})
    async for stack in engine_stack(settings, extra_handlers={"test_alerts_send": dropped_after_handover},
                                    app_clock=clock, clock=clock.now):
        if smtp is not None:
            view = await stack.container.providers.connect(stack.installation.id, ProviderSpec(
                key="smtp-main", kind="smtp", credentials={"username": "shop", "password": "secret"},
                settings={"host": "localhost", "port": smtp.port, "security": "starttls",
                          "from_address": "automation@shop.example", "from_name": "The Shop"}))
            assert view.account.status is ProviderStatus.CONNECTED, view.account.status_message
        await stack.container.configure.set_schedule(stack.installation.id, time_zone="Europe/Berlin",
                                                      quiet_start=None, quiet_end=None)
        team = stack.container.employees.team
        for key, name in (("ann", "Ann"), ("bob", "Bob"), ("carl", "Carl")):
            await team.save_member(stack.installation.id, MemberSpec(key=key, name=name,
                                                                     email=f"{key}@shop.example"))
        await team.save_member(stack.installation.id, MemberSpec(key="desk", name="Desk phone",
                                                                 phone="+4915112345678"))
        yield stack


@pytest.fixture
async def smtp(tmp_path: Path) -> AsyncIterator[FakeSmtp]:
    async with FakeSmtp(tls_dir=tmp_path, users={"shop": "secret"}) as server:
        yield server


@pytest.fixture
async def stack(settings: Any, smtp: FakeSmtp) -> AsyncIterator[EngineStack]:
    async for built in built_stack(settings, smtp):
        yield built


@pytest.fixture
async def no_mailbox(settings: Any) -> AsyncIterator[EngineStack]:
    async for built in built_stack(settings, None):
        yield built


async def api(stack: EngineStack, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=stack.container.settings.app_url) as client:
        return await client.request(method, f"/api/v1{path}", headers=stack.dashboard_headers(), **kwargs)


async def unknown_job(stack: EngineStack) -> Any:
    """A new order whose send ends UNKNOWN (the provider may have received it): returns the order."""
    await stack.rule(key="send", name="Send the invoice", stage="awaiting-payment", kind="test_alerts_send",
                     config={"text": "x"})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    return order


async def tick(stack: EngineStack) -> None:
    await stack.container.alerts.tick(stack.installation)


def problem_calls(stack: EngineStack) -> list[tuple[str, dict[str, Any], str]]:
    return [(m.name, m.variables, m.caller) for m in stack.saleor.mutations if m.name.startswith("appProblem")]


async def enable_digest(stack: EngineStack, **extra: Any) -> None:
    body = {"digest_enabled": True, "recipients": ["ann", "bob"], "digest_hour": 9, **extra}
    saved = await api(stack, "PUT", "/alerts/settings", json=body)
    assert saved.status_code == 200, saved.text


async def test_the_alerts_api_counts_dead_and_unknown_jobs_once_in_their_current_state(stack: EngineStack) -> None:
    clean = (await api(stack, "GET", "/alerts")).json()
    assert (clean["dead"], clean["unknown"], clean["newest"]) == (0, 0, [])
    await stack.rule(key="note", name="Thank-you note", stage="new", kind="add_note", config={"message": "hi"},
                     delay_seconds=60)
    dead_order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    stack.saleor.fail_graphql(times=100_000, status=503)
    for _ in range(26):  # retried with back-off for a day, then dead
        await stack.advance(timedelta(hours=1))
    stack.saleor.heal_graphql()  # Saleor is back
    unknown_order = await unknown_job(stack)

    got = (await api(stack, "GET", "/alerts")).json()
    assert (got["dead"], got["unknown"], got["total"]) == (1, 1, 2)
    assert got["headline"] == "1 job failed for good and 1 may not have been sent in the last 24 hours"
    by_state = {item["state"]: item for item in got["newest"]}
    assert by_state["dead"]["orderNumber"] == str(dead_order.number) and by_state["dead"]["rule"] == "note"
    assert by_state["dead"]["ruleName"] == "Thank-you note" and "retries exhausted" in by_state["dead"]["reason"]
    assert by_state["unknown"]["orderNumber"] == str(unknown_order.number)
    assert "dropped before answering" in by_state["unknown"]["reason"]
    assert got["newest"][0]["state"] == "unknown" and got["newestId"] == by_state["unknown"]["job"]
    now = stack.clock.now()
    assert datetime.fromisoformat(got["until"]) == now and datetime.fromisoformat(got["since"]) == now - \
        timedelta(hours=24)

    replayed = await api(stack, "POST", f"/jobs/{by_state['dead']['job']}/replay")  # the dead job runs again
    assert replayed.status_code == 200, replayed.text
    await stack.settle()
    after = (await api(stack, "GET", "/alerts")).json()
    assert (after["dead"], after["unknown"]) == (0, 1)  # counted in its current state: succeeded now
    await stack.advance(timedelta(hours=24, seconds=1))
    assert (await api(stack, "GET", "/alerts")).json()["total"] == 0  # the window moved past the unknown job


async def test_the_digest_goes_once_a_day_to_the_chosen_members_and_not_when_clean(
        stack: EngineStack, smtp: FakeSmtp) -> None:
    await enable_digest(stack)
    stack.clock.advance(timedelta(hours=3))  # 10:00 in Berlin
    await tick(stack)
    assert smtp.messages == []  # nothing to report: nothing sent
    stack.clock.value = START
    order = await unknown_job(stack)
    await tick(stack)
    assert smtp.messages == []  # 07:00: before the digest hour
    stack.clock.advance(timedelta(hours=2))  # 09:00 in Berlin
    await asyncio.gather(tick(stack), tick(stack))  # two replicas ticking at once: one digest
    assert sorted(message["To"] for message in smtp.messages) == ["ann@shop.example", "bob@shop.example"]
    mail = smtp.messages[0]
    assert mail["Subject"] == "Order Automation: 1 job may not have been sent in the last 24 hours"
    body = mail.get_content().replace("\r\n", "\n")
    assert f"order #{order.number}, rule Send the invoice: unknown: the provider accepted the connection" in body
    assert "May not have been sent (outcome unknown):" in body and "2026-05-04 07:00" in body
    assert "Open Order Automation → Activity to replay or resolve them." in body
    domain = stack.saleor.api_url.split("/graphql")[0]
    assert f"{domain}/dashboard/extensions/app/{quote(stack.installation.app_id, safe='')}/activity" in body

    await unknown_job(stack)
    stack.clock.advance(timedelta(hours=5))
    await tick(stack)
    assert len(smtp.messages) == 2  # at most one digest a day
    stack.clock.advance(timedelta(hours=24))  # the next day at 14:00: the window is clean again
    await tick(stack)
    assert len(smtp.messages) == 2
    await unknown_job(stack)
    await tick(stack)
    assert len(smtp.messages) == 4 and "1 job may not" in smtp.messages[-1]["Subject"]
    activity = await stack.rows(ActivityRow.__table__, ActivityRow.__table__.c.kind == "alert")  # type: ignore[attr-defined]
    assert [row["state"] for row in activity] == ["succeeded", "succeeded"]
    assert "sent to ann@shop.example, bob@shop.example from automation@shop.example" in activity[0]["message"]
    status = (await api(stack, "GET", "/alerts")).json()["digest"]
    assert status["day"] == "2026-05-05" and status["failed"] is False


async def test_a_digest_the_mail_server_defers_goes_out_at_the_next_check_and_a_partial_one_is_not_resent(
        stack: EngineStack, smtp: FakeSmtp) -> None:
    await enable_digest(stack)
    await unknown_job(stack)
    stack.clock.advance(timedelta(hours=2))  # 09:00 in Berlin
    smtp.defer_next()
    smtp.defer_next()  # 451 for both members: nobody got it, and the server said "try again later"
    await tick(stack)
    assert smtp.messages == []
    digest = (await api(stack, "GET", "/alerts")).json()["digest"]
    assert digest["failed"] is True and "451" in digest["outcome"] and "tried again at the next check" in \
        digest["outcome"]
    alert_rows = ActivityRow.__table__.c.kind == "alert"  # type: ignore[attr-defined]
    assert await stack.rows(ActivityRow.__table__, alert_rows) == []  # logged once it is settled
    await tick(stack)
    assert sorted(message["To"] for message in smtp.messages) == ["ann@shop.example", "bob@shop.example"]
    assert [row["state"] for row in await stack.rows(ActivityRow.__table__, alert_rows)] == ["succeeded"]
    await tick(stack)
    assert len(smtp.messages) == 2  # the day's digest went out: not again

    stack.clock.advance(timedelta(days=1))  # the next day, a new failure: one member deferred, the other served
    await unknown_job(stack)
    smtp.defer_next()
    await tick(stack)
    await tick(stack)
    assert len(smtp.messages) == 3  # whoever got it is not mailed twice; the refusal is said
    digest = (await api(stack, "GET", "/alerts")).json()["digest"]
    assert digest["failed"] is False and "not sent to ann@shop.example" in digest["outcome"]


async def test_the_digest_without_a_mailbox_is_recorded_as_failed_and_the_loop_goes_on(
        no_mailbox: EngineStack) -> None:
    stack = no_mailbox
    await enable_digest(stack)
    await unknown_job(stack)
    stack.clock.advance(timedelta(hours=2))
    await stack.container.alerts.run_once()
    await stack.container.alerts.run_once()  # claimed for the day: one failure recorded, not one a tick
    digest = (await api(stack, "GET", "/alerts")).json()["digest"]
    assert digest["failed"] is True and "no connected mailbox: connect Postmark or SMTP" in digest["outcome"]
    activity = await stack.rows(ActivityRow.__table__, ActivityRow.__table__.c.kind == "alert")  # type: ignore[attr-defined]
    assert len(activity) == 1 and activity[0]["state"] == "failed"
    assert "daily failure digest (1 job may not have been sent in the last 24 hours): not sent: no connected " \
           "mailbox" in activity[0]["message"]
    shown = (await api(stack, "GET", "/activity", params={"state": "failed"})).json()["entries"]
    assert any(entry["kind"] == "alert" for entry in shown)
    test = await api(stack, "POST", "/alerts/digest/test")
    assert test.status_code == 409 and "no connected mailbox" in test.json()["error"]["message"]


async def test_a_test_digest_goes_to_the_signed_in_staff_member_only(stack: EngineStack, smtp: FakeSmtp) -> None:
    await enable_digest(stack)
    sent = await api(stack, "POST", "/alerts/digest/test")
    assert sent.status_code == 200, sent.text
    assert [message["To"] for message in smtp.messages] == ["admin@example.com"]
    assert smtp.messages[0]["Subject"] == "[Test] Order Automation: no failed jobs in the last 24 hours"
    assert "This is a test digest, sent to you only." in smtp.messages[0].get_content()
    assert (await api(stack, "GET", "/alerts")).json()["digest"]["day"] is None  # the day's digest is untouched


async def test_app_problems_are_reported_once_per_count_and_dismissed_when_clean(stack: EngineStack) -> None:
    await unknown_job(stack)
    await tick(stack)
    await tick(stack)
    [(name, variables, caller)] = problem_calls(stack)
    assert (name, caller) == ("appProblemCreate", "app")
    assert variables["input"] == {"key": "unknown-jobs", "aggregationPeriod": 1440, "message": (
        "1 job may not have been sent (the outcome is unknown) in the last 24 hours. "
        "Open Order Automation → Activity to replay or resolve them.")}
    stack.clock.advance(timedelta(hours=1))
    await unknown_job(stack)
    await tick(stack)
    [problem] = problems_of(stack.saleor.state, stack.saleor.app)
    assert problem.key == "unknown-jobs" and problem.count == 2 and problem.message.startswith("2 jobs may not")
    settings = (await api(stack, "GET", "/alerts/settings")).json()
    assert settings["problems"]["reportedAt"] == stack.clock.now().isoformat()
    assert settings["problems"]["open"]["unknown-jobs"]["count"] == 2

    stack.clock.advance(timedelta(hours=25))
    await tick(stack)
    assert problem_calls(stack)[-1][:2] == ("appProblemDismiss", {"keys": ["unknown-jobs"]})
    assert problem.dismissed and problems_of(stack.saleor.state, stack.saleor.app, include_dismissed=False) == []
    calls = len(problem_calls(stack))
    await tick(stack)
    assert len(problem_calls(stack)) == calls  # clean and already dismissed: Saleor is not called again


async def test_a_saleor_outage_or_refusal_during_the_report_is_retried_next_tick(stack: EngineStack) -> None:
    await unknown_job(stack)
    stack.saleor.fail_graphql(times=1, status=503)
    await stack.container.alerts.run_once()  # never raises
    assert problem_calls(stack) == []
    shown = (await api(stack, "GET", "/alerts/settings")).json()["problems"]
    assert shown["reportedAt"] is None and "503" in shown["error"]
    await stack.saleor.set_app_active(False)  # Saleor refuses the app's token now (and so the page's tokens)
    await tick(stack)
    refused = (await stack.container.alerts.overview(stack.installation.id)).problems
    assert refused.at is None and "denied AppProblemCreate" in refused.error
    await stack.saleor.set_app_active(True)
    await tick(stack)
    assert [(name, caller) for name, _, caller in problem_calls(stack)] == [
        ("appProblemCreate", "anonymous"), ("appProblemCreate", "app")]  # refused, then accepted
    shown = (await stack.container.alerts.overview(stack.installation.id)).problems
    assert shown.error == "" and shown.at == stack.clock.now() and shown.reported["unknown-jobs"].count == 1


async def test_settings_are_validated_field_by_field(stack: EngineStack) -> None:
    async def fields(body: dict[str, Any]) -> dict[str, str]:
        response = await api(stack, "PUT", "/alerts/settings", json=body)
        assert response.status_code == 422, response.text
        return {item["field"]: item["message"] for item in response.json()["error"]["fields"]}

    assert "not in the team directory: zed, ghost" in (await fields({"recipients": ["ann", "zed", "ghost"]}))[
        "recipients"]
    assert "no e-mail address: desk" in (await fields({"recipients": ["desk"]}))["recipients"]
    assert "at least one member" in (await fields({"digest_enabled": True, "recipients": []}))["recipients"]
    assert "less than or equal to 23" in (await fields({"digest_hour": 24}))["digest_hour"]
    assert "Dashboard's address" in (await fields({"dashboard_url": "javascript:alert(1)"}))["dashboard_url"]
    assert "Extra inputs" in (await fields({"recipient": ["ann"]}))["recipient"]
    saved = await api(stack, "PUT", "/alerts/settings", json={"digest_enabled": True, "recipients": ["bob", "bob"],
                                                               "digest_hour": 7,
                                                               "dashboard_url": "https://admin.shop.example/"})
    assert saved.status_code == 200, saved.text
    got = (await api(stack, "GET", "/alerts/settings")).json()
    assert (got["digest_enabled"], got["recipients"], got["digest_hour"]) == (True, ["bob"], 7)
    assert got["dashboard_url"] == "https://admin.shop.example" and got["time_zone"] == "Europe/Berlin"



@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_the_failure_query_uses_the_partial_index_on_postgresql(stack: EngineStack) -> None:
    engine = stack.container.engine  # EXPLAIN is read on PostgreSQL; SQLite has the same partial index
    from sqlalchemy import func, select

    statement = select(func.count()).select_from(JOBS).where(*failed_jobs(stack.installation.id,
                                                                          stack.clock.now() - timedelta(days=1)))
    async with engine.connect() as connection:
        await connection.exec_driver_sql("SET enable_seqscan = off")  # a near-empty table: show what it can use
        compiled = statement.compile(connection.sync_connection)
        plan = "\n".join(row[0] for row in (await connection.exec_driver_sql(f"EXPLAIN {compiled}",
                                                                              compiled.params)).all())
    assert "ix_jobs_failed" in plan, plan
