"""The app's footprint on a real Saleor: how much longer a merchant's mutation takes with this app installed.

On a Saleor without a broker (as in local development) webhooks are sent inside the mutation, so whatever a
receiver does while Saleor is still sending shows up in the mutation's time. Three arms, interleaved in blocks:

- none: no receiver active (the bare receiver and the app deactivated);
- bare: a receiver inside this script answering 200 at once, subscribed with the app's own subscription
  documents and events (what Saleor itself spends on sending them);
- app:  this app, started here on the embedded default (SQLite, in-process runner) with a temporary data
  directory, installed from its manifest with `appInstall`, with an immediate email rule on the Paid stage
  sending through a Postmark fake on loopback.

Each measured mutation is one `orderMarkAsPaid` on an order created beforehand (draftOrderCreate +
draftOrderComplete, while only the app listens, so the app knows every order). Prints median and IQR per arm,
of the paired differences (app − bare, bare − none), the webhook → first customer message latency of the app
arm (from the app's stored receipt time of the first webhook for the order to the email reaching the fake), the
Saleor version and the load average. The staff login comes from the environment, never from arguments:

    SALEOR_STAFF_EMAIL=admin@example.com SALEOR_STAFF_PASSWORD=admin \\
        .venv/bin/python bench/saleor_footprint.py --saleor-url http://127.0.0.1:8000/graphql/

Saleor must allow webhook targets on loopback (`HTTP_IP_FILTER_ALLOW_LOOPBACK_IPS=True`) and have a channel with
a product in stock and a shipping method (`populatedb` gives both). Catch-up is off in the app started here:
orders paid in the other arms would otherwise be found and worked on during later measurements. The script
deletes the apps it installed when it ends, and any left by an earlier run when it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from starlette.requests import Request
from starlette.responses import Response

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from saleor_app.saleor.manifest import manifest_data, webhook_definitions  # noqa: E402
from tests.fakes.loopback import LoopbackServer, free_port  # noqa: E402
from tests.fakes.postmark import FakePostmark  # noqa: E402

ARMS = ("none", "bare", "app")
SHOP_ADDRESS = "shop@example.com"
TOKEN_VARIABLE = "FOOTPRINT_POSTMARK_SERVER_TOKEN"
RULE_KEY = "paid-email"
ADDRESS = {"firstName": "Ann", "lastName": "Footprint", "streetAddress1": "1 Main St", "city": "New York",
           "postalCode": "10001", "country": "US", "countryArea": "NY", "phone": "+12125550100"}


class SaleorError(RuntimeError):
    pass


class Saleor:
    """A staff session on the Saleor under test (one keep-alive connection, as a Dashboard would hold)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.AsyncClient(timeout=120)
        self.token = ""
        self._login: tuple[str, str] | None = None

    async def call(self, query: str, variables: dict[str, Any] | None = None, *, auth: bool = True) -> dict[str, Any]:
        body = await self._post(query, variables, auth)
        if auth and self._login and any(error.get("extensions", {}).get("exception", {}).get("code")
                                        == "ExpiredSignatureError" for error in body.get("errors") or []):
            await self.login(*self._login)  # staff access tokens live 5 minutes
            body = await self._post(query, variables, auth)
        if body.get("errors"):
            raise SaleorError(f"GraphQL errors: {body['errors']}")
        data: dict[str, Any] = body["data"]
        for name, value in data.items():
            if isinstance(value, dict) and value.get("errors"):
                raise SaleorError(f"{name}: {value['errors']}")
        return data

    async def _post(self, query: str, variables: dict[str, Any] | None, auth: bool) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if auth and self.token else {}
        response = await self.client.post(self.url, json={"query": query, "variables": variables or {}},
                                          headers=headers)
        if response.status_code != 200:
            raise SaleorError(f"Saleor answered {response.status_code}: {response.text[:500]}")
        body: dict[str, Any] = response.json()
        return body

    async def login(self, email: str, password: str) -> None:
        data = await self.call("mutation($e: String!, $p: String!) { tokenCreate(email: $e, password: $p) "
                               "{ token errors { field code message } } }", {"e": email, "p": password}, auth=False)
        self.token = data["tokenCreate"]["token"]
        self._login = (email, password)

    async def aclose(self) -> None:
        await self.client.aclose()


@dataclass
class BareReceiver:
    """The cheapest receiver there is: read the body, answer 200. Counts deliveries by event."""

    deliveries: dict[str, int] = field(default_factory=dict)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        await request.body()
        event = request.headers.get("saleor-event", "?")
        self.deliveries[event] = self.deliveries.get(event, 0) + 1
        await Response(b"{}", media_type="application/json")(scope, receive, send)


class TimedPostmark(FakePostmark):
    """The Postmark fake, noting when each accepted email arrived (wall clock, as the app's receipt times)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: dict[str, float] = {}  # recipient → first arrival

    async def _send(self, request: Request) -> Response:
        arrived = time.time()
        before = len(self.emails)
        response = await super()._send(request)
        if len(self.emails) > before:
            self.arrivals.setdefault(self.emails[-1]["To"].lower(), arrived)
        return response


@dataclass
class Sample:
    arm: str
    round: int
    position: int
    ms: float
    started: float  # wall clock
    ended: float
    order_id: str
    email: str


# The app under test: its own process on the embedded default, as `make run` starts it.

class AppProcess:
    def __init__(self, directory: Path, postmark_url: str) -> None:
        self.port = free_port()
        self.directory = directory
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = directory / "app.db"
        self.env = {**os.environ, "APP_URL": self.url, "DATA_DIR": str(directory),
                    "DATABASE_URL": f"sqlite:///{self.database}", "ALLOW_LOOPBACK_TARGETS": "true",
                    "POSTMARK_API_BASE_URL": postmark_url, "CATCH_UP_INTERVAL_SECONDS": "0",
                    "LOG_LEVEL": "WARNING", "LOG_FORMAT": "text"}
        for name in ("APP_ENV", "APP_API_BASE_URL", "ENCRYPTION_KEYS", "ALLOWED_SALEOR_URLS"):
            self.env.pop(name, None)  # the embedded default, whatever the calling shell has set
        self.process: subprocess.Popen[bytes] | None = None
        self.log = directory / "app.log"

    async def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "saleor_app.cli", "serve", "--port", str(self.port)], cwd=self.directory,
            env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                if self.process.poll() is not None:
                    raise RuntimeError(f"the app stopped at start-up:\n{self.log.read_text()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError("the app did not answer /health within 60 s")

    async def cli(self, *args: str, **env: str) -> str:
        """`saleor-automation …` against this app's data; asynchronous, since the provider fakes run here."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "saleor_app.cli", *args, cwd=self.directory, env={**self.env, **env},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"saleor-automation {' '.join(args[:2])} failed ({process.returncode}):\n"
                               f"{out.decode()}\n{err.decode()}")
        return out.decode()

    @contextlib.contextmanager
    def database_view(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
        try:
            yield connection
        finally:
            connection.close()

    def busy(self) -> tuple[int, int]:
        """(webhooks received so far, webhooks and jobs still to work on)."""
        with self.database_view() as db:
            received = db.execute("select count(*) from webhook_inbox").fetchone()[0]
            inbox = db.execute("select count(*) from webhook_inbox where state = 'pending'").fetchone()[0]
            jobs = db.execute("select count(*) from jobs where state in ('running', 'retrying') or "
                              "(state = 'scheduled' and due_at <= ?)",
                              (datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),)).fetchone()[0]
        return received, inbox + jobs

    async def settle(self, quiet: float = 1.5, limit: float = 600) -> None:
        """Until nothing is left to do and no webhook arrived for `quiet` seconds."""
        deadline = time.monotonic() + limit
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            received, left = self.busy()
            if received != last or left:
                last, since = received, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"the app did not settle within {limit} s")

    def first_webhooks(self, since: dict[str, float]) -> dict[str, float]:
        """For each order id: when the app stored the first webhook about it received after `since[order]`."""
        found: dict[str, float] = {}
        with self.database_view() as db:
            for order_id, received_at in db.execute(
                    "select order_id, received_at from webhook_inbox where order_id is not null order by id"):
                if order_id not in since or order_id in found:
                    continue
                stamp = _stamp(received_at)
                if stamp >= since[order_id]:
                    found[order_id] = stamp
        return found

    def job_times(self, rule_key: str) -> dict[str, tuple[float, float | None]]:
        """For each order id: when the rule's job was planned, and when it started (its first attempt)."""
        with self.database_view() as db:
            rows = db.execute("select orders.order_id, jobs.created_at, jobs.first_attempt_at from jobs "
                              "join orders on orders.id = jobs.order_row_id where jobs.rule_key = ?", (rule_key,))
            return {order_id: (_stamp(created), _stamp(started) if started else None)
                    for order_id, created, started in rows}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _stamp(value: object) -> float:
    """A time the app stored (UTC; SQLite keeps no offset) as a Unix timestamp."""
    at = datetime.fromisoformat(str(value))
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


# Saleor set-up

APP_FIELDS = "id name isActive identifier"


async def delete_leftovers(saleor: Saleor, identifier: str, bare_name: str) -> None:
    data = await saleor.call(f"{{ apps(first: 100) {{ edges {{ node {{ {APP_FIELDS} }} }} }} }}")
    for edge in data["apps"]["edges"]:
        node = edge["node"]
        if node["identifier"] == identifier or node["name"] == bare_name:
            await saleor.call("mutation($id: ID!) { appDelete(id: $id) { errors { field code message } } }",
                              {"id": node["id"]})
            print(f"deleted a leftover app from an earlier run: {node['name']} ({node['id']})")


async def create_bare_receiver(saleor: Saleor, name: str, url: str) -> str:
    data = await saleor.call(
        "mutation($input: AppInput!) { appCreate(input: $input) { app { id } errors { field code message } } }",
        {"input": {"name": name, "permissions": ["MANAGE_ORDERS"]}})
    app_id: str = data["appCreate"]["app"]["id"]
    for hook in webhook_definitions(url):
        await saleor.call(
            "mutation($input: WebhookCreateInput!) { webhookCreate(input: $input) { webhook { id } "
            "errors { field code message } } }",
            {"input": {"app": app_id, "name": hook["name"], "targetUrl": url, "asyncEvents": hook["asyncEvents"],
                       "query": hook["query"], "isActive": True}})
    return app_id


async def install_app(saleor: Saleor, app: AppProcess, identifier: str) -> str:
    """`appInstall` from the manifest URL, as the Dashboard does; Saleor calls the app's register endpoint."""
    data = await saleor.call(
        "mutation($input: AppInstallInput!) { appInstall(input: $input) { appInstallation { id status message } "
        "errors { field code message } } }",
        {"input": {"appName": "Order Automation", "manifestUrl": f"{app.url}/api/manifest",
                   "permissions": ["MANAGE_ORDERS"], "activateAfterInstallation": True}})
    job = data["appInstall"]["appInstallation"]
    for _ in range(300):
        apps = await saleor.call(f"{{ apps(first: 100) {{ edges {{ node {{ {APP_FIELDS} }} }} }} }}")
        for edge in apps["apps"]["edges"]:
            if edge["node"]["identifier"] == identifier:
                return str(edge["node"]["id"])
        installs = await saleor.call("{ appsInstallations { id status message } }")
        mine = next((i for i in installs["appsInstallations"] if i["id"] == job["id"]), None)
        if mine is not None and mine["status"] == "FAILED":
            raise SaleorError(f"installing the app failed: {mine['message']}")
        await asyncio.sleep(0.2)
    raise SaleorError("the app was not installed within 60 s")


async def set_active(saleor: Saleor, app_id: str, active: bool) -> None:
    mutation = "appActivate" if active else "appDeactivate"
    await saleor.call(f"mutation($id: ID!) {{ {mutation}(id: $id) {{ app {{ id isActive }} "
                      "errors { field code message } } }", {"id": app_id})


async def configure_email_rule(app: AppProcess, saleor_url: str, directory: Path, server_token: str) -> None:
    """Export the installation's configuration, add a Postmark provider and an immediate email on Paid, import."""
    exported = yaml.safe_load(await app.cli("config", "export", "--saleor-api-url", saleor_url))
    for stage in exported["stages"]:
        if stage["key"] == "paid":
            stage.setdefault("rules", []).append({
                "key": RULE_KEY, "name": "Thanks for paying", "kind": "email", "enabled": True,
                "provider": "postmark-footprint", "mailbox": SHOP_ADDRESS, "recipient": "order_email",
                "subject": "Order {{ order.number }} is paid", "text": "Thank you, order {{ order.number }} is paid."})
    exported["providers"] = [{"key": "postmark-footprint", "kind": "postmark",
                              "credentials": {"server_token": "${" + TOKEN_VARIABLE + "}"},
                              "settings": {"mailboxes": [{"address": SHOP_ADDRESS, "name": "Footprint Shop"}]}}]
    file = directory / "automation.yaml"
    file.write_text(yaml.safe_dump(exported, sort_keys=False))
    await app.cli("config", "import", str(file), "--saleor-api-url", saleor_url, **{TOKEN_VARIABLE: server_token})


@dataclass
class OrderRecipe:
    channel_id: str
    stock: dict[str, int]  # variant id → units left to sell
    shipping_method_id: str = ""

    def next_variant(self) -> str:
        variant = max(self.stock, key=lambda v: self.stock[v])
        if self.stock[variant] < 1:
            raise SaleorError("the channel's stock ran out: use fewer --per-arm or restock in Saleor")
        self.stock[variant] -= 1
        return variant


async def order_recipe(saleor: Saleor, channel_slug: str) -> OrderRecipe:
    data = await saleor.call(
        "query($c: String!) { channel(slug: $c) { id } products(first: 100, channel: $c) { edges { node { "
        "variants { id quantityAvailable(countryCode: US) } } } } }", {"c": channel_slug})
    if data["channel"] is None:
        raise SaleorError(f"no channel {channel_slug!r} (run Saleor's populatedb, or pass --channel)")
    stock = {v["id"]: int(v["quantityAvailable"] or 0) for e in data["products"]["edges"]
             for v in e["node"]["variants"] or [] if (v["quantityAvailable"] or 0) > 0}
    if not stock:
        raise SaleorError(f"no variant in stock in {channel_slug!r}")
    recipe = OrderRecipe(data["channel"]["id"], stock)
    draft = await create_draft(saleor, recipe, "probe@example.com", with_shipping=False)
    methods = await saleor.call("query($id: ID!) { order(id: $id) { shippingMethods { id active } } }",
                                {"id": draft})
    await saleor.call("mutation($id: ID!) { draftOrderDelete(id: $id) { errors { field code message } } }",
                      {"id": draft})
    active = [m["id"] for m in methods["order"]["shippingMethods"] if m["active"]]
    if not active:
        raise SaleorError("no shipping method for a US address in this channel")
    recipe.shipping_method_id = active[0]
    return recipe


async def create_draft(saleor: Saleor, recipe: OrderRecipe, email: str, *, with_shipping: bool = True) -> str:
    payload: dict[str, Any] = {"channelId": recipe.channel_id, "userEmail": email,
                               "lines": [{"variantId": recipe.next_variant(), "quantity": 1}],
                               "billingAddress": ADDRESS, "shippingAddress": ADDRESS}
    if with_shipping:
        payload["shippingMethod"] = recipe.shipping_method_id
    data = await saleor.call("mutation($input: DraftOrderCreateInput!) { draftOrderCreate(input: $input) { "
                             "order { id } errors { field code message } } }", {"input": payload})
    return str(data["draftOrderCreate"]["order"]["id"])


async def place_order(saleor: Saleor, recipe: OrderRecipe, email: str) -> str:
    draft = await create_draft(saleor, recipe, email)
    data = await saleor.call("mutation($id: ID!) { draftOrderComplete(id: $id) { order { id status chargeStatus } "
                             "errors { field code message } } }", {"id": draft})
    order = data["draftOrderComplete"]["order"]
    if order["chargeStatus"] != "NONE":
        raise SaleorError(f"a new order is already charged ({order['chargeStatus']}): it cannot be marked paid")
    return str(order["id"])


MARK_AS_PAID = ("mutation($id: ID!, $ref: String) { orderMarkAsPaid(id: $id, transactionReference: $ref) { "
                "order { id chargeStatus } errors { field code message } } }")


# Figures

def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def describe(values: list[float]) -> str:
    q1, median, q3 = quartiles(values)
    return f"median {median:7.1f} ms   IQR {q3 - q1:6.1f} ms ({q1:.1f}–{q3:.1f})   n={len(values)}"


def paired(samples: list[Sample], minuend: str, subtrahend: str) -> list[float]:
    """Differences of the samples taken at the same place of the same round: neighbours in time."""
    by_place = {(s.arm, s.round, s.position): s.ms for s in samples}
    return [ms - by_place[(subtrahend, r, p)] for (arm, r, p), ms in by_place.items()
            if arm == minuend and (subtrahend, r, p) in by_place]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min; {os.cpu_count()} cores)"


async def run(args: argparse.Namespace) -> int:
    email, password = os.environ.get("SALEOR_STAFF_EMAIL"), os.environ.get("SALEOR_STAFF_PASSWORD")
    if not email or not password:
        print("set SALEOR_STAFF_EMAIL and SALEOR_STAFF_PASSWORD (a staff user with MANAGE_APPS and MANAGE_ORDERS)",
              file=sys.stderr)
        return 2
    identifier = str(manifest_data()["id"])
    bare_name = "Footprint bare receiver"
    saleor = Saleor(args.saleor_url)
    receiver = BareReceiver()
    served_receiver = LoopbackServer(receiver)
    app: AppProcess | None = None
    app_id = bare_id = ""
    with tempfile.TemporaryDirectory(prefix="footprint-") as tmp:
        directory = Path(tmp)
        try:
            async with TimedPostmark() as postmark:
                await saleor.login(email, password)
                version = (await saleor.call("{ shop { version } }"))["shop"]["version"]
                print(f"Saleor {version} at {args.saleor_url}; load at start {load()}")
                await delete_leftovers(saleor, identifier, bare_name)
                server = postmark.add_server("Footprint", signatures=[SHOP_ADDRESS])

                await served_receiver.start()
                bare_id = await create_bare_receiver(saleor, bare_name, f"{served_receiver.url}/webhooks")
                await set_active(saleor, bare_id, False)

                app = AppProcess(directory, postmark.base_url)
                await app.start()
                app_id = await install_app(saleor, app, identifier)
                await configure_email_rule(app, args.saleor_url, directory, server.token)
                print(f"app installed ({app_id}) from {app.url}/api/manifest; bare receiver {bare_id}")

                recipe = await order_recipe(saleor, args.channel)
                total = args.per_arm * len(ARMS)
                print(f"placing {total} orders while only the app listens…", flush=True)
                stamp = int(time.time())
                orders = [(await place_order(saleor, recipe, f"footprint-{stamp}-{i}@example.com"),
                           f"footprint-{stamp}-{i}@example.com") for i in range(total)]
                await app.settle()

                samples = await measure(args, saleor, app, postmark, orders, app_id, bare_id)
                print(f"load at end {load()}")
                report(samples, app, postmark, receiver, args)
                return 0
        finally:
            for leftover in (bare_id, app_id):
                if leftover:
                    with contextlib.suppress(Exception):
                        await saleor.call("mutation($id: ID!) { appDelete(id: $id) { errors { message } } }",
                                          {"id": leftover})
            if app is not None:
                app.stop()
            await served_receiver.stop()
            await saleor.aclose()


async def measure(args: argparse.Namespace, saleor: Saleor, app: AppProcess, postmark: TimedPostmark,
                  orders: list[tuple[str, str]], app_id: str, bare_id: str) -> list[Sample]:
    active = {"app": True, "bare": False}
    samples: list[Sample] = []
    pending = list(orders)
    rounds = math.ceil(args.per_arm / args.block)
    for round_no in range(rounds):
        shift = round_no % len(ARMS)
        for arm in ARMS[shift:] + ARMS[:shift]:  # each arm goes first, second and third equally often
            wanted = {"app": arm == "app", "bare": arm == "bare"}
            for who, app_of in (("app", app_id), ("bare", bare_id)):
                if active[who] and not wanted[who]:
                    await set_active(saleor, app_of, False)
                    active[who] = False
            for who, app_of in (("app", app_id), ("bare", bare_id)):
                if wanted[who] and not active[who]:
                    await set_active(saleor, app_of, True)
                    active[who] = True
            await asyncio.sleep(args.gap)  # the status-change webhooks are worked off
            for position in range(min(args.block, args.per_arm - round_no * args.block)):
                order_id, email = pending.pop(0)
                started_wall, started = time.time(), time.perf_counter()
                data = await saleor.call(MARK_AS_PAID, {"id": order_id, "ref": f"footprint-{position}"})
                ms = (time.perf_counter() - started) * 1000
                if data["orderMarkAsPaid"]["order"]["chargeStatus"] not in ("FULL", "OVERCHARGED"):
                    raise SaleorError(f"order {order_id} not fully charged after orderMarkAsPaid: {data}")
                samples.append(Sample(arm, round_no, position, ms, started_wall, time.time(), order_id, email))
                if arm == "app":
                    deadline = time.monotonic() + 30
                    while email not in postmark.arrivals and time.monotonic() < deadline:
                        await asyncio.sleep(0.01)
                    await app.settle(quiet=args.gap)
                else:
                    await asyncio.sleep(args.gap)
        done = {arm: sum(1 for s in samples if s.arm == arm) for arm in ARMS}
        print(f"round {round_no + 1}/{rounds}: {done}; load {os.getloadavg()[0]:.2f}", flush=True)
    return samples


def report(samples: list[Sample], app: AppProcess, postmark: TimedPostmark, receiver: BareReceiver,
           args: argparse.Namespace) -> None:
    print(f"\norderMarkAsPaid, {args.per_arm} per arm, interleaved in blocks of {args.block}, {args.gap}s apart:")
    for arm in ARMS:
        print(f"  {arm:5} {describe([s.ms for s in samples if s.arm == arm])}")
    for minuend, subtrahend in (("app", "bare"), ("bare", "none"), ("app", "none")):
        print(f"  {minuend} − {subtrahend}: {describe(paired(samples, minuend, subtrahend))}")
    bare_count = sum(1 for s in samples if s.arm == "bare")
    per_mutation = {event: round(count / bare_count, 1) for event, count in sorted(receiver.deliveries.items())
                    if event != "app_status_changed"}  # those come from switching arms
    print(f"  webhooks per mutation at the bare receiver: {per_mutation}")

    app_samples = [s for s in samples if s.arm == "app"]
    first = app.first_webhooks({s.order_id: s.started for s in app_samples})
    timed = [s for s in app_samples if s.order_id in first and s.email in postmark.arrivals]
    if not timed:
        print(f"webhook → first customer message: no message arrived for any of the {len(app_samples)} orders")
        return
    latencies = [(postmark.arrivals[s.email] - first[s.order_id]) * 1000 for s in timed]
    q1, median, q3 = quartiles(latencies)
    p90 = statistics.quantiles(latencies, n=10, method="inclusive")[-1] if len(latencies) > 1 else latencies[0]
    missing = len(app_samples) - len(timed)
    print(f"webhook → first customer message (app arm): p50 {median:.1f} ms, IQR {q3 - q1:.1f} ms, "
          f"p90 {p90:.1f} ms, max {max(latencies):.1f} ms, n={len(latencies)}"
          + (f"; {missing} orders without a message or a webhook" if missing else ""))
    to_webhook = statistics.median((first[s.order_id] - s.started) * 1000 for s in timed)
    after_end = statistics.median((postmark.arrivals[s.email] - s.ended) * 1000 for s in timed)
    print(f"  where the time goes (medians): mutation sent → the app stores its first webhook {to_webhook:.1f} ms; "
          f"mutation answered → message {after_end:.1f} ms (negative: the message left before Saleor answered)")
    jobs = app.job_times(RULE_KEY)
    steps = [(first[s.order_id], created, started, postmark.arrivals[s.email]) for s in timed
             for created, started in [jobs.get(s.order_id, (0.0, None))] if created and started is not None]
    if steps:
        planned, begun, sent = (statistics.median((b - a) * 1000 for a, b in pairs) for pairs in (
            [(w, c) for w, c, _, _ in steps], [(c, st) for _, c, st, _ in steps], [(st, m) for _, _, st, m in steps]))
        print(f"  first webhook → email job planned {planned:.1f} ms; planned → job started {begun:.1f} ms; "
              f"started → email at the provider {sent:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(
        description="The app's footprint on a real Saleor: orderMarkAsPaid with no receiver, a bare receiver "
                    "and the app, interleaved. Staff login from SALEOR_STAFF_EMAIL and SALEOR_STAFF_PASSWORD.")
    parser.add_argument("--saleor-url", default="http://127.0.0.1:8000/graphql/",
                        help="Saleor's GraphQL API URL (default %(default)s)")
    parser.add_argument("--per-arm", type=int, default=50, help="measured mutations per arm (default %(default)s)")
    parser.add_argument("--block", type=int, default=5,
                        help="mutations per arm before switching to the next arm (default %(default)s)")
    parser.add_argument("--gap", type=float, default=1.0,
                        help="seconds of quiet after each mutation and after each switch (default %(default)s)")
    parser.add_argument("--channel", default="default-channel", help="channel slug (default %(default)s)")
    args = parser.parse_args()
    if args.per_arm < 1 or args.block < 1 or args.gap < 0:
        parser.error("--per-arm and --block must be at least 1, --gap not negative")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
