"""Automation as code over the JSON API: the installation's configuration as YAML (or JSON), read and replaced."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from saleor_app.domain.config_document import ConfigFileError
from saleor_app.domain.config_file import data_of, dump_config
from saleor_app.engine.configure import ConfigureAutomation
from saleor_app.saleor.dashboard_auth import OrderManagerDep
from saleor_app.saleor.responses import ApiError

router = APIRouter(prefix="/api/v1", tags=["configuration"])



def _configure(request: Request) -> ConfigureAutomation:
    configure: ConfigureAutomation = request.app.state.container.configure  # built in wiring (composition root)
    return configure


@router.get("/config", responses={200: {"content": {"application/yaml": {}, "application/json": {}}}})
async def export_config(
    user: OrderManagerDep, request: Request,
    format: Annotated[Literal["yaml", "json"], Query(description="yaml (default) or json")] = "yaml",  # noqa: A002
) -> Response:
    """The installation's settings, stages, rules and triggers, in the file format of `config import`."""
    document = await _configure(request).export_config(user.installation.id)
    if format == "json":
        return JSONResponse(data_of(document))
    return Response(dump_config(document), media_type="application/yaml")


@router.put("/config")
async def import_config(
    user: OrderManagerDep, request: Request,
    dry_run: Annotated[bool, Query(description="check and report what would change; change nothing")] = False,
) -> dict[str, Any]:
    """Make the body (YAML, or JSON, which is YAML too) the installation's configuration, all or nothing.

    422 lists every problem with its line and column; nothing is changed then."""
    body = await request.body()  # capped (1 MB) and time-bound by web/request_guard.py
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(422, "INVALID_CONFIG", "the body is not UTF-8 text") from exc
    try:
        parsed = await request.app.state.container.config_parsing(text)  # off the event loop
        report = await _configure(request).apply_config(user.installation.id, parsed.document, dry_run=dry_run,
                                                        locate=parsed.locate, checked=parsed.checked)
    except ConfigFileError as exc:
        raise ApiError(422, "INVALID_CONFIG", str(exc)) from exc
    return {"success": True, "report": report.as_dict(), "summary": report.lines()}
