"""Crash trials: orders enter a stage holding an immediate SMS rule and an immediate email rule (the Twilio and
Postmark fakes answer 0.25 s late; an order every 0.2 s), the process running the jobs is SIGKILLed at a seeded
moment while sends are in flight — the serving app, or a Celery worker of two processes — and restarted; once no
job is left to run, every job's sends are counted at the fakes ("at rest"), and again once reconciliation has
looked up every unknown send at the providers (the fakes' logs are current at once, so it may look after a second
instead of two minutes): that is the outcome a merchant is left with. Used by tests/e2e/test_crash_trials.py (2 trials per configuration) and
bench/crash.py (as many as asked).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from saleor_app.domain.jobs import JobState
from saleor_app.domain.providers import ProviderSpec, ProviderStatus
from saleor_app.domain.rules import RuleSpec
from saleor_app.settings import Settings
from saleor_app.store.alerts import SqlAlertStore
from saleor_app.store.tables import ActivityRow, JobRow, MessageRow, OrderRow
from saleor_app.wiring import Container, build_container
from tests.conftest import POSTGRES_URL
from tests.databases import MigratedDatabases, schema_url
from tests.fakes.loopback import free_port
from tests.fakes.postmark import FakePostmark
from tests.fakes.saleor import FakeSaleor
from tests.fakes.twilio import FakeTwilio
from tests.timing import HTTP_TIMEOUT, NotYet, eventually, scaled, settles

REPO = Path(__file__).resolve().parents[2]
SHOP_EMAIL = "shop@example.com"
SHOP_PHONE = "+15005550006"
ANSWER_DELAY = 0.25
LEASE_SECONDS = 3
KILL_WINDOW = (0.4, 1.7)  # seconds after the first order was placed
ORDER_EVERY = 0.2
RECONCILE_SETTLE_SECONDS = 1
_UNFINISHED = {JobState.WAITING.value, JobState.SCHEDULED.value, JobState.RUNNING.value, JobState.RETRYING.value}


@dataclass
class TrialResult:
    configuration: str
    seed: int
    jobs: int = 0
    sends: int = 0
    duplicates: int = 0  # sends beyond the first, per job
    lost: int = 0  # jobs never planned, or ended without a send and without being marked unknown
    unknown: int = 0  # after reconciliation
    unknown_at_rest: int = 0  # before it: the restarted process cannot tell these apart without asking
    in_flight: int = 0  # provider requests received by the fakes and not answered when the kill came
    unreached: int = 0  # unknown jobs at rest that the provider never received
    unexplained: list[int] = field(default_factory=list)  # unknown at rest, missing from the activity log or alerts
    unmarked: list[int] = field(default_factory=list)  # unknown at rest without a message row: never handed over
    states: dict[str, int] = field(default_factory=dict)

    @property
    def answered_unrecorded(self) -> int:
        """Unknown jobs at rest that the provider had already answered when the kill came, their answer not yet
        recorded. A request the provider received came from the killed process (the restarted one never re-sends an
        unknown job), and every one in flight at the kill is unknown at rest: those beyond them and the unreached."""
        return max(0, self.unknown_at_rest - self.unreached - self.in_flight)


def app_env(settings: Settings) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "APP_URL": settings.app_url, "APP_ENV": "test",
           "ENCRYPTION_KEYS": ",".join(settings.encryption_keys), "DATA_DIR": str(settings.data_dir),
           "SYNC_WEBHOOKS_ON_STARTUP": "false", "LOG_LEVEL": "WARNING", "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
           "ALLOW_LOOPBACK_TARGETS": "true", "POSTMARK_API_BASE_URL": settings.postmark_api_base_url,
           "TWILIO_API_BASE_URL": settings.twilio_api_base_url or "", "TWILIO_RECONCILE_INTERVAL_SECONDS": "1",
           "EMAIL_RECONCILE_INTERVAL_SECONDS": "1", "RECONCILE_SETTLE_SECONDS": str(RECONCILE_SETTLE_SECONDS), "ALLOWED_SALEOR_URLS": settings.allowed_saleor_urls or "",
           "JOB_RUNNER": settings.job_runner}
    if settings.job_runner == "celery":
        env |= {"CELERY_BROKER_URL": settings.celery_broker_url or "", "CELERY_QUEUE": settings.celery_queue,
                "DISPATCH_RESEND_SECONDS": str(settings.dispatch_resend_seconds)}
    return env


def start(settings: Settings, *command: str) -> subprocess.Popen[bytes]:
    """`python -m saleor_app.cli <command>` in a process group of its own (a worker's children die with it)."""
    return subprocess.Popen([sys.executable, "-m", "saleor_app.cli", *command], cwd=REPO, env=app_env(settings),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=scaled(10))


async def wait_until_up(port: int) -> None:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        async def healthy() -> bool:
            try:
                return (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(healthy, within=30, every=0.05, what="the app answering /health")


@contextmanager
def fresh_database(settings: Settings, migrated: MigratedDatabases, directory: Path) -> Iterator[Settings]:
    """`settings` on a new migrated database of the same kind: each trial counts its own jobs."""
    if settings.database_url.startswith("sqlite"):
        directory.mkdir(parents=True, exist_ok=True)
        yield settings.model_copy(update={"database_url": migrated.sqlite(directory / f"{uuid.uuid4().hex}.db")})
        return
    schema = migrated.postgres_schema()
    try:
        yield settings.model_copy(update={"database_url": schema_url(POSTGRES_URL, schema)})
    finally:
        migrated.drop_schema(schema)


async def run_trial(settings: Settings, seed: int, *, orders: int = 8) -> TrialResult:
    """One trial on `settings`' database, which must be empty (and broker, with JOB_RUNNER=celery: then a worker
    is killed)."""
    celery = settings.job_runner == "celery"
    rng = random.Random(seed)
    async with FakePostmark() as postmark, FakeTwilio() as twilio, FakeSaleor() as saleor:
        twilio.account.add_number(SHOP_PHONE, "Shop line")
        port = free_port()
        settings = settings.model_copy(update={
            "app_url": f"http://127.0.0.1:{port}", "postmark_api_base_url": postmark.base_url,
            "twilio_api_base_url": twilio.base_url, "allow_loopback_targets": True,
            "job_lease_seconds": float(LEASE_SECONDS)})
        observer = build_container(settings)  # configures and reads the same database from here
        processes = [start(settings, "serve", "--port", str(port), "--no-migrate")]
        try:
            await wait_until_up(port)
            await saleor.install(f"http://127.0.0.1:{port}/api/manifest")
            installation = await observer.installations.get_by_url(saleor.api_url)
            assert installation is not None
            await _configure(observer, installation.id, postmark, twilio)
            if celery:
                processes.append(start(settings, "worker", "--concurrency", "2"))
            # One order first, answered at once: the runner (or the worker) is up and warm when the trial starts.
            await saleor.place_order(auto_confirm=True)
            await settles(lambda: _unfinished(observer, 2), {}, within=60, every=0.1, what="the warm-up jobs")
            postmark.answers.delay = twilio.answers.delay = ANSWER_DELAY
            placing = asyncio.create_task(_place(saleor, orders))
            await asyncio.sleep(rng.uniform(*KILL_WINDOW))
            in_flight = postmark.answers.in_flight + twilio.answers.in_flight  # no await before the kill
            victim = processes.pop()
            kill(victim)
            processes.append(start(settings, *(["worker", "--concurrency", "2"] if celery else
                                               ["serve", "--port", str(port), "--no-migrate"])))
            await placing
            if not celery:
                await wait_until_up(port)
                await saleor.retry_failed()  # Saleor redelivers what it could not deliver while the app was down
            await settles(lambda: _unfinished(observer, 2 * (orders + 1)), {}, within=90, every=0.2,
                          what="the jobs not finished")
            at_rest = await _count(observer, installation.id, postmark, twilio, orders + 1)
            await _reconciled(observer, 2 * (orders + 1))
            result = await _count(observer, installation.id, postmark, twilio, orders + 1)
            result.configuration, result.seed, result.in_flight = _name(settings), seed, in_flight
            result.unknown_at_rest, result.unreached = at_rest.unknown, at_rest.unreached
            result.unexplained, result.unmarked = at_rest.unexplained, at_rest.unmarked
            return result
        finally:
            for process in processes:
                kill(process)
            await observer.aclose()


async def _reconciled(observer: Container, jobs: int) -> None:
    """Until no job is unknown or still to run (a send found not sent runs again), or reconciliation has had its
    rounds: what stays unknown then is counted, not waited for."""
    try:
        await settles(lambda: _unfinished(observer, jobs, also=(JobState.UNKNOWN.value,)), {},
                      within=RECONCILE_SETTLE_SECONDS + 30, every=0.2, what="unknown jobs reconciled")
    except NotYet:
        pass


async def _place(saleor: FakeSaleor, orders: int) -> None:
    """One order every ORDER_EVERY seconds: the kill finds sends at every stage, from planned to answered."""
    for _ in range(orders):
        await asyncio.gather(saleor.place_order(auto_confirm=True), asyncio.sleep(ORDER_EVERY))


def _name(settings: Settings) -> str:
    if settings.job_runner == "celery":
        return "celery"
    return "sqlite" if settings.database_url.startswith("sqlite") else "postgres"


async def _configure(observer: Container, installation_id: int, postmark: FakePostmark, twilio: FakeTwilio) -> None:
    server = postmark.add_server("Shop", signatures=[SHOP_EMAIL])
    for spec in (ProviderSpec(key="postmark-main", kind="postmark",
                              credentials={"server_token": server.token, "account_token": server.account_token}),
                 ProviderSpec(key="twilio-main", kind="twilio",
                              credentials={"account_sid": twilio.account.sid,
                                           "auth_token": twilio.account.auth_token})):
        view = await observer.providers.connect(installation_id, spec)
        assert view.account.status is ProviderStatus.CONNECTED, view.account.status_message
    for key, kind, config in (
            ("sms", "sms", {"text": "Order {{ order.number }} received"}),
            ("email", "email", {"subject": "Order #{{ order.number }}", "text": "Thanks"})):
        await observer.configure.save_rule(installation_id, RuleSpec(
            key=key, name=key, stage="awaiting-payment", kind=kind, config=config))


async def _unfinished(observer: Container, expected: int, also: tuple[str, ...] = ()) -> dict[str, int]:
    """Jobs not planned yet ("missing") and jobs still to run (and in the states `also`), by state: empty once every
    job finished."""
    async with observer.engine.connect() as connection:
        states = Counter((await connection.execute(select(JOBS.c.state))).scalars())
    left = {state: count for state, count in states.items() if state in _UNFINISHED or state in also}
    missing = expected - sum(states.values())
    return left | ({"missing": missing} if missing > 0 else {})


JOBS = JobRow.__table__  # type: ignore[attr-defined]
ORDERS = OrderRow.__table__  # type: ignore[attr-defined]
ACTIVITY = ActivityRow.__table__  # type: ignore[attr-defined]
MESSAGES = MessageRow.__table__  # type: ignore[attr-defined]


async def _count(observer: Container, installation_id: int, postmark: FakePostmark, twilio: FakeTwilio,
                 orders: int) -> TrialResult:
    sends: Counter[tuple[str, str]] = Counter()
    for email in postmark.emails:
        sends["email", str(email["Subject"]).removeprefix("Order #")] += 1
    for message in twilio.account.messages:
        sends["sms", message.body.removeprefix("Order ").removesuffix(" received")] += 1
    # The alerts first: reconciliation may settle an unknown job meanwhile, and a settled job is no alert.
    now = observer.clock.now()
    _, failed = await SqlAlertStore(observer.engine).failures(installation_id, now - timedelta(hours=1),
                                                              now + timedelta(hours=1), newest=1000)
    alerted = {job.job_id for job in failed if job.state is JobState.UNKNOWN}
    async with observer.engine.connect() as connection:
        jobs = (await connection.execute(select(JOBS.c.id, JOBS.c.rule_key, JOBS.c.state, ORDERS.c.number)
                                         .join(ORDERS, ORDERS.c.id == JOBS.c.order_row_id))).all()
        logged = set((await connection.execute(select(ACTIVITY.c.job_id).where(
            ACTIVITY.c.state == JobState.UNKNOWN.value))).scalars())
        handed_over = set((await connection.execute(select(MESSAGES.c.job_id))).scalars())
    result = TrialResult("", 0, jobs=len(jobs), sends=sum(sends.values()))
    result.lost = max(0, 2 * orders - len(jobs))
    for job_id, rule_key, state, number in jobs:
        count = sends[rule_key, str(number)]
        result.states[state] = result.states.get(state, 0) + 1
        result.duplicates += max(0, count - 1)
        if state == JobState.UNKNOWN.value:
            result.unknown += 1
            result.unreached += count == 0
            if job_id not in logged or job_id not in alerted:
                result.unexplained.append(job_id)
            if job_id not in handed_over:
                result.unmarked.append(job_id)
        elif count == 0:
            result.lost += 1  # a false success, or a send that never happened and nobody was told
    return result
