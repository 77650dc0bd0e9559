"""FakeSaleor: a faithful fake of Saleor 3.23 served over real HTTP on loopback, in the current event loop.

It serves `/graphql/` and `/.well-known/jwks.json`, installs apps from their manifest, keeps orders, answers the
app's queries and mutations (validated against Saleor's schema when ../shared/saleor/schema.graphql exists) and
delivers signed webhooks inline, before the mutation's HTTP response, as a Saleor without a broker does.

    async with FakeSaleor() as saleor:
        app = await saleor.install("http://127.0.0.1:8001/api/manifest")
        order = await saleor.place_order(auto_confirm=False)
        await saleor.graphql(MARK_AS_PAID, {"id": order.id}, token=saleor.staff_token())
        assert [d.saleor_event for d in saleor.deliveries] == ["order_created", "order_fully_paid", "order_updated"]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import secrets
import string
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx
import jwt
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, Router

from tests.fakes.graphql_exec import saleor_schema
from tests.fakes.loopback import LoopbackServer
from tests.fakes.saleor_actions import SaleorActions
from tests.fakes.saleor_delivery import Delivery, WebhookDeliverer
from tests.fakes.saleor_graphql import GraphQLApi, MutationCall
from tests.fakes.saleor_install import InstallFailed, check_manifest, fetch_manifest, post_register
from tests.fakes.saleor_model import (
    DEFAULT_LINES,
    STAFF,
    App,
    ChannelSettings,
    LineSpec,
    Order,
    OrderLine,
    ShopSettings,
    Webhook,
)
from tests.fakes.saleor_state import SaleorState
from tests.fakes.signing import SaleorSigner
from tests.secret_watch import remember
from tests.timing import scaled

__all__ = ["Delivery", "FakeSaleor", "GraphQLCall", "InstallFailed", "LineSpec", "MutationCall"]

_TOKEN_ALPHABET = string.ascii_letters + string.digits


class FakeSaleor:
    def __init__(
        self,
        *,
        signer: SaleorSigner | None = None,
        clock: Callable[[], datetime] | None = None,
        deliver_inline: bool = True,
        validate_documents: bool = True,
        auto_confirm: bool = True,
        timeout: httpx.Timeout | None = None,
        first_order_number: int = 1,
    ) -> None:
        self.signer = signer or SaleorSigner()
        self.state = SaleorState(clock or (lambda: datetime.now(UTC)), first_order_number=first_order_number)
        self.state.channel.auto_confirm = auto_confirm
        # Validation needs the 1 MB schema from ../shared; execution never does.
        self.schema = saleor_schema() if validate_documents else None
        self.actions = SaleorActions(self.state, self.schema)
        self.internal_errors: list[str] = []  # gaps in the fake (unmodelled fields, crashes): see __aexit__
        self.failed_installations: list[InstallFailed] = []
        self.requests: list[str] = []  # "METHOD /path" of every request the fake served (who called Saleor)
        self.delayed_bodies: list[bytes] = []  # bodies of the requests held by graphql_delay, as they arrived
        self.held_bodies: list[bytes] = []  # bodies of the requests hold_mutation keeps waiting, as they arrived
        self._deliverer = WebhookDeliverer(self.state, signer=lambda: self.signer, api_url=lambda: self.api_url,
                                           http=self._client, internal_errors=self.internal_errors,
                                           inline=deliver_inline)
        self._api = GraphQLApi(self.state, self.actions, self._deliverer, schema=self.schema,
                               base_url=lambda: self.base_url, internal_errors=self.internal_errors)
        self._api.dashboard_user = self._dashboard_user
        # Saleor's webhook/register/manifest limits (18 s, connect 2 s), stretched on a loaded machine like every
        # other ceiling in the suite: the app answering late is never what a test checks through them.
        self._timeout = timeout or httpx.Timeout(scaled(18.0), connect=scaled(2.0))
        self._graphql_failures: list[tuple[int, dict[str, str]]] = []
        self._graphql_delay = 0.0
        self._graphql_jitter = 0.0
        self._delay_rng = random.Random(0)
        self.operations: list[str] = []  # operation name of every GraphQL request, as it arrived ("OrderById")
        self.calls: list[GraphQLCall] = []  # every GraphQL request: name, variables, when it came and was answered
        self._held: re.Pattern[str] | None = None
        self._waiting: list[tuple[asyncio.Event, asyncio.Event]] = []  # (go, answered) of each held request
        self._jwks_down = False
        self._http: httpx.AsyncClient | None = None
        self._server = LoopbackServer(self._asgi())

    # -- lifecycle -----------------------------------------------------------------------------------------------

    async def start(self) -> FakeSaleor:
        self._http = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False, trust_env=False)
        await self._server.start()
        return self

    async def stop(self) -> None:
        self.release_mutations()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await self._server.stop()

    async def __aenter__(self) -> FakeSaleor:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()
        if exc_type is None and self.internal_errors:
            raise AssertionError(f"the fake Saleor hit gaps in its model: {self.internal_errors}")

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        return self._server.url

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/graphql/"

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def http(self) -> httpx.AsyncClient:
        """The fake's own HTTP client (Saleor's timeouts, no redirects), handy for raw requests in tests."""
        return self._client()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            raise RuntimeError("start the fake Saleor first (await fake.start() or `async with FakeSaleor()`)")
        return self._http

    # -- state shortcuts -----------------------------------------------------------------------------------------

    @property
    def shop(self) -> ShopSettings:
        """Shop settings that change flows: fulfillment_auto_approve, fulfillment_allow_unpaid."""
        return self.state.shop

    @property
    def channel(self) -> ChannelSettings:
        """The one channel's settings: auto_confirm (automaticallyConfirmAllNewOrders), currency, …"""
        return self.state.channel

    @property
    def mutations(self) -> list[MutationCall]:
        """Every mutation field executed over HTTP: (name, request variables, "staff" | "app" | "anonymous")."""
        return self._api.mutations

    @property
    def apps(self) -> list[App]:
        return self.state.live_apps()

    @property
    def app(self) -> App:
        """The most recently installed app that is still there."""
        if not self.apps:
            raise LookupError("no app is installed in the fake Saleor")
        return self.apps[-1]

    @property
    def orders(self) -> list[Order]:
        return list(self.state.orders.values())

    @property
    def deliveries(self) -> list[Delivery]:
        return self._deliverer.deliveries

    @property
    def deliver_inline(self) -> bool:
        return self._deliverer.inline

    @deliver_inline.setter
    def deliver_inline(self, value: bool) -> None:
        self._deliverer.inline = value

    @property
    def warehouse_id(self) -> str:
        return str(self.state.warehouse["id"])

    def order_view(self, order: Order) -> dict[str, Any]:
        return self.state.order_view(order)

    def staff_token(self) -> str:
        """An opaque token the fake accepts as staff user admin@example.com (every permission)."""
        token = secrets.token_urlsafe(24)
        self._api.staff_tokens.add(token)
        return token

    def _dashboard_user(self, token: str) -> str | None:
        """The staff user id of a Dashboard token this Saleor signed and that has not expired, else None."""
        if token.count(".") != 2:
            return None
        try:
            claims = jwt.decode(token, self.signer.private_key.public_key(), algorithms=["RS256"])
        except jwt.PyJWTError:
            return None
        user_id = claims.get("user_id")
        return str(user_id) if claims.get("type") == "thirdparty" and user_id in self.state.staff_users else None

    def rotate_key(self) -> SaleorSigner:
        """Swap in a new signing key; like Saleor, the JWKS then holds only the new one (no overlap)."""
        self.signer = SaleorSigner()
        return self.signer

    # -- fault injection -----------------------------------------------------------------------------------------

    def fail_graphql(self, times: int = 1, status: int = 503, *, retry_after: str | None = None) -> None:
        """The next `times` GraphQL requests are answered `status` (429 with `Retry-After: retry_after` when
        given, as a rate-limiting proxy in front of Saleor does) and change nothing."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self._graphql_failures.extend([(status, headers)] * times)

    def heal_graphql(self) -> None:
        """Saleor answers again: drop the failures `fail_graphql` queued."""
        self._graphql_failures.clear()

    def graphql_delay(self, seconds: float, *, jitter: float = 0.0, seed: int | None = None) -> None:
        """Every GraphQL request waits `seconds` plus a random share of `jitter` seconds (uniform, seeded) before
        Saleor acts on it: Saleor's own latency, different for each request."""
        self._graphql_delay = seconds
        self._graphql_jitter = jitter
        if seed is not None:
            self._delay_rng = random.Random(seed)

    def operation_count(self, *names: str) -> int:
        """How many GraphQL requests named any of `names` the fake received (all of them without names)."""
        return sum(1 for name in self.operations if not names or name in names)

    def hold_mutation(self, *names: str) -> None:
        """Requests with any of these mutation fields wait, before Saleor acts on them, until `release_mutations()`
        (or the fake stops): a write in flight while other events for the order come and go. As in Saleor: a
        broker-less Saleor answers a mutation only after delivering its webhooks, so one slow subscriber (another
        app) makes every write slow."""
        self.release_mutations()
        self._held = re.compile(rf"\b(?:{'|'.join(map(re.escape, names))})\s*\(")

    def release_mutations(self) -> None:
        """Let the held requests through, in the order they came, and stop holding."""
        self._held, waiting, self._waiting = None, self._waiting, []
        for go, _ in waiting:
            go.set()

    async def release_newest_first(self) -> None:
        """Let the held requests through one at a time, the newest first, each answered before the next goes: two
        writes in flight may land in either order (Saleor serves requests in parallel)."""
        self._held, waiting, self._waiting = None, self._waiting, []
        for go, answered in reversed(waiting):
            go.set()
            await answered.wait()

    def jwks_down(self, down: bool = True) -> None:
        self._jwks_down = down

    @contextlib.contextmanager
    def drop_deliveries(self) -> Iterator[None]:
        """An outage longer than Saleor's retry window (~5 minutes): everything happens as usual, but every
        webhook to an app is lost for good (recorded as `failed`, never retried), as when Saleor gives up."""
        self._deliverer.dropping = True
        try:
            yield
        finally:
            self._deliverer.dropping = False

    async def retry_failed(self) -> list[Delivery]:
        return await self._deliverer.retry_failed()

    async def flush(self, *, shuffle: bool = False, seed: int | None = None) -> list[Delivery]:
        """Deliver what `deliver_inline=False` queued, like a broker would (optionally out of order)."""
        return await self._deliverer.flush(shuffle=shuffle, rng=random.Random(seed))

    # -- install and the app's lifecycle -------------------------------------------------------------------------

    async def install(self, manifest_url: str, *, permissions: list[str] | None = None, activate: bool = True,
                      app_name: str | None = None) -> App:
        """appInstall + the installer task; raises InstallFailed (kept in `failed_installations`) on failure."""
        try:
            return await self._install(manifest_url, permissions, activate, app_name)
        except InstallFailed as failure:
            self.failed_installations.append(failure)
            raise

    async def _install(self, manifest_url: str, permissions: list[str] | None, activate: bool,
                       app_name: str | None) -> App:
        manifest = await fetch_manifest(self._client(), manifest_url)
        granted = check_manifest(manifest, self.state, self.schema, permissions)
        pk = self.state.next_pk("app")
        token = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(30))
        remember(token, "an app token")
        app = App(pk, manifest["id"], app_name or manifest["name"], granted, token, activate, manifest_url,
                  manifest.get("version"))
        for hook in manifest.get("webhooks") or []:
            app.webhooks.append(Webhook(self.state.next_pk("webhook"), hook["name"], hook["targetUrl"],
                                        list(hook.get("asyncEvents") or []), hook["query"],
                                        bool(hook.get("isActive", True)), hook.get("identifier"),
                                        {k.lower(): v for k, v in (hook.get("customHeaders") or {}).items()}))
        self.state.apps[pk] = app  # exists (not yet installed) while the register call runs
        if manifest.get("tokenTargetUrl"):
            try:
                await post_register(self._client(), manifest["tokenTargetUrl"], token, self.api_url)
            except InstallFailed:
                del self.state.apps[pk]  # Saleor deletes the App and marks the installation FAILED
                raise
        app.is_installed = True
        await self._deliverer.dispatch([self.actions.emit(STAFF, "APP_INSTALLED", subject_app=app)])
        return app

    async def delete_app(self, app: App | None = None) -> None:
        """Staff appDelete: APP_DELETED (`app {id name identifier}`) goes out; the token stops working."""
        await self._deliverer.dispatch(self.actions.app_delete(STAFF, app or self.app).events)

    async def set_app_active(self, active: bool, app: App | None = None) -> None:
        """Staff appActivate/appDeactivate: APP_STATUS_CHANGED; while inactive nothing else is sent."""
        target = app or next((a for a in reversed(self.apps)), None)
        if target is None:
            raise LookupError("no app is installed in the fake Saleor")
        await self._deliverer.dispatch(self.actions.app_set_active(STAFF, target, active).events)

    def set_app_identifier(self, identifier: str, app: App | None = None) -> None:
        """Staff appUpdate(input: {identifier}). Saleor refuses to install a manifest whose id an installed app
        has, so this is how one shop comes to run two copies of an app (its staging and its production, say).
        APP_UPDATED would go out; the apps here subscribe to none of it."""
        (app or self.app).identifier = identifier

    # -- orders (staff and system actions) -----------------------------------------------------------------------

    def create_order(
        self, *, lines: Sequence[LineSpec] = DEFAULT_LINES, email: str = "ashley.cook@example.com",
        guest: bool = False, first_name: str = "Ashley", last_name: str = "Cook", phone: str = "+12025550143",
        shipping_phone: str | None = None, billing_address: dict[str, Any] | None = None,
        shipping_address: dict[str, Any] | None = None, customer_note: str = "",
        external_reference: str | None = None, shipping_price: float = 0.0, language: str = "EN",
        metadata: dict[str, str] | None = None, private_metadata: dict[str, str] | None = None,
    ) -> Order:
        """A DRAFT order shaped like the captured ones (order "A" by default); complete it to place it."""
        state = self.state
        now = state.now()
        customer = None if guest else state.customer(email, first_name, last_name)
        billing = state.address(first_name, last_name, phone, **(billing_address or {}))
        shipping_phone = phone if shipping_phone is None else shipping_phone
        shipping = state.address(first_name, last_name, shipping_phone, **(shipping_address or {}))
        order = Order(
            uuid=str(uuid.uuid4()), number=state.next_pk("order"), status="DRAFT", created=now, updated_at=now,
            user_email=email, customer=customer, billing_address=billing, shipping_address=shipping,
            lines=[OrderLine(str(uuid.uuid4()), spec, state.next_pk("variant")) for spec in lines],
            shipping_price=shipping_price, customer_note=customer_note, external_reference=external_reference,
            language_code=language, metadata=dict(metadata or {}), private_metadata=dict(private_metadata or {}))
        state.orders[order.uuid] = order
        return order

    async def complete_draft(self, order: Order, *, auto_confirm: bool | None = None) -> Order:
        """Staff draftOrderComplete: ORDER_CREATED, then ORDER_CONFIRMED when the channel auto-confirms."""
        await self._deliverer.dispatch(self.actions.draft_order_complete(STAFF, order.id, auto_confirm).events)
        return order

    async def place_order(self, *, auto_confirm: bool | None = None, **order: Any) -> Order:
        return await self.complete_draft(self.create_order(**order), auto_confirm=auto_confirm)

    async def approve_fulfillments(self, order: Order) -> None:
        """Staff approves the order's fulfilments that wait for approval (channel auto-approval off)."""
        await self._deliverer.dispatch(self.actions.approve_fulfillments(STAFF, order).events)

    async def expire_order(self, order: Order) -> None:
        """expire_orders_task: ORDER_EXPIRED, ORDER_UPDATED with `issuingPrincipal: null`."""
        await self._deliverer.dispatch(self.actions.expire(order).events)

    async def charge(self, order: Order, amount: float, *, psp_reference: str | None = None) -> None:
        """Staff transactionCreate charging `amount`: ORDER_PAID (ORDER_FULLY_PAID when covered), ORDER_UPDATED."""
        await self._deliverer.dispatch(self.actions.charge(STAFF, order, amount, psp_reference).events)

    async def fail_charge(self, order: Order, amount: float) -> None:
        """A payment app reports a failed charge: a transaction with a CHARGE_FAILURE event (ORDER_UPDATED)."""
        await self._deliverer.dispatch(self.actions.fail_charge(STAFF, order, amount).events)

    async def refund(self, order: Order, amount: float | None = None) -> None:
        """Staff transactionUpdate refunding `amount` (all): ORDER_REFUNDED, ORDER_UPDATED[, ORDER_FULLY_REFUNDED]."""
        await self._deliverer.dispatch(self.actions.refund(STAFF, order, amount).events)

    # -- HTTP ----------------------------------------------------------------------------------------------------

    async def graphql(self, query: str, variables: dict[str, Any] | None = None, *,
                      token: str | None = None) -> httpx.Response:
        """POST a document to this fake over HTTP, as staff or an app would (token from staff_token() or install)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self._client().post(self.api_url, json={"query": query, "variables": variables or {}},
                                         headers=headers)

    def _asgi(self) -> Router:
        # Saleor serves only /graphql/; without the slash Django answers 404, so no redirect here either.
        return Router([Route("/.well-known/jwks.json", self._jwks, methods=["GET"]),
                       Route("/graphql/", self._graphql_http, methods=["GET", "POST"])], redirect_slashes=False)

    async def _jwks(self, request: Request) -> Response:
        self.requests.append(f"GET {request.url.path}")
        if self._jwks_down:
            return PlainTextResponse("Service Unavailable", status_code=503)
        return Response(json.dumps(self.signer.jwks), media_type="application/json")

    async def _graphql_http(self, request: Request) -> Response:
        self.requests.append(f"{request.method} {request.url.path}")
        if request.method != "POST":
            return PlainTextResponse("", status_code=405, headers={"Allow": "OPTIONS, POST"})
        body = await request.body()
        call = GraphQLCall(_operation_name(body), _variables_of(body), time.monotonic())
        self.operations.append(call.name)
        self.calls.append(call)
        try:
            return await self._answer_graphql(request)
        finally:
            call.answered = time.monotonic()

    async def _answer_graphql(self, request: Request) -> Response:
        if self._graphql_delay or self._graphql_jitter:
            # Saleor has the request before it takes its time: the mutation still happens if the caller dies.
            self.delayed_bodies.append(await request.body())
            await asyncio.sleep(self._graphql_delay + self._graphql_jitter * self._delay_rng.random())
        answered: asyncio.Event | None = None
        if self._held is not None:
            body = await request.body()  # starlette keeps it: the API reads it again
            if self._held.search(_query_of(body)):
                self.held_bodies.append(body)
                go, answered = asyncio.Event(), asyncio.Event()
                self._waiting.append((go, answered))
                await go.wait()
        if self._graphql_failures:
            status, headers = self._graphql_failures.pop(0)
            return PlainTextResponse(f"fake Saleor: injected HTTP {status}", status_code=status, headers=headers)
        try:
            return await self._api.handle(request)
        except ClientDisconnect:  # the caller died mid-request (a crash test's kill): as Saleor, nothing to answer
            return Response(status_code=499)
        except Exception as exc:  # a crash in the fake is a bug in the fake: make it loud
            self.internal_errors.append(f"{exc.__class__.__name__}: {exc}")
            raise
        finally:
            if answered is not None:
                answered.set()


@dataclass
class GraphQLCall:
    name: str  # the operation's name, e.g. "OrderById"
    variables: dict[str, Any]
    arrived: float  # time.monotonic()
    answered: float | None = None

    def order_ids(self) -> set[str]:
        """The orders a read asked for (by `id` or `ids`)."""
        ids = self.variables.get("ids") or [self.variables.get("id")]
        return {str(order_id) for order_id in ids if order_id}


def _variables_of(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    variables = document.get("variables") if isinstance(document, dict) else None
    return dict(variables) if isinstance(variables, dict) else {}


def _query_of(body: bytes) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return ""
    return str(document.get("query") or "") if isinstance(document, dict) else ""


_OPERATION = re.compile(r"^\s*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")


def _operation_name(body: bytes) -> str:
    match = _OPERATION.match(_query_of(body))
    return match.group(1) if match else ""
