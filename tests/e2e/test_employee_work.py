"""Tasks, workflows, team notifications by chat webhook and signed outside calls, end to end: the fake Saleor,
the app, and a loopback receiver that checks signatures (ALLOW_LOOPBACK_TARGETS lets the app reach it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import orjson
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from saleor_app.domain.request_signing import verify
from saleor_app.domain.tasks import TaskState
from saleor_app.domain.team import GroupSpec, MemberSpec
from saleor_app.domain.triggers import TriggerSpec
from saleor_app.domain.workflows import WorkflowSpec
from saleor_app.engine.configure import ConfigurationError
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.fakes.loopback import LoopbackServer
from tests.timing import HTTP_TIMEOUT


class Receiver:
    """An outside system on loopback: records what it got, answers with the statuses it is told to."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.server = LoopbackServer(Router([Route("/hook", self._hook, methods=["POST"]),
                                             Route("/moved", self._moved, methods=["POST"])]))

    async def _hook(self, request: Request) -> Response:
        self.calls.append((dict(request.headers), await request.body()))
        status = self.statuses.pop(0) if self.statuses else 200
        return JSONResponse({"ok": status < 400, "status": status}, status_code=status)

    async def _moved(self, _request: Request) -> Response:
        return Response(status_code=302, headers={"Location": "http://169.254.169.254/latest/meta-data"})

    @property
    def url(self) -> str:
        return f"{self.server.url}/hook"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = Receiver()
    async with made.server:
        yield made


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    settings = settings.model_copy(update={"allow_loopback_targets": True})
    async for built in engine_stack(settings):
        yield built


async def staff(stack: EngineStack) -> None:
    manage = stack.container.employees.team
    for key in ("ann", "bob"):
        await manage.save_member(stack.installation.id, MemberSpec(key=key, name=key.title(),
                                                                   email=f"{key}@shop.example"))
    await manage.save_group(stack.installation.id, GroupSpec(key="packers", members=("ann", "bob")))


async def test_task_lifecycle_note_and_task_completed_moves_the_order(stack: EngineStack) -> None:
    await staff(stack)
    await stack.container.configure.add_custom_stage(stack.installation.id, "packed", "Packed",
                                                     ["UNCONFIRMED", "UNFULFILLED"])
    await stack.rule(key="pack", stage="new", kind="create_task", config={
        "title": "Pack order {{ order.number }}", "description": "{{ order.item_count }} items",
        "assignee": {"group": "packers"}, "due_in": "4h", "priority": "high"})
    await stack.container.configure.save_trigger(stack.installation.id, TriggerSpec(
        key="packed", stage="packed", event="task_completed", params={"rule": "pack"}))
    await stack.rule(key="thanks", event="task_completed", kind="add_note",
                     config={"message": "Packing done for {{ order.number }}"})
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()

    work = stack.container.employees.work
    [task] = await work.tasks(stack.installation.id)
    assert (task.title, task.assignee_key, task.priority, task.state) == (f"Pack order {order.number}", "ann",
                                                                         "high", TaskState.OPEN)
    assert task.due_at == stack.clock.now() + timedelta(hours=4)
    assert stack.notes()[0].startswith(f"Task #{task.id} for Ann <ann@shop.example> (high, due ")

    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=stack.container.settings.app_url, headers=stack.dashboard_headers()) as api:
        listed = (await api.get("/api/v1/tasks?state=open")).json()
        assert [t["id"] for t in listed["tasks"]] == [task.id]
        done = await api.post(f"/api/v1/tasks/{task.id}/complete")
        assert done.status_code == 200 and done.json()["state"] == "done"
        again = await api.post(f"/api/v1/tasks/{task.id}/cancel")
        assert again.status_code == 409
    await stack.settle()
    assert await stack.order_stage(order.id) == "packed"
    assert stack.notes()[-1] == f"Packing done for {order.number}"


async def test_workflow_jobs_are_cancelled_when_the_order_leaves_the_stage_unless_they_outlive_it(
        stack: EngineStack) -> None:
    workflows = stack.container.employees.workflows
    step = {"key": "remind", "kind": "add_note", "config": {"message": "still unpaid"}, "delay_seconds": 3600}
    await workflows.save(stack.installation.id, WorkflowSpec.model_validate(
        {"key": "dunning", "steps": [step, {**step, "key": "again", "after_previous": True}]}))
    await workflows.save(stack.installation.id, WorkflowSpec.model_validate(
        {"key": "audit", "outlive_stage": True, "steps": [{**step, "key": "log",
                                                            "config": {"message": "audit"}}]}))
    await stack.rule(key="start", stage="awaiting-payment", kind="run_workflow", config={"workflow": "dunning"})
    await stack.rule(key="audit", stage="awaiting-payment", kind="run_workflow", config={"workflow": "audit"})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    states = await stack.job_states()
    assert states["wf:dunning:remind"] == "scheduled" and states["wf:dunning:again"] == "waiting"
    await stack.saleor.charge(order, order.total)  # paid: the order leaves Awaiting payment
    await stack.settle()
    jobs = {job["rule_key"]: job for job in await stack.jobs()}
    assert jobs["wf:dunning:remind"]["state"] == "cancelled" and jobs["wf:dunning:again"]["state"] == "cancelled"
    assert jobs["wf:audit:log"]["state"] == "scheduled"
    await stack.advance(timedelta(hours=1))
    assert stack.notes() == ["audit"]


async def test_a_workflow_that_would_start_itself_is_refused(stack: EngineStack) -> None:
    workflows = stack.container.employees.workflows
    note = {"key": "n", "kind": "add_note", "config": {"message": "x"}}
    await workflows.save(stack.installation.id, WorkflowSpec.model_validate({"key": "a", "steps": [note]}))
    await workflows.save(stack.installation.id, WorkflowSpec.model_validate(
        {"key": "b", "steps": [{"key": "go", "kind": "run_workflow", "config": {"workflow": "a"}}]}))
    with pytest.raises(ConfigurationError, match=r"workflow a would start itself \(a → b → a\)"):
        await workflows.save(stack.installation.id, WorkflowSpec.model_validate(
            {"key": "a", "steps": [{"key": "go", "kind": "run_workflow", "config": {"workflow": "b"}}]}))
    with pytest.raises(ConfigurationError, match="no workflow 'zzz'"):
        await workflows.save(stack.installation.id, WorkflowSpec.model_validate(
            {"key": "c", "steps": [{"key": "go", "kind": "run_workflow", "config": {"workflow": "zzz"}}]}))


async def test_signed_request_is_retried_on_5xx_and_verified_by_the_receiver(
        stack: EngineStack, receiver: Receiver) -> None:
    await stack.rule(key="erp", stage="new", kind="http_request", config={
        "url": receiver.url, "body": {"order": "{{ order.number }}", "note": "{{ order.customer_note }}",
                                      "paid": False}})
    receiver.statuses = [503]
    order = await stack.saleor.place_order(auto_confirm=False, customer_note='He said "hi"\nbye')
    await stack.settle()
    job = (await stack.jobs())[0]
    assert job["state"] == "retrying" and "answered 503" in job["reason"]
    await stack.advance(timedelta(hours=2))
    assert (await stack.jobs())[0]["state"] == "succeeded"
    assert len(receiver.calls) == 2
    secret = await stack.container.employees.work.secret(stack.installation.id, stack.clock.now())
    for headers, body in receiver.calls:
        assert orjson.loads(body) == {"order": str(order.number), "note": 'He said "hi"\nbye', "paid": False}
        signed = headers["x-order-automation-signature"]
        sent_at = int(signed.split(",")[0].removeprefix("t="))  # each attempt is signed when it is sent
        assert verify(secret, signed, body, now=sent_at + 5)
        assert not verify("wrong", signed, body, now=sent_at)
        assert not verify(secret, signed, body + b" ", now=sent_at)
        assert not verify(secret, signed, body, now=sent_at + 3600)  # an old replay
    assert {h["x-order-automation-delivery"] for h, _ in receiver.calls} == {f"{stack.installation.id}-{job['id']}"}
    assert any("answered 200" in line for line in await stack.activity())


async def test_private_targets_and_redirects_are_refused(stack: EngineStack, receiver: Receiver) -> None:
    await stack.rule(key="meta", stage="new", kind="http_request", config={"url": "http://10.1.2.3/x"})
    await stack.rule(key="moved", stage="new", kind="http_request", config={"url": f"{receiver.server.url}/moved"})
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    jobs = {job["rule_key"]: job for job in await stack.jobs()}
    assert jobs["meta"]["state"] == "failed" and "private" in jobs["meta"]["reason"]
    assert jobs["moved"]["state"] == "failed" and "redirect" in jobs["moved"]["reason"]


async def test_notify_team_posts_to_a_chat_webhook(stack: EngineStack, receiver: Receiver) -> None:
    await stack.rule(key="chat", stage="new", kind="notify_team", config={
        "channel": "webhook", "webhook_url": receiver.url, "message": "New order {{ order.number }} 🎉"})
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert orjson.loads(receiver.calls[0][1]) == {"text": f"New order {order.number} 🎉"}
    assert (await stack.jobs())[0]["state"] == "succeeded"


async def test_an_endpoint_that_stays_down_ends_dead_with_its_last_answer(
        stack: EngineStack, receiver: Receiver) -> None:
    await stack.rule(key="erp", stage="new", kind="http_request", config={"url": receiver.url})
    receiver.statuses = [502] * 200
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    for _ in range(30):  # backoff is capped at an hour; retries go on for at least 24 hours
        await stack.advance(timedelta(hours=1))
    job = (await stack.jobs())[0]
    assert job["state"] == "dead"
    assert job["reason"].startswith("dead: retries exhausted; last error: ") and "answered 502" in job["reason"]
    assert 10 < len(receiver.calls) < 60


async def test_a_workflow_step_naming_an_unknown_member_is_refused(stack: EngineStack) -> None:
    with pytest.raises(ConfigurationError, match=r"steps\[0\].config.member: there is no team member 'ghost'"):
        await stack.container.employees.workflows.save(stack.installation.id, WorkflowSpec.model_validate(
            {"key": "w", "steps": [{"key": "t", "kind": "create_task",
                                    "config": {"title": "x", "assignee": {"member": "ghost"}}}]}))
