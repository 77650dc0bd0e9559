"""The pipeline board's JSON API: the board, the editors' catalogue, and editing stages, rules, triggers and
settings through the engine's ConfigureAutomation. Reading needs MANAGE_ORDERS like every /api/v1 route.

Invalid input answers 422 with `error.fields` ([{field, message}], field as a dotted path such as
`config.message`), so the page can show each message beside its input; nothing is saved then.
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from saleor_app.domain.config_document import MatchDoc
from saleor_app.domain.kinds import UnknownKind, kind, validate_config
from saleor_app.domain.providers import ProviderStatus
from saleor_app.domain.rules import RuleSpec
from saleor_app.domain.triggers import TriggerSpec
from saleor_app.engine.configure import ConfigurationError, ConfigureAutomation
from saleor_app.saleor.dashboard_auth import DashboardUser, OrderManagerDep
from saleor_app.saleor.responses import ApiError
from saleor_app.web.board_view import board, rule_view, trigger_view
from saleor_app.web.editor_catalogue import catalogue

router = APIRouter(prefix="/api/v1", tags=["pipeline board"])

JsonBody = Annotated[dict[str, Any], Body()]


class Invalid(Exception):
    def __init__(self, fields: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{item['field']}: {item['message']}" for item in fields))
        self.fields = fields


def _invalid(exc: Invalid) -> JSONResponse:
    return JSONResponse({"success": False, "error": {"code": "INVALID", "message": str(exc), "fields": exc.fields}},
                        status_code=422)


def _fields(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    return [{"field": prefix + ".".join(str(part) for part in error["loc"]),
             "message": str(error["msg"]).removeprefix("Value error, ")} for error in exc.errors()]


def _configure(request: Request) -> ConfigureAutomation:
    configure: ConfigureAutomation = request.app.state.container.configure
    return configure


async def _connected(request: Request, installation_id: int) -> set[tuple[str, str]]:
    views = await request.app.state.container.providers.list(installation_id)
    return {(view.account.kind, view.account.key) for view in views
            if view.account.status is ProviderStatus.CONNECTED}


@router.get("/board")
async def get_board(user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Stages in order with their triggers and rules (timing, condition summary, health badges), event rules
    and the schedule settings."""
    container = request.app.state.container
    connected = await _connected(request, user.installation.id)
    async with container.automation.reading() as tx:
        settings = await tx.settings(user.installation.id)
        pipeline = await tx.pipeline(user.installation.id)
        rules = await tx.all_rules(user.installation.id)
        triggers = await tx.triggers(user.installation.id)
    return board(settings, pipeline, rules, triggers, connected)


@router.get("/editor/catalogue")
async def editor_catalogue(_user: OrderManagerDep) -> dict[str, Any]:
    """Every rule kind's config JSON schema with UI hints, the events, the condition fields and the template
    variables: what the page builds its forms from."""
    return catalogue()


# ----------------------------------------------------------------------------------------------- rules


def _rule_spec(body: dict[str, Any]) -> RuleSpec:
    """The spec, or every field-level problem: the kind's config first, then the rule's own fields."""
    found: list[dict[str, str]] = []
    config_failed = False
    try:
        validate_config(str(body.get("kind", "")), body.get("config") or {})
    except UnknownKind as exc:
        found.append({"field": "kind", "message": str(exc)})
        config_failed = True
    except ValidationError as exc:
        found += _fields(exc, "config.")
        config_failed = True
    try:
        return RuleSpec.model_validate(body)
    except ValidationError as exc:
        for item in _fields(exc):
            # RuleSpec repeats the config's problems as one whole-rule message; they are listed by field above.
            if not (config_failed and item["field"] == "" and ("config." in item["message"] or "kind" in
                                                               item["message"])):
                found.append(item)
    raise Invalid(found or [{"field": "", "message": "the rule is not valid"}])


async def _save_rule(request: Request, user: DashboardUser, body: dict[str, Any], *, create: bool) -> Any:
    try:
        spec = _rule_spec(body)
        async with request.app.state.container.automation.reading() as tx:
            existing = await tx.rule_by_key(user.installation.id, spec.key)
        if create and existing is not None:
            raise Invalid([{"field": "key", "message": f"a rule {spec.key!r} exists already; choose another key"}])
        if not create and existing is None:
            raise ApiError(404, "UNKNOWN_RULE", f"there is no rule {spec.key!r}")
        await _configure(request).save_rule(user.installation.id, spec)
    except Invalid as exc:
        return _invalid(exc)
    except ConfigurationError as exc:
        return _invalid(Invalid([{"field": _rule_field(body, exc.field), "message": exc.message}]))
    return await _rule_response(request, user, spec.key)


def _rule_field(body: dict[str, Any], field: str) -> str:
    """A kind's own check names its config field bare ("provider"): put it where the editor shows it."""
    if field in RuleSpec.model_fields or field.startswith("config."):
        return field
    try:
        properties = kind(str(body.get("kind"))).config.model_fields
    except UnknownKind:
        return field
    return f"config.{field}" if field in properties else field


async def _rule_response(request: Request, user: DashboardUser, key: str) -> dict[str, Any]:
    container = request.app.state.container
    connected = await _connected(request, user.installation.id)
    async with container.automation.reading() as tx:
        rule = await tx.rule_by_key(user.installation.id, key)
        pipeline = await tx.pipeline(user.installation.id)
    if rule is None:
        raise ApiError(404, "UNKNOWN_RULE", f"there is no rule {key!r}")
    return {"success": True, "rule": rule_view(rule, pipeline, connected, pipeline.stage(rule.stage_key))}


@router.post("/rules")
async def create_rule(body: JsonBody, user: OrderManagerDep, request: Request) -> Any:
    """Create a stage or event rule (RuleSpec fields); it applies to orders entering from now on."""
    return await _save_rule(request, user, body, create=True)


@router.put("/rules/{key}")
async def update_rule(key: str, body: JsonBody, user: OrderManagerDep, request: Request) -> Any:
    """Replace a rule (RuleSpec fields; the key is the path's). Pending jobs run with the new config."""
    return await _save_rule(request, user, {**body, "key": key}, create=False)


@router.delete("/rules/{key}")
async def delete_rule(key: str, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """Delete a rule; its pending jobs are cancelled."""
    try:
        await _configure(request).delete_rule(user.installation.id, key)
    except ConfigurationError as exc:
        raise ApiError(404, "UNKNOWN_RULE", exc.message) from exc
    return {"success": True}


class CopyRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: str = Field(min_length=1, max_length=63, description="the stage to copy or move the rule to")
    key: str | None = Field(default=None, description="the copy's key; a free one is chosen when omitted")


async def _stored_spec(request: Request, user: DashboardUser, key: str) -> dict[str, Any]:
    async with request.app.state.container.automation.reading() as tx:
        rule = await tx.rule_by_key(user.installation.id, key)
        pipeline = await tx.pipeline(user.installation.id)
    if rule is None:
        raise ApiError(404, "UNKNOWN_RULE", f"there is no rule {key!r}")
    spec: dict[str, Any] = rule_view(rule, pipeline, (), None)["spec"]
    return spec


@router.post("/rules/{key}/copy")
async def copy_rule(key: str, body: CopyRule, user: OrderManagerDep, request: Request) -> Any:
    """Copy a rule to a stage (the same or another); the copy is appended at the end of that stage."""
    spec = await _stored_spec(request, user, key)
    new_key = body.key or await _free_key(request, user, key)
    return await _save_rule(request, user, {**spec, "key": new_key, "stage": body.stage, "event": None,
                                            "event_params": {}, "cancel_on_move": False}, create=True)


@router.post("/rules/{key}/move")
async def move_rule(key: str, body: CopyRule, user: OrderManagerDep, request: Request) -> Any:
    """Move a rule to another stage; its pending jobs in the old stage are cancelled."""
    spec = await _stored_spec(request, user, key)
    return await _save_rule(request, user, {**spec, "stage": body.stage, "event": None, "event_params": {},
                                            "cancel_on_move": False}, create=False)


async def _free_key(request: Request, user: DashboardUser, key: str) -> str:
    async with request.app.state.container.automation.reading() as tx:
        taken = {rule.key for rule in await tx.all_rules(user.installation.id)}
    base = key[:56]
    return next(f"{base}-copy{n if n > 1 else ''}" for n in range(1, 1000) if f"{base}-copy{n if n > 1 else ''}"
                not in taken)


class KeyOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keys: list[str] = Field(max_length=500)


@router.post("/stages/{stage}/rule-order")
async def reorder_rules(stage: str, body: KeyOrder, user: OrderManagerDep, request: Request) -> Any:
    """Set the execution order of a stage's rules (every rule of the stage, once)."""
    try:
        await _configure(request).reorder_rules(user.installation.id, stage, body.keys)
    except ConfigurationError as exc:
        return _invalid(Invalid([{"field": exc.field, "message": exc.message}]))
    return {"success": True}


# ---------------------------------------------------------------------------------------------- stages


class NewStage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    name: str = Field(min_length=1, max_length=120)
    allowed_statuses: list[str] = Field(description="Saleor statuses the order may have while in the stage")


@router.post("/stages")
async def add_stage(body: NewStage, user: OrderManagerDep, request: Request) -> Any:
    """Add a custom stage at the end of the pipeline (entered by a trigger, a rule or a person)."""
    try:
        await _configure(request).add_custom_stage(user.installation.id, body.key, body.name, body.allowed_statuses)
    except ConfigurationError as exc:
        return _invalid(Invalid([{"field": exc.field, "message": exc.message}]))
    return {"success": True}


class StageEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)
    match: dict[str, Any]


@router.put("/stages/{key}")
async def update_stage(key: str, body: StageEdit, user: OrderManagerDep, request: Request) -> Any:
    """Rename a stage or change its matching (statuses, charge statuses, refund; a custom stage: allowed
    statuses)."""
    try:
        try:
            match = MatchDoc.model_validate(body.match).to_match()
        except ValidationError as exc:
            raise Invalid(_fields(exc, "match.")) from None
        await _configure(request).update_stage(user.installation.id, key, name=body.name, match=match)
    except Invalid as exc:
        return _invalid(exc)
    except ConfigurationError as exc:
        if exc.field == "key":
            raise ApiError(404, "UNKNOWN_STAGE", exc.message) from exc
        return _invalid(Invalid([{"field": exc.field, "message": exc.message}]))
    return {"success": True}


@router.post("/pipeline/order")
async def reorder_stages(body: KeyOrder, user: OrderManagerDep, request: Request) -> Any:
    """Set the order of the pipeline's stages (every stage once); the first matching stage wins an order."""
    try:
        await _configure(request).reorder_stages(user.installation.id, body.keys)
    except ConfigurationError as exc:
        return _invalid(Invalid([{"field": exc.field, "message": exc.message}]))
    return {"success": True}


# -------------------------------------------------------------------------------------------- triggers


async def _save_trigger(request: Request, user: DashboardUser, body: dict[str, Any], *, create: bool) -> Any:
    try:
        try:
            spec = TriggerSpec.model_validate(body)
        except ValidationError as exc:
            raise Invalid(_fields(exc)) from None
        async with request.app.state.container.automation.reading() as tx:
            existing = await tx.trigger_by_key(user.installation.id, spec.key)
        if create and existing is not None:
            raise Invalid([{"field": "key", "message": f"a trigger {spec.key!r} exists already; choose another key"}])
        if not create and existing is None:
            raise ApiError(404, "UNKNOWN_TRIGGER", f"there is no trigger {spec.key!r}")
        trigger = await _configure(request).save_trigger(user.installation.id, spec)
    except Invalid as exc:
        return _invalid(exc)
    except ConfigurationError as exc:
        return _invalid(Invalid([{"field": exc.field, "message": exc.message}]))
    return {"success": True, "trigger": trigger_view(trigger)}


@router.post("/triggers")
async def create_trigger(body: JsonBody, user: OrderManagerDep, request: Request) -> Any:
    """Create a trigger (TriggerSpec fields): when its event happens, the order moves to its stage."""
    return await _save_trigger(request, user, body, create=True)


@router.put("/triggers/{key}")
async def update_trigger(key: str, body: JsonBody, user: OrderManagerDep, request: Request) -> Any:
    """Replace a trigger (TriggerSpec fields; the key is the path's)."""
    return await _save_trigger(request, user, {**body, "key": key}, create=False)


@router.delete("/triggers/{key}")
async def delete_trigger(key: str, user: OrderManagerDep, request: Request) -> dict[str, Any]:
    try:
        await _configure(request).delete_trigger(user.installation.id, key)
    except ConfigurationError as exc:
        raise ApiError(404, "UNKNOWN_TRIGGER", exc.message) from exc
    return {"success": True}


# -------------------------------------------------------------------------------------------- settings


class ScheduleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time_zone: str = Field(min_length=1, max_length=64, description="IANA zone, e.g. Europe/Berlin")
    quiet_start: time | None = Field(default=None, description="start of quiet hours (HH:MM), or none")
    quiet_end: time | None = None


@router.get("/settings")
async def get_settings(user: OrderManagerDep, request: Request) -> dict[str, Any]:
    """The installation's time zone and quiet hours (SMS and calls wait until they end)."""
    async with request.app.state.container.automation.reading() as tx:
        settings = await tx.settings(user.installation.id)
    quiet = settings.quiet_hours
    return {"time_zone": settings.time_zone, "paused": settings.paused,
            "quiet_start": quiet.start.strftime("%H:%M") if quiet else None,
            "quiet_end": quiet.end.strftime("%H:%M") if quiet else None}


@router.put("/settings")
async def put_settings(body: ScheduleSettings, user: OrderManagerDep, request: Request) -> Any:
    try:
        await _configure(request).set_schedule(user.installation.id, time_zone=body.time_zone,
                                               quiet_start=body.quiet_start, quiet_end=body.quiet_end)
    except ConfigurationError as exc:
        return _invalid(Invalid([{"field": exc.field, "message": exc.message}]))
    return {"success": True, **await get_settings(user, request)}
