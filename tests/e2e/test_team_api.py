"""The team directory over the JSON API: staff recorded from their Dashboard token (name from Saleor's `me`),
staff sync with MANAGE_STAFF, members and groups by hand, away, and the refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from saleor_app.domain.team import MemberSpec
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.timing import HTTP_TIMEOUT


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


def api(stack: EngineStack, **claims: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=stack.container.settings.app_url, headers=stack.dashboard_headers(**claims))


async def test_opening_the_app_records_the_staff_member_with_the_name_saleor_knows(stack: EngineStack) -> None:
    user_id = stack.saleor.state.add_staff("grace@shop.example", "Grace", "Hopper")
    async with api(stack, user_id=user_id, email="grace@shop.example") as client:
        recorded = (await client.post("/api/v1/team/me")).json()
        assert recorded == {"key": "grace", "name": "Grace Hopper", "email": "grace@shop.example", "phone": None,
                            "away": False, "saleorUserId": user_id, "source": "dashboard"}
        again = (await client.post("/api/v1/team/me")).json()
        assert again["key"] == "grace"
        team = (await client.get("/api/v1/team")).json()
    assert [m["key"] for m in team["members"]] == ["grace"] and team["staffSync"] is False


async def test_staff_sync_needs_manage_staff_and_then_adds_every_active_staff_user(stack: EngineStack) -> None:
    stack.saleor.state.add_staff("ada@shop.example", "Ada", "Lovelace")
    stack.saleor.state.add_staff("gone@shop.example", active=False)
    async with api(stack) as client:
        refused = await client.post("/api/v1/team/sync")
        assert refused.status_code == 409 and "MANAGE_STAFF" in refused.json()["error"]["message"]
    stack.saleor.app.permissions.append("MANAGE_STAFF")  # the merchant granted it through AppBridge
    async with api(stack, permissions=["MANAGE_ORDERS", "MANAGE_STAFF"]) as client:
        report = (await client.post("/api/v1/team/sync")).json()
        assert sorted(report["added"]) == ["ada", "admin"] and report["updated"] == []
        assert (await client.post("/api/v1/team/sync")).json()["updated"] != []
        members = {m["key"]: m for m in (await client.get("/api/v1/team")).json()["members"]}
    assert members["ada"]["name"] == "Ada Lovelace" and members["ada"]["source"] == "saleor"
    assert "gone" not in members


async def test_members_and_groups_by_hand_with_clear_refusals(stack: EngineStack) -> None:
    async with api(stack) as client:
        bad = await client.put("/api/v1/team/members/ann", json={"name": "Ann", "phone": "12"})
        assert bad.status_code == 422 and "not a phone number" in bad.json()["error"]["message"]
        ok = await client.put("/api/v1/team/members/ann", json={"name": "Ann", "phone": "+49 151 12345678"})
        assert ok.json()["phone"] == "+4915112345678"
        unknown = await client.put("/api/v1/team/groups/desk", json={"members": ["ann", "zed"]})
        assert unknown.status_code == 422 and "there is no member 'zed'" in unknown.json()["error"]["message"]
        assert (await client.put("/api/v1/team/groups/desk", json={"members": ["ann"]})).status_code == 200
        away = await client.post("/api/v1/team/members/ann/away", json={"away": True})
        assert away.json()["away"] is True
        in_use = await client.delete("/api/v1/team/members/ann")
        assert in_use.status_code == 409 and "group desk" in in_use.json()["error"]["message"]
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=stack.container.settings.app_url) as anonymous:
        assert (await anonymous.get("/api/v1/team")).status_code == 401


async def test_workflows_and_sequences_over_the_api(stack: EngineStack) -> None:
    step = {"key": "n", "kind": "add_note", "config": {"message": "hello"}, "delay_seconds": 60}
    async with api(stack) as client:
        saved = await client.put("/api/v1/workflows/greet", json={"name": "Greet", "steps": [step]})
        assert saved.status_code == 200 and saved.json()["steps"][0]["delay_seconds"] == 60
        loop = await client.put("/api/v1/workflows/greet", json={
            "steps": [{"key": "again", "kind": "run_workflow", "config": {"workflow": "greet"}}]})
        assert loop.status_code == 422 and "would start itself" in loop.json()["error"]["message"]
        broken = await client.put("/api/v1/workflows/x", content=b"{not json")
        assert broken.status_code == 422
        assert [w["key"] for w in (await client.get("/api/v1/workflows")).json()] == ["greet"]
        sequence = await client.put("/api/v1/sequences/invoice", json={"prefix": "INV-", "padding": 4, "start": 7})
        assert sequence.json() == {"key": "invoice", "prefix": "INV-", "padding": 4, "next": "INV-0007"}
        secret = (await client.get("/api/v1/outbound/signing-secret")).json()["secret"]
        assert secret == (await client.get("/api/v1/outbound/signing-secret")).json()["secret"]
        rotated = (await client.post("/api/v1/outbound/signing-secret/rotate")).json()["secret"]
        assert rotated != secret
        assert (await client.delete("/api/v1/workflows/greet")).json() == {"deleted": "greet"}


async def test_refusals_come_back_field_by_field_for_the_page(stack: EngineStack) -> None:
    note = {"key": "n", "kind": "add_note", "config": {"message": "x"}}
    async with api(stack) as client:
        member = await client.put("/api/v1/team/members/ann", json={"name": "Ann", "phone": "12"})
        assert member.status_code == 422
        assert [f["field"] for f in member.json()["error"]["fields"]] == ["phone"]
        group = await client.put("/api/v1/team/groups/desk", json={"members": ["zed"]})
        assert group.json()["error"]["fields"] == [{"field": "members", "message": "there is no member 'zed'"}]

        config = await client.put("/api/v1/workflows/w", json={"steps": [note, {
            "key": "m", "kind": "add_note", "config": {"message": "{{ order.numbr }}"}}]})
        [problem] = config.json()["error"]["fields"]
        assert problem["field"] == "steps.1.config.message" and "did you mean" in problem["message"]

        assert (await client.put("/api/v1/workflows/a", json={"steps": [note]})).status_code == 200
        assert (await client.put("/api/v1/workflows/b", json={"steps": [
            {"key": "go", "kind": "run_workflow", "config": {"workflow": "a"}}]})).status_code == 200
        cycle = await client.put("/api/v1/workflows/a", json={"steps": [note, {
            "key": "go", "kind": "run_workflow", "config": {"workflow": "b"}}]})
        assert cycle.status_code == 422
        assert cycle.json()["error"]["fields"] == [{
            "field": "steps.1.config.workflow",
            "message": "workflow a would start itself (a → b → a); remove one of these run_workflow steps"}]
        unknown = await client.put("/api/v1/workflows/c", json={"steps": [note, note | {"key": "o"}, {
            "key": "go", "kind": "run_workflow", "config": {"workflow": "zzz"}}]})
        assert unknown.json()["error"]["fields"][0]["field"] == "steps.2.config.workflow"
        started = await client.delete("/api/v1/workflows/a")
        assert started.status_code == 422 and "started by workflow b" in started.json()["error"]["message"]


async def test_tasks_say_whether_they_are_overdue_by_the_apps_clock(stack: EngineStack) -> None:
    await stack.container.employees.team.save_member(stack.installation.id, MemberSpec(
        key="ann", email="ann@shop.example"))
    await stack.rule(key="pack", stage="new", kind="create_task",
                     config={"title": "Pack {{ order.number }}", "assignee": {"member": "ann"}, "due_in": "1h"})
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    async with api(stack) as client:
        [task] = (await client.get("/api/v1/tasks?state=open&assignee=ann")).json()["tasks"]
        assert task["overdue"] is False
        await stack.advance(timedelta(hours=2))
        [task] = (await client.get("/api/v1/tasks?state=open")).json()["tasks"]
        assert task["overdue"] is True
        cancelled = (await client.post(f"/api/v1/tasks/{task['id']}/cancel")).json()
        assert (cancelled["state"], cancelled["overdue"]) == ("cancelled", False)  # a closed task is never late
        missing = await client.post("/api/v1/tasks/999999/complete")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_task"


async def test_suppressions_typed_by_hand_are_stored_as_sends_look_them_up(stack: EngineStack) -> None:
    async with api(stack) as client:
        phone = await client.post("/api/v1/suppressions", json={"channel": "phone", "address": "+49 (176) 1234-5678"})
        assert phone.status_code == 201 and phone.json()["address"] == "+4917612345678"
        local = await client.post("/api/v1/suppressions", json={"channel": "phone", "address": "0176 12345678"})
        assert local.status_code == 422 and "country code" in local.json()["error"]["message"]
        email = await client.post("/api/v1/suppressions", json={"channel": "email", "address": "not an address"})
        assert email.status_code == 422 and "not an e-mail address" in email.json()["error"]["message"]
        again = await client.post("/api/v1/suppressions", json={"channel": "phone", "address": "+4917612345678"})
        assert again.json()["added"] is False
        listed = (await client.get("/api/v1/suppressions")).json()
        assert [(s["channel"], s["address"], s["source"]) for s in listed] == [("phone", "+4917612345678", "manual")]
        assert (await client.delete("/api/v1/suppressions/phone/%2B4917612345678")).status_code == 204
