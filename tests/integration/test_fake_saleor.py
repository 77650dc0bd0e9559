"""FakeSaleor against the captured Saleor 3.23.28 samples: event order and principals per action, refusals,
body shapes and signatures, the install handshake, and the fake's own knobs (limits, retries, faults).

A tiny recording receiver on loopback plays the app, so these tests prove the fake, not the app.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from saleor_app.saleor import documents
from tests.conftest import SAMPLES, SAMPLES_HOW, require
from tests.fakes.loopback import LoopbackServer
from tests.fakes.saleor import FakeSaleor, InstallFailed, LineSpec
from tests.fakes.saleor_model import STAFF_EMAIL, Order
from tests.timing import HTTP_TIMEOUT

ORDER_EVENTS = ["ORDER_CREATED", "ORDER_CONFIRMED", "ORDER_UPDATED", "ORDER_PAID", "ORDER_FULLY_PAID",
                "ORDER_REFUNDED", "ORDER_FULLY_REFUNDED", "ORDER_FULFILLED", "ORDER_CANCELLED", "ORDER_EXPIRED",
                "ORDER_METADATA_UPDATED", "FULFILLMENT_CREATED", "FULFILLMENT_TRACKING_NUMBER_UPDATED"]


def need_samples() -> None:
    require((SAMPLES / "timeline.json").is_file(), f"the captured Saleor samples are not at {SAMPLES}: {SAMPLES_HOW}")


def sample_json(relative: str) -> Any:
    return json.loads((SAMPLES / relative).read_text())


# -- the recording receiver -------------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def event(self) -> str:
        return dict(self.headers)["saleor-event"]

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Plays the app: serves a manifest, proves its token during register, records and answers webhooks."""

    use_samples_manifest: bool = True
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    identity: dict[str, Any] | None = None
    register_answer: tuple[int, dict[str, Any]] = (200, {"success": True})
    webhook_statuses: list[int] = field(default_factory=list)  # answered in turn, then 200

    @property
    def hooks(self) -> list[Received]:
        return [r for r in self.requests if r.path.startswith("/api/webhooks/")]

    def manifest(self) -> dict[str, Any]:
        if self.use_samples_manifest:
            manifest = sample_json("manifest.json")
            for hook in manifest["webhooks"]:
                hook["targetUrl"] = f"{self.url}/api/webhooks/{hook['name']}"
        else:
            manifest = {"id": "test.receiver", "name": "Recording receiver", "version": "1.0.0",
                        "requiredSaleorVersion": ">=3.23.5 <4", "permissions": ["MANAGE_ORDERS"], "webhooks": [
                            {"name": "orders", "targetUrl": f"{self.url}/api/webhooks/orders",
                             "asyncEvents": ORDER_EVENTS, "query": documents.load("OrderEvents")},
                            {"name": "app", "targetUrl": f"{self.url}/api/webhooks/app",
                             "asyncEvents": ["APP_DELETED", "APP_STATUS_CHANGED"],
                             "query": documents.load("AppLifecycle")}]}
        manifest["tokenTargetUrl"] = f"{self.url}/api/register"
        return dict(manifest)

    async def _record(self, request: Request) -> bytes:
        body = await request.body()
        headers = [(k.decode(), v.decode()) for k, v in request.headers.raw]
        self.requests.append(Received(request.url.path, headers, body))
        return body

    async def _manifest(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse(self.manifest())

    async def _register(self, request: Request) -> Response:
        token = json.loads(await self._record(request))["auth_token"]
        # Like app-sdk: prove the token against the claimed Saleor while Saleor waits for this answer.
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            proof = await client.post(request.headers["saleor-api-url"], json={"query": documents.load("AppIdentity")},
                                      headers={"Authorization": f"Bearer {token}"})
        self.identity = proof.json()
        status, body = self.register_answer
        return JSONResponse(body, status_code=status)

    async def _webhook(self, request: Request) -> Response:
        await self._record(request)
        return Response(b'{"success":true}', status_code=self.webhook_statuses.pop(0) if self.webhook_statuses else 200)

    def asgi(self) -> Starlette:
        return Starlette(routes=[Route("/api/manifest", self._manifest),
                                 Route("/api/register", self._register, methods=["POST"]),
                                 Route("/api/webhooks/{name}", self._webhook, methods=["POST"])])


@pytest.fixture
async def fake() -> AsyncIterator[FakeSaleor]:
    async with FakeSaleor() as saleor:
        yield saleor


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recorder = Receiver(use_samples_manifest=(SAMPLES / "manifest.json").is_file())
    async with LoopbackServer(recorder.asgi()) as server:
        recorder.url = server.url
        yield recorder


@pytest.fixture
async def installed(fake: FakeSaleor, receiver: Receiver) -> Receiver:
    await fake.install(f"{receiver.url}/api/manifest")
    return receiver


# -- the orders of the captured story ----------------------------------------------------------------------------


def order_a(fake: FakeSaleor) -> Order:
    return fake.create_order(lines=[LineSpec("Darko Polo", "S", "111223580", 2, 40.5, preorder=True),
                                    LineSpec("Paul's Balance 420", "39", "118223581", 1, 50.0)],
                             customer_note="Please leave at the door", external_reference="EXT-A-1001")


def order_b(fake: FakeSaleor) -> Order:
    return fake.create_order(guest=True, email="guest.buyer@example.com", shipping_phone="",
                             lines=[LineSpec("Team Shirt", "S", "128223580", 2, 40.0),
                                    LineSpec("White Hoodie", "UHJvZHVjdFZhcmlhbnQ6MzQ3", None, 1, 35.0)])


def order_c(fake: FakeSaleor) -> Order:
    return fake.create_order(guest=True, email="c.buyer@example.com",
                             lines=[LineSpec("Apple Juice", "1l", "43", 1, 45.0)])


def order_d(fake: FakeSaleor) -> Order:
    return fake.create_order(guest=True, email="expiring.buyer@example.com",
                             lines=[LineSpec("Monospace Tee", "S", "328223580", 1, 20.0)])


async def send(fake: FakeSaleor, sample: str, variables: dict[str, Any], *, as_app: bool) -> httpx.Response:
    """The exact document Saleor accepted in samples/mutations/<sample>.json, with our ids."""
    need_samples()
    token = fake.app.token if as_app else fake.staff_token()
    return await fake.graphql(sample_json(f"mutations/{sample}.json")["query"], variables, token=token)


def fulfil(fake: FakeSaleor, *lines: tuple[Any, int], **extra: Any) -> dict[str, Any]:
    return {**extra, "lines": [{"orderLineId": line.id, "stocks": [{"quantity": qty, "warehouse": fake.warehouse_id}]}
                               for line, qty in lines]}


async def paid_a(fake: FakeSaleor) -> Order:
    order = await fake.complete_draft(order_a(fake), auto_confirm=True)
    await send(fake, "orderMarkAsPaid-ok", {"id": order.id, "ref": "MANUAL-REF-1"}, as_app=False)
    return order


async def paid_b(fake: FakeSaleor, *, fulfil_first_line: bool = False) -> Order:
    order = await fake.complete_draft(order_b(fake), auto_confirm=False)
    await send(fake, "orderMarkAsPaid-ok-by-app-unconfirmed-order", {"id": order.id, "ref": "APP-PAID-B"}, as_app=True)
    if fulfil_first_line:
        await send(fake, "orderFulfill-ok-on-unconfirmed-order",
                   {"id": order.id, "input": fulfil(fake, (order.lines[0], 2))}, as_app=True)
    return order


async def unconfirmed(fake: FakeSaleor, make: Callable[[FakeSaleor], Order]) -> Order:
    return await fake.complete_draft(make(fake), auto_confirm=False)


# -- (a) every action emits what the captured Saleor emitted, in order, with the same principal -------------------

Action = Callable[[], Awaitable[Any]]


async def _a_complete(f: FakeSaleor) -> Action:
    order = order_a(f)
    return lambda: f.complete_draft(order, auto_confirm=True)


async def _b_complete(f: FakeSaleor) -> Action:
    order = order_b(f)
    return lambda: f.complete_draft(order, auto_confirm=False)


async def _a_mark_paid(f: FakeSaleor) -> Action:
    order = await f.complete_draft(order_a(f), auto_confirm=True)
    return lambda: send(f, "orderMarkAsPaid-ok", {"id": order.id, "ref": "MANUAL-REF-1"}, as_app=False)


async def _b_mark_paid_by_app(f: FakeSaleor) -> Action:
    order = await unconfirmed(f, order_b)
    return lambda: send(f, "orderMarkAsPaid-ok-by-app-unconfirmed-order", {"id": order.id, "ref": "B"}, as_app=True)


async def _a_fulfil_partial(f: FakeSaleor) -> Action:
    order = await paid_a(f)
    variables = {"id": order.id, "input": fulfil(f, (order.lines[1], 1), notifyCustomer=True, trackingNumber="T-1")}
    return lambda: send(f, "orderFulfill-ok-partial", variables, as_app=False)


async def _b_fulfil_unconfirmed(f: FakeSaleor) -> Action:
    order = await paid_b(f)
    variables = {"id": order.id, "input": fulfil(f, (order.lines[0], 2))}
    return lambda: send(f, "orderFulfill-ok-on-unconfirmed-order", variables, as_app=True)


async def _b_fulfil_completes(f: FakeSaleor) -> Action:
    order = await paid_b(f, fulfil_first_line=True)
    variables = {"id": order.id, "input": fulfil(f, (order.lines[1], 1), notifyCustomer=False)}
    return lambda: send(f, "orderFulfill-ok-completes-order", variables, as_app=False)


async def _c_confirm_by_app(f: FakeSaleor) -> Action:
    order = await unconfirmed(f, order_c)
    return lambda: send(f, "orderConfirm-ok", {"id": order.id}, as_app=True)


async def _c_cancel(f: FakeSaleor) -> Action:
    order = await unconfirmed(f, order_c)
    await send(f, "orderConfirm-ok", {"id": order.id}, as_app=True)
    return lambda: send(f, "orderCancel-ok", {"id": order.id}, as_app=False)


async def _a_private_metadata_by_app(f: FakeSaleor) -> Action:
    order = await f.complete_draft(order_a(f))
    variables = {"id": order.id, "input": [{"key": "automation.last_step", "value": "sms_sent"}]}
    return lambda: send(f, "updatePrivateMetadata-ok-app", variables, as_app=True)


async def _a_note_by_app(f: FakeSaleor) -> Action:
    order = await f.complete_draft(order_a(f))
    variables = {"id": order.id, "input": {"message": "Automation: SMS sent"}}
    return lambda: send(f, "orderNoteAdd-ok-app", variables, as_app=True)


async def _d_expire(f: FakeSaleor) -> Action:
    order = await unconfirmed(f, order_d)
    return lambda: f.expire_order(order)


async def _partial_charge(f: FakeSaleor) -> Action:
    order = await f.complete_draft(order_d(f), auto_confirm=True)
    return lambda: f.charge(order, 10.0)


async def _full_refund(f: FakeSaleor) -> Action:
    order = await paid_a(f)
    await f.refund(order, 10.0)
    return lambda: f.refund(order)


async def _app_delete(f: FakeSaleor) -> Action:
    return lambda: f.delete_app()


TIMELINE: dict[str, Callable[[FakeSaleor], Awaitable[Action]]] = {
    "A draftOrderComplete": _a_complete,
    "B draftOrderComplete (unconfirmed)": _b_complete,
    "A orderMarkAsPaid": _a_mark_paid,
    "B orderMarkAsPaid while UNCONFIRMED (app)": _b_mark_paid_by_app,
    "A orderFulfill partial (line 2 only)": _a_fulfil_partial,
    "B orderFulfill on UNCONFIRMED paid order (app)": _b_fulfil_unconfirmed,
    "B orderFulfill remaining line -> fully fulfilled (staff)": _b_fulfil_completes,
    "C orderConfirm (app)": _c_confirm_by_app,
    "C orderCancel (staff)": _c_cancel,
    "A updatePrivateMetadata (APP token)": _a_private_metadata_by_app,
    "A orderNoteAdd (APP token)": _a_note_by_app,
    "D expire_orders_task()": _d_expire,
    "#21 transactionCreate partial charge (staff)": _partial_charge,
    "A transactionUpdate full refund (staff)": _full_refund,
    "appDelete (staff)": _app_delete,
}


def captured_sequence(action: str) -> list[tuple[str, str | None]]:
    entry = next(e for e in sample_json("timeline.json") if e["action"].startswith(action))
    sequence = []
    for stem in entry["webhooks_received"]:
        event = dict(sample_json(f"{stem}.headers.json")["headers"])["Saleor-Event"]
        principal = sample_json(f"{stem}.body")["issuingPrincipal"]
        sequence.append((event, principal["__typename"] if principal else None))
    return sequence


@pytest.mark.parametrize("action", list(TIMELINE))
async def test_action_emits_the_captured_events_in_order(fake: FakeSaleor, installed: Receiver, action: str) -> None:
    need_samples()
    act = await TIMELINE[action](fake)
    seen = len(installed.hooks)
    response = await act()
    if isinstance(response, httpx.Response):
        assert response.status_code == 200
        assert [payload["errors"] for payload in response.json()["data"].values()] == [[]]
    got = [(hook.event, (hook.payload["issuingPrincipal"] or {}).get("__typename")) for hook in installed.hooks[seen:]]
    assert got == captured_sequence(action)
    assert not fake.internal_errors


# -- (b) refusals answer exactly what the captured Saleor answered -------------------------------------------------

Refused = Callable[[FakeSaleor], Awaitable[tuple[dict[str, Any], bool]]]


async def _confirmed_twice(f: FakeSaleor) -> tuple[dict[str, Any], bool]:
    order = await unconfirmed(f, order_c)
    await send(f, "orderConfirm-ok", {"id": order.id}, as_app=True)
    return {"id": order.id}, True


async def _confirm_partially_fulfilled(f: FakeSaleor) -> tuple[dict[str, Any], bool]:
    return {"id": (await paid_b(f, fulfil_first_line=True)).id}, True


async def _paid_twice(f: FakeSaleor) -> tuple[dict[str, Any], bool]:
    return {"id": (await paid_a(f)).id, "ref": "MANUAL-REF-2"}, True


async def _too_many(f: FakeSaleor) -> tuple[dict[str, Any], bool]:
    order = await paid_a(f)
    return {"id": order.id, "input": fulfil(f, (order.lines[0], 5), notifyCustomer=False)}, True


async def _preorder(f: FakeSaleor) -> tuple[dict[str, Any], bool]:
    order = await paid_a(f)
    lines = fulfil(f, (order.lines[0], 2), (order.lines[1], 1), notifyCustomer=True, trackingNumber="TRACK-111")
    return {"id": order.id, "input": lines}, False


async def _unpaid(f: FakeSaleor) -> tuple[dict[str, Any], bool]:
    order = await unconfirmed(f, order_b)
    return {"id": order.id, "input": fulfil(f, (order.lines[0], 2))}, True


async def _cancel_fulfilled(f: FakeSaleor) -> tuple[dict[str, Any], bool]:
    order = await paid_b(f, fulfil_first_line=True)
    await send(f, "orderFulfill-ok-completes-order", {"id": order.id, "input": fulfil(f, (order.lines[1], 1))},
               as_app=False)
    return {"id": order.id}, True


async def _empty_note(f: FakeSaleor) -> tuple[dict[str, Any], bool]:
    return {"id": (await f.complete_draft(order_a(f))).id, "input": {"message": "  "}}, True


async def _bad_email(f: FakeSaleor) -> tuple[dict[str, Any], bool]:
    return {"id": (await f.complete_draft(order_a(f))).id, "input": {"userEmail": "not-an-email"}}, True


async def _unknown_order(_f: FakeSaleor) -> tuple[dict[str, Any], bool]:
    return sample_json("mutations/updatePrivateMetadata-error-not-found.json")["variables"], True


REFUSALS: dict[str, Refused] = {
    "orderConfirm-error-already-confirmed": _confirmed_twice,
    "orderConfirm-error-not-unconfirmed": _confirm_partially_fulfilled,
    "orderMarkAsPaid-error-already-paid": _paid_twice,
    "orderFulfill-error-quantity-too-high": _too_many,
    "orderFulfill-error-preorder-variant": _preorder,
    "orderFulfill-error-unpaid-order": _unpaid,
    "orderCancel-error-fulfilled-order": _cancel_fulfilled,
    "orderNoteAdd-error-empty-message": _empty_note,
    "orderUpdate-error-invalid-email": _bad_email,
    "updatePrivateMetadata-error-not-found": _unknown_order,
}


def _paired_strings(ours: Any, theirs: Any) -> dict[str, str]:
    """Sample value → our value for every string at the same place in the two variable trees."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return {k: v for key in ours.keys() & theirs.keys() for k, v in _paired_strings(ours[key], theirs[key]).items()}
    if isinstance(ours, list) and isinstance(theirs, list):
        return {k: v for o, t in zip(ours, theirs, strict=False) for k, v in _paired_strings(o, t).items()}
    return {theirs: ours} if isinstance(ours, str) and isinstance(theirs, str) else {}


@pytest.mark.parametrize("sample", list(REFUSALS))
async def test_refusal_matches_the_captured_response(fake: FakeSaleor, installed: Receiver, sample: str) -> None:
    need_samples()
    variables, as_app = await REFUSALS[sample](fake)
    captured = sample_json(f"mutations/{sample}.json")
    seen = len(installed.hooks)
    response = await send(fake, sample, variables, as_app=as_app)
    assert response.status_code == captured["http_status"] == 200
    expected = json.dumps(captured["response"]["data"])
    for theirs, ours in _paired_strings(variables, captured["variables"]).items():
        expected = expected.replace(theirs, ours)
    assert response.json()["data"] == json.loads(expected)
    assert installed.hooks[seen:] == []  # a refused mutation emits nothing


async def test_deleted_app_token_gets_permission_denied_like_saleor(fake: FakeSaleor, installed: Receiver) -> None:
    need_samples()
    captured = sample_json("mutations/query-with-deleted-app-token.json")
    token = fake.app.token
    await fake.delete_app()
    for used in (token, "made-up-token"):
        response = await fake.graphql(captured["query"], captured["variables"], token=used)
        assert response.status_code == 200
        body = response.json()
        assert list(body) == list(captured["response"])  # errors, data, extensions
        assert (body["errors"], body["data"]) == (captured["response"]["errors"], captured["response"]["data"])


# -- (c) bodies, headers and signatures look like the captured deliveries -----------------------------------------


def assert_same_keys(ours: Any, theirs: Any, path: str = "") -> None:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        assert list(ours) == list(theirs), f"key order at {path or 'top level'}"
        for key in ours:
            assert_same_keys(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(ours, list) and isinstance(theirs, list) and ours and theirs:
        assert_same_keys(ours[0], theirs[0], f"{path}[0]")


async def test_bodies_headers_and_signatures_match_the_captured_deliveries(fake: FakeSaleor,
                                                                         installed: Receiver) -> None:
    need_samples()
    order = await paid_a(fake)
    await send(fake, "orderFulfill-ok-partial",
               {"id": order.id, "input": fulfil(fake, (order.lines[1], 1), trackingNumber="TRACK-A-1")}, as_app=False)
    await send(fake, "updatePrivateMetadata-ok-staff", {"id": order.id, "input": [{"key": "erp_id", "value": "1"}]},
               as_app=False)
    await fake.delete_app()
    samples = {dict(sample_json(f"webhooks/{p.stem}.headers.json")["headers"])["Saleor-Event"]: p
               for p in sorted((SAMPLES / "webhooks").glob("*.body"), reverse=True)}
    assert {hook.event for hook in installed.hooks} >= {"order_created", "order_fully_paid", "fulfillment_created",
                                                         "fulfillment_tracking_number_updated", "app_deleted"}
    jwks = (await fake.http.get(f"{fake.base_url}/.well-known/jwks.json")).json()
    keys = {jwk["kid"]: jwt.PyJWK.from_dict(jwk).key for jwk in jwks["keys"]}
    for hook in installed.hooks:
        sample = samples[hook.event]
        assert hook.body.startswith(b'{"__typename": "') and b'", "' in hook.body  # json.dumps separators
        assert_same_keys(hook.payload, json.loads(sample.read_bytes()))
        captured_headers = [k.lower() for k, _ in sample_json(f"webhooks/{sample.stem}.headers.json")["headers"]]
        # h11 always writes Host first; everything else arrives in the captured order.
        assert [k for k, _ in hook.headers if k != "host"] == [k for k in captured_headers if k != "host"]
        signature = dict(hook.headers)["saleor-signature"]
        key = keys[jwt.get_unverified_header(signature)["kid"]]
        jwt.api_jws.decode_complete(signature, key=key, algorithms=["RS256"], detached_payload=hook.body)
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.api_jws.decode_complete(signature, key=key, algorithms=["RS256"], detached_payload=hook.body + b" ")
    sent = fake.deliveries[0]
    assert [k for k, _ in sent.headers][:13] == [k for k, _ in sample_json(f"webhooks/{samples['order_created'].stem}"
                                                                               ".headers.json")["headers"]][:13]


# -- install ------------------------------------------------------------------------------------------------------


async def test_install_handshake_matches_the_capture(fake: FakeSaleor, receiver: Receiver) -> None:
    app = await fake.install(f"{receiver.url}/api/manifest")
    manifest_get, register = receiver.requests[:2]
    assert dict(register.headers)["saleor-api-url"] == fake.api_url == f"http://127.0.0.1:{fake.port}/graphql/"
    assert dict(register.headers)["saleor-domain"] == dict(register.headers)["x-saleor-domain"] == fake.domain
    assert register.body == json.dumps({"auth_token": app.token}).encode() and len(register.body) == 48
    assert "saleor-signature" not in dict(register.headers)
    assert receiver.identity == {"data": {"app": {"id": app.id, "identifier": app.identifier,
                                                  "permissions": [{"code": "MANAGE_ORDERS"}]},
                                          "shop": {"version": "3.23.28"}},
                                 "extensions": {"cost": {"requestedQueryCost": 0, "maximumAvailable": 50000}}}
    if (SAMPLES / "install").is_dir():
        for ours, stem in ((manifest_get, "manifest-fetch"), (register, "register")):
            captured = [k.lower() for k, _ in sample_json(f"install/{stem}.headers.json")["headers"]]
            assert [k for k, _ in ours.headers if k != "host"] == [k for k in captured if k != "host"]


async def test_refused_register_deletes_the_app_and_reports_its_message(fake: FakeSaleor, receiver: Receiver) -> None:
    receiver.register_answer = (403, {"success": False, "error": {"code": "NOPE", "message": "not on the list"}})
    with pytest.raises(InstallFailed) as failure:
        await fake.install(f"{receiver.url}/api/manifest")
    assert failure.value.message == "not on the list" and failure.value.status == 403
    assert fake.apps == [] and fake.failed_installations == [failure.value]


async def test_install_without_activation_cannot_prove_its_token(fake: FakeSaleor, receiver: Receiver) -> None:
    await fake.install(f"{receiver.url}/api/manifest", activate=False)  # the receiver ignores the refusal
    assert receiver.identity is not None and receiver.identity["data"] == {"app": None, "shop": None}
    assert {e["extensions"]["exception"]["code"] for e in receiver.identity["errors"]} == {"PermissionDenied"}


# -- the fake's own behaviour ---------------------------------------------------------------------------------------


async def test_deactivated_app_gets_only_its_status_change(fake: FakeSaleor, receiver: Receiver) -> None:
    receiver.use_samples_manifest = False
    app = await fake.install(f"{receiver.url}/api/manifest")
    await fake.set_app_active(False)
    refused = await fake.graphql(documents.load("AppIdentity"), token=app.token)
    assert refused.json()["errors"][0]["extensions"]["exception"]["code"] == "PermissionDenied"
    await fake.place_order()
    await fake.set_app_active(True)
    assert [(h.event, h.payload["app"]["isActive"]) for h in receiver.hooks] == [
        ("app_status_changed", False), ("app_status_changed", True)]
    assert (await fake.graphql(documents.load("AppIdentity"), token=app.token)).json()["data"]["app"]["id"] == app.id


async def test_failed_deliveries_are_retried_only_after_network_errors_and_5xx(fake: FakeSaleor,
                                                                            installed: Receiver) -> None:
    installed.webhook_statuses = [503, 401]
    await fake.place_order()  # order_created → 503, order_confirmed → 401
    assert [(d.saleor_event, d.status, d.outcome) for d in fake.deliveries] == [
        ("order_created", 503, "retry"), ("order_confirmed", 401, "failed")]
    retried = await fake.retry_failed()
    assert [(d.saleor_event, d.status, d.attempt, d.outcome) for d in retried] == [("order_created", 200, 2, "success")]
    assert installed.hooks[0].body == installed.hooks[-1].body and await fake.retry_failed() == []


async def test_queued_deliveries_wait_for_flush_and_show_the_order_as_it_is_then(fake: FakeSaleor,
                                                                              installed: Receiver) -> None:
    fake.deliver_inline = False
    order = await fake.place_order(auto_confirm=False)
    await fake.graphql(documents.load("OrderConfirm"), {"id": order.id}, token=fake.app.token)
    assert installed.hooks == []
    delivered = await fake.flush(shuffle=True, seed=3)
    assert sorted(d.saleor_event for d in delivered) == ["order_confirmed", "order_created"]
    assert {h.payload["order"]["status"] for h in installed.hooks} == {"UNFULFILLED"}  # deferred payloads


async def test_fulfillment_created_carries_the_stale_updated_at(fake: FakeSaleor, installed: Receiver) -> None:
    order = await paid_a(fake)
    before = order.updated_at
    await send(fake, "orderFulfill-ok-partial",
               {"id": order.id, "input": fulfil(fake, (order.lines[1], 1), trackingNumber="T")}, as_app=False)
    stamps = {h.event: h.payload["order"]["updatedAt"] for h in installed.hooks[-3:]}
    assert stamps["fulfillment_created"] == before < stamps["order_updated"]


async def test_without_auto_approve_the_fulfillment_waits(fake: FakeSaleor, installed: Receiver) -> None:
    fake.shop.fulfillment_auto_approve = False
    fake.shop.fulfillment_allow_unpaid = True  # else the approval of this unpaid order is refused
    order = await fake.place_order()
    query = documents.load("OrderFulfill")
    response = await fake.graphql(query, {"order": order.id, "input": fulfil(fake, (order.lines[1], 1))},
                                  token=fake.app.token)
    payload = response.json()["data"]["orderFulfill"]
    assert payload["fulfillments"][0]["status"] == "WAITING_FOR_APPROVAL"
    # As on Saleor 3.23.28: the waiting line already counts as fulfilled, the status does not move.
    assert payload["order"]["status"] == "UNFULFILLED" and order.lines[1].quantity_fulfilled == 1
    await fake.approve_fulfillments(order)
    assert fake.order_view(order)["fulfillments"][0]["status"] == "FULFILLED"
    assert [hook.event for hook in installed.hooks[-2:]] == ["fulfillment_created", "order_updated"]


async def test_unchanged_metadata_emits_nothing(fake: FakeSaleor, installed: Receiver) -> None:
    order = await fake.place_order(private_metadata={"k": "v"})
    seen = len(installed.hooks)
    variables = {"id": order.id, "input": [{"key": "k", "value": "v"}]}
    response = await fake.graphql(documents.load("UpdatePrivateMetadata"), variables, token=fake.app.token)
    assert response.json()["data"]["updatePrivateMetadata"]["item"]["privateMetadata"] == [{"key": "k", "value": "v"}]
    assert installed.hooks[seen:] == []
    assert fake.mutations[-1] == ("updatePrivateMetadata", variables, "app", fake.app.pk)


async def test_request_limits_and_validation(fake: FakeSaleor) -> None:
    auth = {"Authorization": f"Bearer {fake.staff_token()}"}
    me = {"query": "{ me { email } }"}
    assert (await fake.http.post(fake.api_url.rstrip("/"), json=me, headers=auth)).status_code == 404
    assert (await fake.http.post(fake.api_url, json=[me] * 2, headers=auth)).status_code == 400
    single = await fake.http.post(fake.api_url, json=[me], headers=auth)  # a batch of one is allowed
    assert single.json()[0]["data"] == {"me": {"email": "admin@example.com"}}
    five = "mutation {" + " ".join(f'm{i}: orderCancel(id: "x") {{ errors {{ code }} }}' for i in range(5)) + "}"
    limited = await fake.http.post(fake.api_url, json={"query": five}, headers=auth)
    assert (limited.status_code, limited.json()["errors"][0]["message"]) == (
        400, "Number of mutations exceed the limit of 4")
    if fake.schema is not None:  # schema validation, when ../shared is there
        invalid = await fake.http.post(fake.api_url, json={"query": "{ shop { nope } }"}, headers=auth)
        assert invalid.status_code == 400
        assert invalid.json()["errors"][0]["message"].startswith("Cannot query field 'nope' on type 'Shop'.")


async def test_fault_injection_and_key_rotation(fake: FakeSaleor) -> None:
    token = fake.staff_token()
    fake.fail_graphql(times=1, status=502)
    fake.graphql_delay(0.05)
    assert (await fake.graphql("{ me { email } }", token=token)).status_code == 502
    fake.graphql_delay(0)
    assert (await fake.graphql("{ me { email } }", token=token)).json()["data"] == {"me": {"email": STAFF_EMAIL}}
    jwks_url = f"{fake.base_url}/.well-known/jwks.json"
    old_kid = (await fake.http.get(jwks_url)).json()["keys"][0]["kid"]
    fake.rotate_key()
    assert [k["kid"] for k in (await fake.http.get(jwks_url)).json()["keys"]] == [fake.signer.kid] != [old_kid]
    fake.jwks_down()
    assert (await fake.http.get(jwks_url)).status_code == 503


async def test_the_apps_documents_resolve_fully_and_webhook_update_changes_the_payload(
        fake: FakeSaleor, installed: Receiver) -> None:
    token = fake.app.token
    order = await fake.place_order(guest=True, email="g@example.com", shipping_phone="", auto_confirm=False,
                                   lines=[LineSpec("Tee", "S", None, 1, 20.0, preorder=True)])
    read = (await fake.graphql(documents.load("OrderById"), {"id": order.id}, token=token)).json()
    assert "errors" not in read
    view = read["data"]["order"]
    assert (view["user"], view["shippingAddress"]["phone"], view["number"]) == (None, "", str(order.number))
    assert view["lines"][0]["variant"]["preorder"] == {"endDate": None} and view["lines"][0]["productSku"] is None
    assert view["lines"][0]["allocations"][0]["warehouse"]["id"] == fake.warehouse_id
    assert view["channel"]["slug"] == "default-channel" and view["total"]["gross"] == {"amount": 20.0,
                                                                                       "currency": "USD"}
    hooks = (await fake.graphql(documents.load("AppWebhooks"), token=token)).json()["data"]["app"]["webhooks"]
    orders_hook = next(h for h in hooks if "ORDER_CREATED" in {e["eventType"] for e in h["asyncEvents"]})
    minimal = "subscription { event { ... on OrderConfirmed { order { id status } } } }"
    variables = {"id": orders_hook["id"], "input": {"query": minimal}}
    updated = await fake.graphql(documents.load("WebhookUpdate"), variables, token=token)
    assert updated.json()["data"]["webhookUpdate"]["errors"] == []
    await fake.graphql(documents.load("OrderConfirm"), {"id": order.id}, token=token)
    assert installed.hooks[-1].payload == {"order": {"id": order.id, "status": "UNFULFILLED"}}
    assert not fake.internal_errors
