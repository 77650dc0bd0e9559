"""Errors the HTTP edge returns, in the shape Saleor shows a merchant: {"success": false, "error": {...}}.

Every error answer has that shape, whoever raised it: the app's own `ApiError`, FastAPI's request validation (422,
with `error.fields` as the board's editors send them) and Starlette's routing (404, 405), which would otherwise
answer `{"detail": ...}`. The handlers are registered once, by the app factory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

_HTTP_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORISED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 406: "NOT_ACCEPTABLE", 413: "PAYLOAD_TOO_LARGE",
               415: "UNSUPPORTED_MEDIA_TYPE"}


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[FieldProblem] | None = None


class ErrorBody(BaseModel):
    success: Literal[False]
    error: ErrorDetail


VALIDATION_ERROR: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "The request does not fit: `error.code` INVALID, `error.fields` says "
                                             "where (its location, such as `query.before`, and what is wrong)"}}
"""What the OpenAPI document says a 422 of the JSON routes is (instead of FastAPI's `HTTPValidationError`)."""


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   fields: list[dict[str, str]] | None = None) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        error["fields"] = fields
    return JSONResponse({"success": False, "error": error}, status_code=status, headers=headers)


async def api_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def http_error_handler(_request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no route for the path, a method the route does not take), with their headers."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):  # no body allowed
        return Response(status_code=exc.status_code, headers=exc.headers)
    code = _HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
    return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers) if exc.headers else None)


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """A request that does not fit a route's parameters or body model: 422 INVALID, each problem as a field (its
    location as a dotted path without the leading "body", as the page shows it) and a message."""
    assert isinstance(exc, RequestValidationError)
    fields = [{"field": _field(error.get("loc", ())), "message": str(error.get("msg", "invalid"))}
              for error in exc.errors()]
    message = "; ".join(f"{item['field']}: {item['message']}" if item["field"] else item["message"]
                        for item in fields)
    return error_response(422, "INVALID", message or "the request is not valid", fields=fields)


def _field(location: Sequence[Any]) -> str:
    return ".".join(str(part) for part in location if part != "body")
