"""The Activity view's API over HTTP with a Dashboard token: every state's reason, the send behind a job, polling
with `after`, resolving a job whose outcome is unknown, and the refusals of every route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from saleor_app.domain import kinds
from saleor_app.domain.errors import OutcomeUnknown
from saleor_app.engine.execute import ActionContext
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.e2e.test_email import CUSTOMER, connect_postmark, email_rule
from tests.fakes.postmark import FakePostmark
from tests.fakes.saleor import FakeSaleor
from tests.timing import HTTP_TIMEOUT

SENDS: list[str] = []
DROP_NEXT: list[bool] = []


class AnnounceConfig(kinds.KindConfig):
    text: str


async def announce(ctx: ActionContext) -> str:
    """A customer-facing send whose connection may drop after the provider had it (DROP_NEXT)."""
    assert isinstance(ctx.config, AnnounceConfig)
    SENDS.append(ctx.config.text)
    if DROP_NEXT and DROP_NEXT.pop():
        raise OutcomeUnknown("the provider took the request, then the connection dropped before it answered")
    return f"announced {ctx.config.text}"


kinds.register(kinds.RuleKind("test_activity_announce", "Announce (activity test)", AnnounceConfig,
                              idempotent=False))


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings, extra_handlers={"test_activity_announce": announce}):
        yield built


async def call(stack: EngineStack, method: str, path: str, json: Any = None, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=str(stack.container.settings.app_url)) as client:
        return await client.request(method, f"/api/v1{path}", params=params, json=json,
                                    headers=stack.dashboard_headers())


async def log(stack: EngineStack, **params: Any) -> list[dict[str, Any]]:
    response = await call(stack, "GET", "/activity", limit=1000, **params)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


async def job_id(stack: EngineStack, rule: str) -> int:
    [job] = [job for job in await stack.jobs() if job["rule_key"] == rule]
    return int(job["id"])


async def test_every_state_says_why(stack: EngineStack) -> None:
    await stack.rule(key="note", stage="awaiting-payment", kind="add_note",
                     config={"message": "{{ order.customer_note }}"})  # no note on the order: renders empty
    await stack.rule(key="then", stage="awaiting-payment", kind="add_note", config={"message": "x"},
                     after_previous=True)
    await stack.rule(key="big", stage="awaiting-payment", kind="add_note", config={"message": "big"},
                     condition={"match": "all", "rules": [{"field": "total", "op": "gt", "value": 100000}]})
    await stack.rule(key="later", stage="awaiting-payment", kind="add_note", config={"message": "later"},
                     delay_seconds=3600)
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    await stack.saleor.charge(order, order.total)  # to paid: the delayed job is cancelled by the move
    await stack.settle()

    def reasons(entries: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
        return [(entry["state"], entry["reason"]) for entry in reversed(entries)]

    failed = reasons(await log(stack, rule="note"))
    assert failed[-1][0] == "failed" and failed[-1][1].startswith("failed: ") and "rendered empty" in failed[-1][1]
    assert reasons(await log(stack, rule="then"))[-1] == ("cancelled", "cancelled: the previous rule note failed")
    skipped = reasons(await log(stack, rule="big"))[-1]
    assert skipped[0] == "skipped" and skipped[1].startswith("skipped: condition not met")
    # The move cancels by stage entry (the line has no rule of its own); the log still files it under the rule.
    assert reasons(await log(stack, rule="later"))[-1] == ("cancelled", "cancelled: order moved to paid")
    [entry] = [e for e in await log(stack, rule="later") if e["state"] == "cancelled"]
    assert (entry["orderNumber"], entry["jobState"], entry["jobKind"]) == (str(order.number), "cancelled", "add_note")
    assert entry["actions"] == [] and entry["delivery"] is None
    [failure] = [e for e in await log(stack, rule="note") if e["state"] == "failed"]
    assert failure["actions"] == ["replay"] and failure["message"] == f"note: {failure['reason']}"


async def test_a_job_that_keeps_failing_dies_and_says_with_what(stack: EngineStack) -> None:
    await stack.rule(key="reminder", stage="awaiting-payment", kind="add_note", config={"message": "pay"},
                     delay_seconds=60)
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    stack.saleor.fail_graphql(times=10_000, status=503)
    for _ in range(30):  # backoff is capped at an hour; the window is a day
        await stack.advance(timedelta(hours=1, minutes=5))
        if (await stack.job_states())["reminder"] == "dead":
            break
    stack.saleor.fail_graphql(times=0)
    entries = await log(stack, rule="reminder", state="dead")
    assert [entry["state"] for entry in entries] == ["dead"]
    assert entries[0]["reason"].startswith("dead: retries exhausted; last error: ")
    assert "503" in entries[0]["reason"] and entries[0]["actions"] == ["replay"]
    retries = await log(stack, rule="reminder", state="retrying")
    assert retries and all(entry["reason"].startswith("retrying at ") for entry in retries)
    both = await log(stack, rule="reminder", state="dead,retrying")
    assert {entry["state"] for entry in both} == {"dead", "retrying"} and len(both) == len(retries) + 1
    bad = await call(stack, "GET", "/activity", state="dead,exploded")
    assert bad.status_code == 422 and "unknown job state exploded" in bad.json()["error"]["message"]


async def test_an_email_job_shows_what_was_sent_and_the_providers_id(settings) -> None:
    async with FakePostmark() as postmark:
        async for stack in engine_stack(settings.model_copy(update={
                "postmark_api_base_url": postmark.base_url})):
            await connect_postmark(stack, postmark)
            await email_rule(stack, key="thanks", stage="new")
            order = await stack.saleor.place_order(auto_confirm=False)
            await stack.settle()
            [sent] = postmark.emails
            [entry] = [e for e in await log(stack, rule="thanks") if e["state"] == "succeeded"]
            delivery = entry["delivery"]
            assert (delivery["channel"], delivery["recipient"], delivery["providerId"], delivery["state"]) == (
                "email", CUSTOMER, sent["MessageID"], "sent")
            assert f"Order #{order.number} received" in delivery["excerpt"]
            planned = [e for e in await log(stack, rule="thanks") if e["state"] == "scheduled"]
            assert planned and planned[0]["delivery"] == delivery  # every line of the job shows its send


async def test_polling_after_the_newest_entry_returns_the_rest_oldest_first_and_job_changes(
        stack: EngineStack) -> None:
    await stack.rule(key="hello", stage="awaiting-payment", kind="add_note", config={"message": "hello"})
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    before = await log(stack)
    newest = before[0]["id"]
    quiet = (await call(stack, "GET", "/activity", after=newest)).json()
    assert quiet == {"entries": [], "next": None, "newest": newest, "more": False, "changed": []}

    second = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    fresh = [entry for entry in await log(stack) if entry["id"] > newest]
    assert len(fresh) >= 3 and all(entry["orderNumber"] == str(second.number) for entry in fresh if entry["order"])
    seen: list[int] = []
    cursor = newest
    for _ in range(len(fresh) + 1):  # one at a time: a poller that fell behind catches up without a gap
        page = (await call(stack, "GET", "/activity", after=cursor, limit=1)).json()
        if not page["entries"]:
            break
        seen += [entry["id"] for entry in page["entries"]]
        cursor = page["entries"][0]["id"]
        assert page["more"] is True
    assert seen == sorted(entry["id"] for entry in fresh)
    # The hello job of the second order went from scheduled to succeeded: the poll says so even when filtered away.
    polled = (await call(stack, "GET", "/activity", after=newest, state="failed")).json()
    assert polled["entries"] == []
    hello = [job for job in await stack.jobs() if job["rule_key"] == "hello"][-1]
    assert {"job": hello["id"], "state": "succeeded", "reason": hello["reason"], "actions": []} in polled["changed"]


async def test_an_unknown_send_is_resolved_as_sent_and_the_next_rule_follows(stack: EngineStack) -> None:
    await stack.rule(key="announce", stage="awaiting-payment", kind="test_activity_announce", config={"text": "hi"})
    await stack.rule(key="after", stage="awaiting-payment", kind="add_note", config={"message": "followed"},
                     after_previous=True)
    SENDS.clear()
    DROP_NEXT[:] = [True]
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    job = await job_id(stack, "announce")
    [entry] = await log(stack, rule="announce", state="unknown")
    assert entry["reason"].startswith("unknown: the provider took the request")
    assert entry["actions"] == ["replay", "resolve"]
    preview = (await call(stack, "GET", f"/jobs/{job}/replay")).json()
    assert any("get it twice" in note for note in preview["notes"])

    resolved = await call(stack, "POST", f"/jobs/{job}/resolve", json={"sent": True})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "succeeded" and resolved.json()["actions"] == []
    await stack.settle()
    assert SENDS == ["hi"] and stack.notes() == ["followed"]  # not re-sent; the held rule was released
    assert await stack.job_states() == {"announce": "succeeded", "after": "succeeded"}
    [decided] = await log(stack, rule="announce", state="succeeded")
    assert decided["reason"] == "resolved as sent by admin@example.com: it is not sent again"

    again = await call(stack, "POST", f"/jobs/{job}/resolve", json={"sent": False})
    assert again.status_code == 409
    assert again.json()["error"]["message"] == (f"job {job} is succeeded; only a job whose outcome is unknown "
                                                "can be resolved as sent or not sent")


async def test_an_unknown_send_resolved_as_not_sent_is_sent_again(stack: EngineStack) -> None:
    await stack.rule(key="announce", stage="awaiting-payment", kind="test_activity_announce", config={"text": "hey"})
    SENDS.clear()
    DROP_NEXT[:] = [True]
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    job = await job_id(stack, "announce")
    resolved = await call(stack, "POST", f"/jobs/{job}/resolve", json={"sent": False})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "retrying"
    await stack.settle()
    assert SENDS == ["hey", "hey"] and await stack.job_states() == {"announce": "succeeded"}
    reasons = [entry["reason"] for entry in reversed(await log(stack, rule="announce"))]
    assert reasons[-2:] == ["resolved as not sent by admin@example.com: it is sent again now",
                            "succeeded: announced hey"]


async def test_resolving_is_refused_for_other_jobs_and_other_installations(stack: EngineStack) -> None:
    await stack.rule(key="note", stage="awaiting-payment", kind="add_note", config={"message": "{{ order.customer_note }}"})
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    job = await job_id(stack, "note")
    failed = await call(stack, "POST", f"/jobs/{job}/resolve", json={"sent": True})
    assert failed.status_code == 409 and failed.json()["error"]["code"] == "resolve_refused"
    assert failed.json()["error"]["message"].endswith("resolved as sent or not sent (replay it instead)")
    missing = await call(stack, "POST", "/jobs/987654/resolve", json={"sent": True})
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "there is no job 987654"
    assert (await call(stack, "POST", f"/jobs/{job}/resolve", json={})).status_code == 422
    app_url = str(stack.container.settings.app_url)
    async with FakeSaleor() as other:
        await other.install(f"{app_url}/api/manifest")
        b = await stack.container.installations.get_by_url(other.api_url)
        assert b is not None
        as_b = {"authorization-bearer": other.signer.dashboard_token(app_id=b.app_id, iss=other.api_url),
                "saleor-api-url": other.api_url}
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=app_url) as http:
            for method, path in (("POST", f"/api/v1/jobs/{job}/resolve"), ("GET", f"/api/v1/jobs/{job}/replay"),
                                 ("POST", f"/api/v1/jobs/{job}/replay")):
                response = await http.request(method, path, headers=as_b, json={"sent": True})
                assert response.status_code == 404, (path, response.text)
            assert (await http.get("/api/v1/activity", headers=as_b)).json()["entries"] == []
    assert (await stack.job_states())["note"] == "failed"
