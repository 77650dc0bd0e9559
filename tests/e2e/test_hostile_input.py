"""Hostile input answers a clear 4xx: ids past the database's range, NUL bytes, deeply nested JSON and YAML."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.timing import HTTP_TIMEOUT

BAD_IDS = (0, -1, 2**31, 2**63, 10**30)  # a cursor may be 0 (an empty log's newest id): only paths refuse it


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


@pytest.fixture
async def client(stack: EngineStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=str(stack.container.settings.app_url),
                                 headers=stack.dashboard_headers()) as http:
        yield http


def _refused(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, f"{response.request.method} {response.request.url}: " \
                                              f"{response.status_code} {response.text[:300]}"


@pytest.mark.parametrize("big", BAD_IDS)
async def test_ids_out_of_range_are_refused_in_paths_and_queries(client: httpx.AsyncClient, big: int) -> None:
    cursor = big if big > 0 else -1
    for method, url in (
        ("GET", f"/api/v1/activity?before={cursor}"),
        ("GET", f"/api/v1/activity?after={cursor}"),
        ("GET", f"/api/v1/tasks?before={cursor}"),
        ("GET", f"/api/v1/rules/x/backfill?after={cursor}"),
        ("POST", f"/api/inbound/{big}/secret"),
        ("POST", f"/api/twilio/{big}/sms-status"),
        ("POST", f"/api/twilio/{big}/call-status"),
        ("POST", f"/api/twilio/{big}/inbound"),
        ("POST", f"/api/providers/postmark/{big}/events"),
        ("GET", f"/api/v1/messages?job={big}"),
        ("GET", f"/api/v1/jobs/{big}/replay"),
        ("POST", f"/api/v1/jobs/{big}/replay"),
        ("POST", f"/api/v1/tasks/{big}/complete"),
        ("POST", f"/api/v1/tasks/{big}/cancel"),
    ):
        _refused(await client.request(method, url, json={}))
    _refused(await client.post(f"/api/v1/jobs/{big}/resolve", json={"note": "x"}))


async def test_nul_bytes_are_refused(client: httpx.AsyncClient) -> None:
    _refused(await client.get("/api/v1/tasks", params={"assignee": "a\x00b"}))
    _refused(await client.get("/api/v1/activity", params={"order": "a\x00b"}))
    _refused(await client.get("/api/v1/orders/a%00b/automation"))
    _refused(await client.post("/api/v1/rules", json={"key": "nul", "name": "a\x00b", "stage": "paid",
                                                       "kind": "add_note", "config": {"message": "hi"}}))
    _refused(await client.put("/api/v1/team/members/nul", json={"name": "a\x00b", "email": "a@example.com"}))


async def test_deep_json_and_yaml_are_refused(client: httpx.AsyncClient) -> None:
    _refused(await client.put("/api/v1/workflows/deep", content=b"[" * 100_000 + b"]" * 100_000,
                              headers={"content-type": "application/json"}))
    _refused(await client.put("/api/v1/workflows/deep", content=b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
                              headers={"content-type": "application/json"}))
    # Deep enough to pass Python's parser but not orjson's encoder when stored (255 levels), in a model's field:
    nested = '{"a":' * 300 + "1" + "}" * 300
    _refused(await client.post("/api/v1/rules", content=f'{{"key": "deep", "name": "deep", "stage": "paid", '
                               f'"kind": "add_note", "config": {{"message": "hi", "extra": {nested}}}}}',
                               headers={"content-type": "application/json"}))
    _refused(await client.put("/api/v1/workflows/deep", content=f'{{"name": "deep", "steps": [{{"key": "a", '
                              f'"kind": "add_note", "config": {nested}}}]}}', headers={"content-type": "text/plain"}))
    # 1,000 levels of block mapping (500 KB of indentation, under the size cap) and 3,000 as a flow mapping.
    deep_mapping = "".join(f"{' ' * depth}k{depth}:\n" for depth in range(1000)) + " " * 1000 + "x: 1\n"
    for document in ("[" * 20_000 + "]" * 20_000, deep_mapping, "settings: " + "9" * 5000 + "\n",
                     "{a: " * 3000 + "1" + "}" * 3000, 'settings: {time_zone: "Europe/\\0Paris"}\n'):
        _refused(await client.put("/api/v1/config?dry_run=true", content=document.encode()))


async def test_routing_and_validation_errors_answer_in_the_apps_error_format(client: httpx.AsyncClient) -> None:
    """Found by the fuzzer: Starlette's 404/405 and FastAPI's 422 answered `{"detail": …}`, not the app's error."""
    wrong_method = await client.request("TRACE", "/api/v1/installation")
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["allow"]
    assert wrong_method.json() == {"success": False, "error": {"code": "METHOD_NOT_ALLOWED",
                                                               "message": "Method Not Allowed"}}
    unknown = await client.get("/api/v1/no-such-route")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "NOT_FOUND"
    invalid = await client.get("/api/v1/activity", params={"before": "x"})
    assert invalid.status_code == 422
    error = invalid.json()["error"]
    assert error["code"] == "INVALID" and error["fields"][0]["field"] == "query.before", error
    assert error["message"].startswith("query.before: ")
    body = await client.post("/api/v1/templates/preview", json={"html": True})
    assert body.status_code == 422 and body.json()["error"]["fields"][0]["field"] == "template"


async def test_an_order_reference_that_is_no_saleor_id_is_unknown(client: httpx.AsyncClient) -> None:
    """Found by the fuzzer: a non-ASCII reference (U+0080) crashed the fake Saleor's id decoding into a 500, which
    the app reported as Saleor being unreachable; Saleor answers such an id with "Couldn't resolve id"."""
    for path in ("/api/v1/orders/%C2%80/automation", "/api/v1/orders/%C2%80/move?stage=paid"):
        response = await client.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_order", response.text


def test_every_integer_in_a_path_or_query_is_bounded(container, settings) -> None:
    """One id type: a new route with a bare `int` id would reach the database with any number again."""
    import typing

    from annotated_types import Le
    from fastapi.routing import APIRoute

    from saleor_app.app import create_app
    from saleor_app.web.ids import MAX_ROW_ID

    def routes(listed: list[Any]) -> Iterator[APIRoute]:
        for route in listed:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):  # FastAPI keeps an included router as one entry
                yield from routes(route.original_router.routes)

    unbounded = []
    walked = list(routes(create_app(settings, container).routes))
    assert any(route.path == "/api/v1/jobs/{job_id}/replay" for route in walked)
    for route in walked:
        for param in (*route.dependant.path_params, *route.dependant.query_params):
            annotation = param.field_info.annotation
            if int not in (annotation, *typing.get_args(annotation)):
                continue
            ceilings = [m.le for m in param.field_info.metadata if isinstance(m, Le)]
            ceilings += [m.le for m in param.field_info.metadata if getattr(m, "le", None) is not None
                         and not isinstance(m, Le)]
            if not ceilings or min(ceilings) > MAX_ROW_ID:
                unbounded.append(f"{route.path} {param.name}")
    assert unbounded == []
