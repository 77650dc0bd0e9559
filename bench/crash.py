"""Crash trials and the cost of the hand-over mark.

1. Seeded crash trials (tests/e2e/crash_trial.py): a warm-up order, then 8 orders 0.2 s apart enter a stage
   holding an immediate SMS rule and an immediate email rule against the Twilio and Postmark fakes (answers 0.25 s
   late), JOB_LEASE_SECONDS=3; the serving process (in-process runner on SQLite or PostgreSQL) or a Celery worker
   (`--concurrency 2`, PostgreSQL, RabbitMQ) is SIGKILLed 0.4–1.7 s after the first of them and restarted. Per
   configuration: sends, duplicates, lost jobs, unknown jobs once no job is left to run ("at rest"), provider
   requests in flight at the kill, unknown jobs at rest the provider never received, unknown jobs at rest whose
   answer had left the provider but was not recorded when the kill came, and unknown jobs once reconciliation has
   looked every one up at the providers (RECONCILE_SETTLE_SECONDS=1: the fakes' logs are current at once).
2. Runner jobs/s with an email rule (SQLite, in-process runner, the Postmark fake answering at once), with the
   job's hand-over mark written beside the message row and without it, alternating in the same run.

    .venv/bin/python bench/crash.py [--trials 10] [--configurations sqlite postgres celery] [--jobs 1500]
                                    [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYTEST_XDIST_WORKER", "gw0")  # tests/e2e/celery_stack.py: which Redis database is ours

from saleor_app.app import create_app  # noqa: E402
from saleor_app.domain.providers import NewMessage, ProviderSpec  # noqa: E402
from saleor_app.domain.rules import RuleSpec  # noqa: E402
from saleor_app.engine.email import EmailService  # noqa: E402
from saleor_app.engine.email_action import EmailAction  # noqa: E402
from saleor_app.engine.execute import ActionContext  # noqa: E402
from saleor_app.settings import AppEnv, Settings  # noqa: E402
from saleor_app.store.migrate import upgrade  # noqa: E402
from saleor_app.store.providers import SqlProviderStore  # noqa: E402
from saleor_app.store.tables import JobRow, OrderRow, StageEntryRow  # noqa: E402
from saleor_app.wiring import build_container  # noqa: E402
from tests.conftest import APP_TIMEOUTS, FAKE_SALEOR_URLS, POSTGRES_URL  # noqa: E402
from tests.databases import MigratedDatabases  # noqa: E402
from tests.e2e.celery_stack import BROKERS, celery_settings, delete_queue  # noqa: E402
from tests.e2e.crash_trial import TrialResult, fresh_database, run_trial  # noqa: E402
from tests.fakes.loopback import LoopbackServer, free_port  # noqa: E402
from tests.fakes.postmark import FakePostmark  # noqa: E402
from tests.fakes.saleor import FakeSaleor  # noqa: E402

COLUMNS = ("trials", "sends", "duplicates", "lost", "unknown at rest", "in flight at kill", "unknown, never reached",
           "unknown, answered", "unknown after reconciling")


def base_settings(directory: Path, database_url: str) -> Settings:
    return Settings(_env_file=None, app_env=AppEnv.TEST, app_url="http://localhost:3000",  # type: ignore[call-arg]
                    database_url=database_url, data_dir=directory, encryption_keys=[Fernet.generate_key().decode()],
                    sync_webhooks_on_startup=False, log_level="WARNING", allowed_saleor_urls=FAKE_SALEOR_URLS,
                    **APP_TIMEOUTS)


async def trials(configuration: str, count: int, migrated: MigratedDatabases, directory: Path) -> list[TrialResult]:
    settings = base_settings(directory, "sqlite:///unused.db" if configuration == "sqlite" else POSTGRES_URL)
    if configuration == "celery":
        settings = celery_settings(settings, BROKERS["rabbitmq"], dispatch_resend_seconds=3.0)
    results = []
    try:
        for seed in range(1, count + 1):
            with fresh_database(settings, migrated, directory) as fresh:
                results.append(await run_trial(fresh, seed))
            trial = results[-1]
            print(f"  {configuration} seed {seed}: {trial.sends} sends, {trial.duplicates} duplicates, "
                  f"{trial.lost} lost, {trial.unknown_at_rest} unknown at rest ({trial.unreached} never reached), "
                  f"{trial.in_flight} in flight at the kill, {trial.answered_unrecorded} answered but not recorded, "
                  f"{trial.unknown} unknown after reconciling; "
                  f"not in log/alerts: {trial.unexplained or 'none'}",
                  flush=True)
    finally:
        if configuration == "celery":
            delete_queue(settings)
    return results


class WithoutHandOver(SqlProviderStore):
    """The message row alone, as before the hand-over mark: the same insert, no job update beside it."""

    async def add_message(self, message: NewMessage, now: datetime) -> int:
        return await super().add_message(dataclasses.replace(message, job_id=None), now)


async def email_throughput(jobs: int, rounds: int) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {"with the mark": [], "without": []}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'app.db'}"
        upgrade(url)
        port = free_port()
        async with FakePostmark() as postmark, FakeSaleor(validate_documents=False) as saleor:
            settings = base_settings(Path(tmp), url).model_copy(update={
                "app_url": f"http://127.0.0.1:{port}", "postmark_api_base_url": postmark.base_url,
                "allow_loopback_targets": True})
            action: dict[str, Callable[[ActionContext], Awaitable[str]]] = {}

            async def email(ctx: ActionContext) -> str:  # each variant's handler, swapped between rounds
                return await action["run"](ctx)

            container = build_container(settings, extra_handlers={"email": email})
            try:
                async with LoopbackServer(create_app(settings, container), port=port, lifespan="off"):
                    await saleor.install(f"http://127.0.0.1:{port}/api/manifest")
                installation = await container.installations.get_by_url(saleor.api_url)
                assert installation is not None
                server = postmark.add_server("Shop", signatures=["shop@example.com"])
                await container.providers.connect(installation.id, ProviderSpec(
                    key="postmark-main", kind="postmark",
                    credentials={"server_token": server.token, "account_token": server.account_token}))
                rule = await container.configure.save_rule(installation.id, RuleSpec(
                    key="email", name="email", stage="new", kind="email",
                    config={"subject": "Order {{ order.number }}", "text": "Thanks"}))
                stores = {"with the mark": SqlProviderStore(container.engine),
                          "without": WithoutHandOver(container.engine)}
                for _ in range(rounds):
                    for label, store in stores.items():
                        service = EmailService(store, {"postmark": container.email.postmark},
                                               container.providers.credentials, container.clock)
                        action["run"] = EmailAction(service)
                        await _seed(container, installation.id, rule.id, jobs)
                        started = time.perf_counter()
                        await container.runner.run_until_idle(max_rounds=jobs + 100)
                        rates[label].append(jobs / (time.perf_counter() - started))
                        sent = len(postmark.emails)
                        assert sent == jobs * len(rates["with the mark"] + rates["without"]), sent
            finally:
                await container.aclose()
    return rates


async def _seed(container, installation_id: int, rule_id: int, count: int) -> None:  # type: ignore[no-untyped-def]
    """Orders with an address, open entries and due email jobs, written in bulk (planning is not measured)."""
    now = datetime.now(UTC)
    due = now - timedelta(seconds=1)
    async with container.engine.begin() as connection:
        start = (await connection.execute(select(func.coalesce(func.max(OrderRow.__table__.c.id), 0)))).scalar_one() + 1  # type: ignore[attr-defined]
        await connection.execute(insert(OrderRow.__table__), [  # type: ignore[attr-defined]
            {"id": start + i, "installation_id": installation_id, "order_id": f"bench-{start + i}",
             "number": str(start + i), "snapshot": {"status": "UNCONFIRMED", "userEmail": f"c{i}@example.com"},
             "snapshot_at": now, "stage_key": "new", "first_seen_at": now} for i in range(count)])
        await connection.execute(insert(StageEntryRow.__table__), [  # type: ignore[attr-defined]
            {"id": start + i, "installation_id": installation_id, "order_row_id": start + i, "stage_key": "new",
             "entered_at": now, "adopted": False, "reason": "bench"} for i in range(count)])
        await connection.execute(insert(JobRow.__table__), [  # type: ignore[attr-defined]
            {"installation_id": installation_id, "order_row_id": start + i, "entry_id": start + i,
             "rule_id": rule_id, "rule_key": "email", "kind": "email", "idempotency_key": f"bench:{start + i}",
             "state": "scheduled", "due_at": due, "attempts": 0, "reason": "", "created_at": now, "updated_at": now}
            for i in range(count)])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--configurations", nargs="*", default=["sqlite", "postgres", "celery"])
    parser.add_argument("--jobs", type=int, default=1500, help="email jobs per throughput round (0: skip)")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds of each variant, alternating")
    args = parser.parse_args()

    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        migrated = MigratedDatabases(Path(tmp), POSTGRES_URL)
        try:
            for configuration in args.configurations:
                results = await trials(configuration, args.trials, migrated, Path(tmp) / configuration)
                summary.append((configuration, [len(results), *(sum(getattr(r, name) for r in results) for name in
                                                                ("sends", "duplicates", "lost", "unknown_at_rest",
                                                                 "in_flight", "unreached",
                                                                 "answered_unrecorded", "unknown"))]))
        finally:
            migrated.close()
    print(f"{'configuration':<14}" + "".join(f"{column:>24}" for column in COLUMNS))
    for configuration, figures in summary:
        print(f"{configuration:<14}" + "".join(f"{figure:>24}" for figure in figures))
    if args.jobs:
        rates = await email_throughput(args.jobs, args.rounds)
        for label, values in rates.items():
            print(f"runner, email rule ({args.jobs} jobs x {args.rounds}), {label}: median "
                  f"{statistics.median(values):.0f} jobs/s ({', '.join(f'{v:.0f}' for v in values)})")
        cost = 1 - statistics.median(rates["with the mark"]) / statistics.median(rates["without"])
        print(f"cost of the hand-over mark: {cost * 100:+.1f} % of runner throughput")


if __name__ == "__main__":
    asyncio.run(main())
