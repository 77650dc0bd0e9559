"""The JSON API of employee automation under /api/v1: the team directory, tasks, workflows, sequences and the
outbound signing secret. Every route needs a Dashboard token with MANAGE_ORDERS."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from saleor_app.domain.documents import load_json
from saleor_app.domain.errors import Refused
from saleor_app.domain.kinds import UnknownKind, validate_config
from saleor_app.domain.sequences import NumberSequence, SequenceSpec
from saleor_app.domain.tasks import Task, TaskState
from saleor_app.domain.team import GroupSpec, MemberSpec, TeamGroup, TeamMember
from saleor_app.domain.workflows import Workflow, WorkflowSpec
from saleor_app.engine.configure import ConfigurationError
from saleor_app.saleor.dashboard_auth import OrderManagerDep
from saleor_app.saleor.responses import ApiError
from saleor_app.web.ids import Cursor, RowId

router = APIRouter(prefix="/api/v1", tags=["employee automation"])
T = TypeVar("T")
_INDEX = re.compile(r"\[(\d+)\]")


def _employees(request: Request) -> Any:
    return request.app.state.container.employees  # built in wiring (composition root)


class _Invalid(Exception):
    """Input to fix, field by field (`steps.0.config.message`), as the board's API answers it."""

    def __init__(self, fields: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{item['field']}: {item['message']}" if item["field"] else item["message"]
                                   for item in fields))
        self.fields = fields


def _fields(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    return [{"field": prefix + ".".join(str(part) for part in error["loc"]),
             "message": str(error["msg"]).removeprefix("Value error, ")} for error in exc.errors()]


async def _answer(call: Awaitable[T]) -> T | JSONResponse:
    """The use cases' answers: Refused keeps its status; a configuration problem or invalid input is 422 with
    `error.fields` ([{field, message}], a dotted path) so the page shows each message beside its input."""
    try:
        return await call
    except Refused as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from exc
    except (ConfigurationError, ValidationError, _Invalid) as exc:
        if isinstance(exc, ConfigurationError):
            exc = _Invalid([{"field": _INDEX.sub(r".\1", exc.field), "message": exc.message}])
        elif isinstance(exc, ValidationError):
            exc = _Invalid(_fields(exc))
        return JSONResponse({"success": False, "error": {"code": "INVALID", "message": str(exc),
                                                         "fields": exc.fields}}, status_code=422)


def _workflow_spec(key: str, body: Any) -> WorkflowSpec:
    """The spec, or every field-level problem: each step's config against its kind first (so a message lands
    beside its input, `steps.0.config.message`), then the workflow's own fields."""
    if not isinstance(body, dict):
        raise _Invalid([{"field": "", "message": "the body must be a JSON object"}])
    found: list[dict[str, str]] = []
    steps = body.get("steps")
    for index, step in enumerate(steps if isinstance(steps, list) else []):
        if not isinstance(step, dict):
            continue
        try:
            validate_config(str(step.get("kind", "")), step.get("config") or {})
        except UnknownKind as exc:
            found.append({"field": f"steps.{index}.kind", "message": str(exc)})
        except ValidationError as exc:
            found += _fields(exc, f"steps.{index}.config.")
    try:
        spec = WorkflowSpec.model_validate({**body, "key": key})
    except ValidationError as exc:
        # A step's config problems come back as one whole-step message too; they are listed by field above.
        found += [item for item in _fields(exc) if not (found and "config." in item["message"])]
        raise _Invalid(found) from exc
    if found:
        raise _Invalid(found)
    return spec


def _member(member: TeamMember) -> dict[str, Any]:
    return {"key": member.key, "name": member.name, "email": member.email, "phone": member.phone,
            "away": member.away, "saleorUserId": member.saleor_user_id, "source": member.source.value}


def _group(group: TeamGroup) -> dict[str, Any]:
    return {"key": group.key, "name": group.name, "members": list(group.member_keys)}


def _task(task: Task, now: datetime) -> dict[str, Any]:
    """`overdue` by the app's clock (the one due dates were set by), not the browser's."""
    return {"overdue": task.state is TaskState.OPEN and task.due_at is not None and task.due_at < now,
            "id": task.id, "order": task.order_id, "orderNumber": task.order_number, "rule": task.rule_key,
            "title": task.title, "description": task.description, "assignee": task.assignee_key,
            "assigneeLabel": task.assignee_label, "priority": task.priority, "state": task.state.value,
            "dueAt": task.due_at.isoformat() if task.due_at else None, "createdAt": task.created_at.isoformat(),
            "closedAt": task.closed_at.isoformat() if task.closed_at else None, "closedBy": task.closed_by}


def _workflow(workflow: Workflow) -> dict[str, Any]:
    return workflow.spec.model_dump(mode="json", exclude_defaults=False)


def _sequence(sequence: NumberSequence) -> dict[str, Any]:
    return {"key": sequence.key, "prefix": sequence.prefix, "padding": sequence.padding,
            "next": sequence.format(sequence.next_value)}


# -- team -----------------------------------------------------------------------------------------------------------


@router.get("/team")
async def team(user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Members (staff who opened the app, people added by hand, synced staff) and groups."""
    manage = _employees(request).team
    return {"members": [_member(m) for m in await manage.members(user.installation.id)],
            "groups": [_group(g) for g in await manage.groups(user.installation.id)],
            "staffSync": "MANAGE_STAFF" in user.permissions}  # the token carries the app's permissions now


@router.post("/team/me")
async def record_me(user: OrderManagerDep, request: Request) -> Any:
    """The page calls this when it opens: the staff member becomes a team member (name asked of Saleor)."""
    token = request.headers.get("authorization-bearer", "")

    async def record() -> dict[str, Any]:
        return _member(await _employees(request).team.record_me(user.installation, user.user_id, user.email, token))
    return await _answer(record())


@router.post("/team/sync")
async def sync_staff(user: OrderManagerDep, request: Request) -> Any:
    """Every active Saleor staff user becomes a member (needs MANAGE_STAFF granted to the app)."""
    async def sync() -> dict[str, Any]:
        report = await _employees(request).team.sync(user.installation, user.permissions)
        return {"added": report.added, "updated": report.updated}
    return await _answer(sync())


class MemberBody(BaseModel):
    name: str = ""
    email: str | None = None
    phone: str | None = None
    away: bool = False


@router.put("/team/members/{key}")
async def save_member(key: str, body: MemberBody, user: OrderManagerDep, request: Request) -> Any:
    """Add or replace a member by hand; 422 with `error.fields` (email, phone, key) when something is wrong."""
    async def save() -> dict[str, Any]:
        spec = MemberSpec.model_validate({"key": key, **body.model_dump()})
        return _member(await _employees(request).team.save_member(user.installation.id, spec))
    return await _answer(save())


class AwayBody(BaseModel):
    away: bool


@router.post("/team/members/{key}/away")
async def set_away(key: str, body: AwayBody, user: OrderManagerDep, request: Request) -> Any:
    """Away members are skipped by group rotations until they are back."""
    async def mark() -> dict[str, Any]:
        return _member(await _employees(request).team.set_away(user.installation.id, key, body.away))
    return await _answer(mark())


@router.delete("/team/members/{key}")
async def delete_member(key: str, user: OrderManagerDep, request: Request) -> Any:
    """Refused (409) while a group names the member."""
    async def delete() -> dict[str, Any]:
        await _employees(request).team.delete_member(user.installation.id, key)
        return {"deleted": key}
    return await _answer(delete())


class GroupBody(BaseModel):
    name: str = ""
    members: list[str]


@router.put("/team/groups/{key}")
async def save_group(key: str, body: GroupBody, user: OrderManagerDep, request: Request) -> Any:
    """Create, rename or re-member a group (members in rotation order); an unknown member is a field error."""
    async def save() -> dict[str, Any]:
        spec = GroupSpec.model_validate({"key": key, "name": body.name, "members": tuple(body.members)})
        return _group(await _employees(request).team.save_group(user.installation.id, spec))
    return await _answer(save())


@router.delete("/team/groups/{key}")
async def delete_group(key: str, user: OrderManagerDep, request: Request) -> Any:
    async def delete() -> dict[str, Any]:
        await _employees(request).team.delete_group(user.installation.id, key)
        return {"deleted": key}
    return await _answer(delete())


# -- tasks ----------------------------------------------------------------------------------------------------------


@router.get("/tasks")
async def tasks(user: OrderManagerDep, request: Request, state: TaskState | None = None,
                assignee: str | None = None, before: Cursor | None = None,
                limit: int = Query(100, ge=1, le=500)) -> dict[str, Any]:
    """Tasks, newest first; filter by state (open, done, cancelled) and assignee; page with `before`."""
    found = await _employees(request).work.tasks(user.installation.id, state=state, assignee=assignee,
                                                 before_id=before, limit=limit)
    now = request.app.state.container.clock.now()
    return {"tasks": [_task(t, now) for t in found], "next": found[-1].id if len(found) == limit else None}


async def _close(task_id: RowId, state: TaskState, user: Any, request: Request) -> Any:
    by = user.email or user.user_id or "staff"

    async def close() -> dict[str, Any]:
        closed = await _employees(request).close_task(user.installation.id, task_id, state, by)
        return _task(closed, request.app.state.container.clock.now())
    return await _answer(close())


@router.post("/tasks/{task_id}/complete")
async def complete_task(task_id: RowId, user: OrderManagerDep, request: Request) -> Any:
    """Mark the task done; `task_completed` triggers and event rules then run for its order."""
    return await _close(task_id, TaskState.DONE, user, request)


@router.post("/tasks/{task_id}/cancel")
async def cancel_task(task_id: RowId, user: OrderManagerDep, request: Request) -> Any:
    return await _close(task_id, TaskState.CANCELLED, user, request)


# -- workflows, sequences, signing secret ---------------------------------------------------------------------------


@router.get("/workflows")
async def workflows(user: OrderManagerDep, request: Request) -> list[dict[str, Any]]:
    return [_workflow(w) for w in await _employees(request).work.workflows(user.installation.id)]


@router.put("/workflows/{key}")
async def save_workflow(key: str, request: Request, user: OrderManagerDep) -> Any:
    """Body: {name, outlive_stage, enabled, steps: [{key, kind, config, delay_seconds, after_previous, …}]}.
    A refusal (a cycle, an unknown workflow or member) names the step's field: `steps.1.config.workflow`."""
    async def save() -> dict[str, Any]:
        try:
            body = load_json(await request.body())
        except ValueError as exc:  # not JSON, or beyond documents.py's limits
            raise _Invalid([{"field": "", "message": f"the body is not valid JSON: {exc}"}]) from exc
        spec = _workflow_spec(key, body)
        return _workflow(await _employees(request).workflows.save(user.installation.id, spec))
    return await _answer(save())


@router.delete("/workflows/{key}")
async def delete_workflow(key: str, user: OrderManagerDep, request: Request) -> Any:
    """Refused while another workflow starts it; its pending step jobs are cancelled."""
    async def delete() -> dict[str, Any]:
        await _employees(request).workflows.delete(user.installation.id, key)
        return {"deleted": key}
    return await _answer(delete())


@router.get("/sequences")
async def sequences(user: OrderManagerDep, request: Request) -> list[dict[str, Any]]:
    return [_sequence(s) for s in await _employees(request).work.sequences(user.installation.id)]


class SequenceBody(BaseModel):
    prefix: str = ""
    padding: int = 0
    start: int = 1


@router.put("/sequences/{key}")
async def save_sequence(key: str, body: SequenceBody, user: OrderManagerDep, request: Request) -> Any:
    async def save() -> dict[str, Any]:
        spec = SequenceSpec.model_validate({"key": key, **body.model_dump()})
        container = request.app.state.container
        return _sequence(await container.employees.work.save_sequence(user.installation.id, spec,
                                                                      container.clock.now()))
    return await _answer(save())


@router.get("/outbound/signing-secret")
async def signing_secret(user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """The secret HTTP-request rules sign with, for the receiving system to check signatures (never logged)."""
    container = request.app.state.container
    return {"secret": await container.employees.work.secret(user.installation.id, container.clock.now()),
            "header": "X-Order-Automation-Signature", "scheme": "t=<unix seconds>,v1=<hex HMAC-SHA256 of "
                                                                "'<t>.' + body>"}


@router.post("/outbound/signing-secret/rotate")
async def rotate_signing_secret(user: OrderManagerDep, request: Request) -> dict[str, Any]:
    container = request.app.state.container
    return {"secret": await container.employees.work.rotate(user.installation.id, container.clock.now())}
