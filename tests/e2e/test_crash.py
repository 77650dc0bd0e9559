"""SIGKILL mid-run: the app process dies while a send is in flight; nothing acknowledged is lost, nothing is
re-sent blindly, and Saleor's retries of what it could not deliver meanwhile are taken up after the restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from saleor_app.domain.rules import RuleSpec
from saleor_app.settings import Settings
from saleor_app.store.tables import JobRow, OrderRow
from saleor_app.wiring import build_container
from tests.e2e.crash_trial import wait_until_up
from tests.fakes.loopback import free_port
from tests.fakes.saleor import FakeSaleor
from tests.timing import eventually, scaled

REPO = Path(__file__).resolve().parents[2]


def start_app(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "APP_URL": f"http://127.0.0.1:{port}",
           "ENCRYPTION_KEYS": ",".join(settings.encryption_keys), "DATA_DIR": str(settings.data_dir),
           "SYNC_WEBHOOKS_ON_STARTUP": "false", "JOB_LEASE_SECONDS": "2", "LOG_LEVEL": "WARNING", "APP_ENV": "test",
           "ALLOWED_SALEOR_URLS": settings.allowed_saleor_urls or ""}
    # A process group of its own: the kill takes the web process and its job runner process down together.
    return subprocess.Popen([sys.executable, "-m", "saleor_app.cli", "serve", "--port", str(port), "--no-migrate"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sigkill_mid_send_loses_nothing_and_sends_nothing_twice(settings: Settings) -> None:
    port = free_port()
    settings = settings.model_copy(update={"app_url": f"http://127.0.0.1:{port}"})
    observer = build_container(settings)  # reads (and configures) the same database from the test
    app = start_app(settings, port)
    try:
        await wait_until_up(port)
        async with FakeSaleor() as saleor:
            await saleor.install(f"http://127.0.0.1:{port}/api/manifest")
            installation = await observer.installations.get_by_url(saleor.api_url)
            assert installation is not None
            await observer.configure.save_rule(installation.id, RuleSpec(
                key="note", name="note", stage="awaiting-payment", kind="add_note", config={"message": "sent once"}))

            async def job_state() -> str | None:
                async with observer.engine.connect() as connection:
                    return (await connection.execute(select(JobRow.__table__.c.state))).scalar()  # type: ignore[attr-defined]

            saleor.graphql_delay(3.0)  # the note (and the re-read before it) hang in Saleor
            order = await saleor.place_order(auto_confirm=True)
            await eventually(lambda: _eq(job_state(), "running"))

            async def note_in_flight() -> bool:  # Saleor has the orderNoteAdd request and is working on it
                return any(b"orderNoteAdd" in body for body in saleor.delayed_bodies)

            await eventually(note_in_flight)
            os.killpg(app.pid, signal.SIGKILL)  # the app dies with the send in flight
            app.wait(timeout=scaled(10))
            saleor.graphql_delay(0.0)

            await saleor.charge(order, order.total)  # delivered while the app is down: Saleor will retry
            assert saleor.deliveries[-1].outcome == "retry"

            app = start_app(settings, port)
            await wait_until_up(port)
            await saleor.retry_failed()

            async def order_stage() -> bool:
                async with observer.engine.connect() as connection:
                    stage = (await connection.execute(select(OrderRow.__table__.c.stage_key))).scalar()  # type: ignore[attr-defined]
                return stage == "paid"

            await eventually(order_stage)
            await eventually(lambda: _eq(job_state(), "unknown"))  # after the 2 s lease: not re-sent, a person decides
            await asyncio.sleep(1.0)
            notes = [m for m in saleor.mutations if m.name == "orderNoteAdd"]
            assert len(notes) == 1  # Saleor did add it (the app died before hearing so); never a second one
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(app.pid, signal.SIGKILL)
        app.wait(timeout=scaled(10))
        await observer.aclose()


async def _eq(value, expected) -> bool:  # type: ignore[no-untyped-def]
    return (await value) == expected
