"""The pipeline board's API (web/board_api.py) over HTTP with real Dashboard tokens from the fake Saleor."""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from saleor_app import web
from saleor_app.domain import kinds
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.fakes.saleor import FakeSaleor
from tests.timing import HTTP_TIMEOUT

NOTE = {"kind": "add_note", "config": {"message": "Order {{ order.number }} is paid"}}


@pytest.fixture
async def stack(settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


@pytest.fixture
async def client(stack: EngineStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=str(stack.container.settings.app_url),
                                 headers=stack.dashboard_headers()) as http:
        yield http


def _fields(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {item["field"]: item["message"] for item in response.json()["error"]["fields"]}


async def _board(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/v1/board")
    assert response.status_code == 200, response.text
    board: dict[str, Any] = response.json()
    return board


def _stage(board: dict[str, Any], key: str) -> dict[str, Any]:
    return next(stage for stage in board["stages"] if stage["key"] == key)


async def test_rules_are_created_validated_by_field_reordered_copied_and_moved(client: httpx.AsyncClient) -> None:
    bad = await client.post("/api/v1/rules", json={"key": "x", "name": "", "stage": "paid", "kind": "add_note",
                                                  "config": {"message": "Hi {{ order.numbr }}"}})
    fields = _fields(bad)
    assert "config.message" in fields and "did you mean 'number'" in fields["config.message"]
    assert "name" in fields
    assert (await _board(client))["stages"][2]["rules"] == []  # nothing saved
    unknown_kind = _fields(await client.post("/api/v1/rules", json={"key": "x", "name": "x", "stage": "paid",
                                                                     "kind": "fax", "config": {}}))
    assert list(unknown_kind) == ["kind"] and "known kinds" in unknown_kind["kind"]

    for key, extra in (("first", {}), ("second", {"after_previous": True, "delay_seconds": 600}),
                       ("third", {"repeat": "once_per_order"})):
        created = await client.post("/api/v1/rules", json={"key": key, "name": key.title(), "stage": "paid",
                                                           **NOTE, **extra})
        assert created.status_code == 200, created.text
    taken = _fields(await client.post("/api/v1/rules", json={"key": "first", "name": "Again", "stage": "paid",
                                                             **NOTE}))
    assert "exists already" in taken["key"]
    paid = _stage(await _board(client), "paid")
    assert [rule["key"] for rule in paid["rules"]] == ["first", "second", "third"]
    assert paid["rules"][1]["timing"] == "after the previous rule, wait 10m"
    assert paid["rules"][2]["repeat"] == "once_per_order"

    assert (await client.post("/api/v1/stages/paid/rule-order", json={"keys": ["third", "first", "second"]})
            ).status_code == 200
    assert "each rule" in _fields(await client.post("/api/v1/stages/paid/rule-order",
                                                    json={"keys": ["third", "first"]}))["keys"]
    copied = await client.post("/api/v1/rules/first/copy", json={"stage": "shipped"})
    assert copied.json()["rule"]["key"] == "first-copy" and copied.json()["rule"]["stage"] == "shipped"
    moved = await client.post("/api/v1/rules/third/move", json={"stage": "cancelled"})
    assert moved.status_code == 200 and moved.json()["rule"]["stage"] == "cancelled"
    board = await _board(client)
    assert [rule["key"] for rule in _stage(board, "paid")["rules"]] == ["first", "second"]
    assert [rule["key"] for rule in _stage(board, "shipped")["rules"]] == ["first-copy"]

    edited = await client.put("/api/v1/rules/first", json={**_stage(board, "paid")["rules"][0]["spec"],
                                                          "enabled": False})
    assert edited.json()["rule"]["enabled"] is False
    assert (await client.delete("/api/v1/rules/first")).status_code == 200
    assert (await client.delete("/api/v1/rules/first")).status_code == 404
    assert (await client.put("/api/v1/rules/nope", json={"name": "n", "stage": "paid", **NOTE})).status_code == 404


async def test_stages_are_renamed_rematched_reordered_and_custom_ones_added(client: httpx.AsyncClient) -> None:
    added = await client.post("/api/v1/stages", json={"key": "awaiting-pickup", "name": "Awaiting pickup",
                                                      "allowed_statuses": ["UNFULFILLED"]})
    assert added.status_code == 200, added.text
    assert "choose from" in _fields(await client.post("/api/v1/stages", json={
        "key": "bad", "name": "Bad", "allowed_statuses": ["SHIPPED"]}))["allowed_statuses"]
    board = await _board(client)
    pickup = _stage(board, "awaiting-pickup")
    assert pickup["custom"] and "nothing moves orders" in pickup["warnings"][0]

    renamed = await client.put("/api/v1/stages/paid", json={"name": "Paid in full", "match": {
        "status": ["UNFULFILLED"], "charge_status": ["FULL"], "refund": "any"}})
    assert renamed.status_code == 200, renamed.text
    wrong = _fields(await client.put("/api/v1/stages/paid", json={"name": "Paid", "match": {"status": ["PAID"]}}))
    assert "match.status" in wrong and "PAID" in wrong["match.status"]
    assert (await client.put("/api/v1/stages/nope", json={"name": "x", "match": {"status": ["UNFULFILLED"]}})
            ).status_code == 404

    keys = [stage["key"] for stage in board["stages"]]
    keys.remove("awaiting-pickup")
    keys.insert(3, "awaiting-pickup")
    assert (await client.post("/api/v1/pipeline/order", json={"keys": keys})).status_code == 200
    board = await _board(client)
    assert [stage["key"] for stage in board["stages"]] == keys
    paid = _stage(board, "paid")
    assert (paid["name"], paid["match"]["chargeStatus"], paid["hasPlan"]) == ("Paid in full", ["FULL"], True)
    assert "each stage" in _fields(await client.post("/api/v1/pipeline/order", json={"keys": keys[:-1]}))["keys"]


async def test_triggers_are_saved_checked_and_listed_on_their_stage(client: httpx.AsyncClient) -> None:
    trigger = {"key": "paid-in-full", "name": "Paid in full", "stage": "paid", "event": "order_fully_paid",
               "condition": {"match": "all", "rules": [{"field": "total", "op": "gt", "value": 100}]}}
    created = await client.post("/api/v1/triggers", json=trigger)
    assert created.status_code == 200, created.text
    assert created.json()["trigger"]["conditionSummary"] == "total > 100"
    no_plan = _fields(await client.post("/api/v1/triggers", json={**trigger, "key": "to-new", "stage": "new"}))
    assert "no write-back plan" in no_plan["stage"]
    bad_event = _fields(await client.post("/api/v1/triggers", json={**trigger, "key": "t2", "event": "order_sent"}))
    assert "known events" in next(iter(bad_event.values()))
    assert [t["key"] for t in _stage(await _board(client), "paid")["triggers"]] == ["paid-in-full"]
    updated = await client.put("/api/v1/triggers/paid-in-full", json={**trigger, "enabled": False})
    assert updated.json()["trigger"]["enabled"] is False
    assert (await client.delete("/api/v1/triggers/paid-in-full")).status_code == 200
    assert (await client.delete("/api/v1/triggers/paid-in-full")).status_code == 404


async def test_health_badges_say_what_stops_a_rule(client: httpx.AsyncClient) -> None:
    sms = {"key": "sms", "name": "Text", "stage": "paid", "kind": "sms", "config": {"text": "Paid!"}}
    refused = _fields(await client.post("/api/v1/rules", json=sms))
    assert "connect a Twilio account" in refused["config.provider"]
    assert (await client.post("/api/v1/rules", json={**sms, "enabled": False})).status_code == 200
    never = {"key": "never", "name": "Never", "stage": "paid", **NOTE,
             "condition": {"match": "all", "rules": [{"field": "status", "op": "eq", "value": "CANCELED"}]}}
    assert (await client.post("/api/v1/rules", json=never)).status_code == 200
    rules = {rule["key"]: rule for rule in _stage(await _board(client), "paid")["rules"]}
    assert [badge["code"] for badge in rules["sms"]["health"]] == ["provider_not_connected"]
    assert [badge["code"] for badge in rules["never"]["health"]] == ["never_fires"]
    assert rules["never"]["conditionSummary"] == "status is CANCELED"


async def test_settings_and_the_editor_catalogue(client: httpx.AsyncClient) -> None:
    saved = await client.put("/api/v1/settings", json={"time_zone": "Europe/Berlin", "quiet_start": "21:00",
                                                       "quiet_end": "08:00"})
    assert saved.json()["time_zone"] == "Europe/Berlin" and saved.json()["quiet_start"] == "21:00"
    assert "IANA" in _fields(await client.put("/api/v1/settings", json={"time_zone": "Mars/Base"}))["time_zone"]
    assert "quiet_hours" in _fields(await client.put("/api/v1/settings", json={"time_zone": "UTC",
                                                                               "quiet_start": "21:00"}))
    assert (await _board(client))["settings"]["quietHours"] == {"start": "21:00", "end": "08:00"}

    catalogue = (await client.get("/api/v1/editor/catalogue")).json()
    listed = {kind["name"]: kind for kind in catalogue["kinds"]}
    assert set(listed) == {kind.name for kind in kinds.kinds()}  # every registered kind gets an editor
    assert listed["sms"]["hints"]["text"]["widget"] == "sms" and listed["sms"]["realtime"]
    assert listed["change_stage"]["hints"]["stage"]["widget"] == "stage"
    assert listed["add_note"]["schema"]["required"] == ["message"]
    assert any(field["path"] == "order.number" for field in catalogue["templateFields"])
    assert {"total", "status"} <= {field["name"] for field in catalogue["conditionFields"]}


async def test_the_page_and_api_may_be_framed_only_by_dashboards(stack: EngineStack, client: httpx.AsyncClient
                                                                  ) -> None:
    page = await client.get("/app/extensions/app/QXBwOjE=", params={"featureFlags[x][enabled]": "false"})
    assert page.status_code == 200 and "<script type=\"module\"" in page.text
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors https://*.saleor.cloud http://localhost:* http://127.0.0.1:*" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert (await client.get("/api/v1/board")).headers["content-security-policy"].startswith("frame-ancestors ")
    assert (await client.get("/static/main.js")).headers["content-type"].startswith("text/javascript")
    assert (await client.get("/static/..%2Fpages.py")).status_code == 404
    assert "content-security-policy" not in (await client.get("/api/manifest")).headers


# ------------------------------------------------------------------------------------------ unauthorised


def _routes() -> list[tuple[str, str]]:
    """Every route of the Dashboard's API (/api/v1), from every module of saleor_app.web that has a router."""
    found = []
    for info in pkgutil.iter_modules(web.__path__):
        router = getattr(importlib.import_module(f"saleor_app.web.{info.name}"), "router", None)
        for route in router.routes if isinstance(router, APIRouter) else []:
            if isinstance(route, APIRoute) and route.path.startswith("/api/v1/"):
                path = re.sub(r"\{[a-z_]*id\}", "1", route.path)
                path = re.sub(r"\{[^}]+\}", "paid", path)
                found += [(method, path) for method in sorted(route.methods)]
    assert len(found) > 60, found  # every view's routes, not one module's
    return sorted(set(found))


ROUTES = _routes()


async def test_the_route_list_holds_every_operation_the_app_documents(stack: EngineStack) -> None:
    """ROUTES is built from the modules' routers; the served OpenAPI document is a second, independent list."""
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=str(stack.container.settings.app_url)) as http:
        document = (await http.get("/api/openapi.json")).json()
    documented = {(method.upper(), re.sub(r"\{[^}]+\}", "paid", re.sub(r"\{[a-z_]*id\}", "1", path)))
                  for path, operations in document["paths"].items() if path.startswith("/api/v1/")
                  for method in operations}
    assert len(documented) > 60 and documented - set(ROUTES) == set()


async def test_every_route_refuses_missing_expired_foreign_and_underprivileged_tokens(stack: EngineStack) -> None:
    """One stack for all routes (a stack per route would cost minutes); every refusal that is wrong is listed."""
    saleor, app_id = stack.saleor, stack.installation.app_id
    signer = saleor.signer
    cases = {
        "no token": ({}, 401),
        "expired": ({"authorization-bearer": signer.dashboard_token(app_id=app_id, iss=saleor.api_url,
                                                                    now=time.time() - 600)}, 401),
        "another app": ({"authorization-bearer": signer.dashboard_token(app_id="QXBwOjk5", iss=saleor.api_url)}, 401),
        "no MANAGE_ORDERS": ({"authorization-bearer": signer.dashboard_token(
            app_id=app_id, iss=saleor.api_url, permissions=["MANAGE_PRODUCTS"])}, 403),
    }
    wrong = []
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=str(stack.container.settings.app_url)) as http:
        for method, path in ROUTES:
            for case, (headers, status) in cases.items():
                if headers:
                    headers = {**headers, "saleor-api-url": saleor.api_url}
                response = await http.request(method, path, headers=headers, json={})
                if response.status_code != status:
                    wrong.append(f"{method} {path} with {case}: {response.status_code} {response.text[:200]}")
    assert wrong == []


async def test_installation_b_cannot_reach_installation_a(stack: EngineStack, client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/rules", json={"key": "a-only", "name": "A", "stage": "paid", **NOTE})
            ).status_code == 200
    app_url = str(stack.container.settings.app_url)
    async with FakeSaleor() as other:
        await other.install(f"{app_url}/api/manifest")
        b = await stack.container.installations.get_by_url(other.api_url)
        assert b is not None
        b_token = other.signer.dashboard_token(app_id=b.app_id, iss=other.api_url)
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=app_url) as http:
            forged = await http.get("/api/v1/board", headers={"authorization-bearer": b_token,
                                                              "saleor-api-url": stack.saleor.api_url})
            assert forged.status_code == 401  # B's Saleor did not sign for A
            as_b = {"authorization-bearer": b_token, "saleor-api-url": other.api_url}
            board_b = (await http.get("/api/v1/board", headers=as_b)).json()
            assert all(stage["rules"] == [] for stage in board_b["stages"])
            for method, path in (("PUT", "/api/v1/rules/a-only"), ("DELETE", "/api/v1/rules/a-only"),
                                 ("POST", "/api/v1/rules/a-only/copy"), ("POST", "/api/v1/rules/a-only/move")):
                body = {"stage": "paid"} if path.endswith(("copy", "move")) else {"name": "B", "stage": "paid", **NOTE}
                assert (await http.request(method, path, headers=as_b, json=body)).status_code == 404, path
    assert [r["key"] for r in _stage(await _board(client), "paid")["rules"]] == ["a-only"]
