"""`serve` on the embedded default: the web process stores webhooks and its job runner process handles them.

The app runs as the operator runs it (`python -m saleor_app.cli serve`); the tests find the runner process among
serve's children, pause or kill it, and signal serve as a terminal, Docker or the OOM killer would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from saleor_app.domain.rules import RuleSpec
from saleor_app.settings import Settings
from saleor_app.store.tables import JobRow, WebhookInboxRow
from saleor_app.wiring import Container, build_container
from tests.e2e.crash_trial import wait_until_up
from tests.fakes.loopback import free_port
from tests.fakes.saleor import FakeSaleor
from tests.timing import eventually, scaled

REPO = Path(__file__).resolve().parents[2]
INBOX = WebhookInboxRow.__table__  # type: ignore[attr-defined]
JOBS = JobRow.__table__  # type: ignore[attr-defined]


def _stat(pid: int) -> list[str] | None:
    """State, parent, … of a process from /proc; None once it is gone (a zombie counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields


def alive(pid: int) -> bool:
    return _stat(pid) is not None


def children(pid: int) -> list[int]:
    return [int(entry) for entry in os.listdir("/proc")
            if entry.isdigit() and (fields := _stat(int(entry))) is not None and int(fields[1]) == pid]


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    log: Path
    observer: Container  # reads and configures the same database from the test
    saleor: FakeSaleor
    installation_id: int

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def runner(self, other_than: int | None = None) -> int:
        """The job runner process, once it has started (and is not `other_than`)."""
        async def started() -> int | None:
            found = [pid for pid in children(self.process.pid) if pid != other_than]
            return found[0] if len(found) == 1 and self.output().count("job runner ready") >= (
                1 if other_than is None else 2) else None
        return await eventually(started, within=60, every=0.05, what="the job runner process started")

    async def notes(self) -> int:
        return sum(1 for call in self.saleor.mutations if call.name == "orderNoteAdd")

    async def pending_webhooks(self) -> int:
        async with self.observer.engine.connect() as connection:
            return int((await connection.execute(
                select(func.count()).select_from(INBOX).where(INBOX.c.state == "pending"))).scalar_one())

    async def job_states(self) -> list[str]:
        async with self.observer.engine.connect() as connection:
            return list((await connection.execute(select(JOBS.c.state).order_by(JOBS.c.id))).scalars())


@asynccontextmanager
async def served(settings: Settings, directory: Path) -> AsyncIterator[Served]:
    """`serve` in a process group of its own (so nothing survives the test), a note rule on Awaiting payment."""
    port = free_port()
    settings = settings.model_copy(update={"app_url": f"http://127.0.0.1:{port}"})
    env = {**os.environ, "DATABASE_URL": settings.database_url, "APP_URL": settings.app_url, "APP_ENV": "test",
           "ENCRYPTION_KEYS": ",".join(settings.encryption_keys), "DATA_DIR": str(settings.data_dir),
           "SYNC_WEBHOOKS_ON_STARTUP": "false", "LOG_LEVEL": "INFO", "LOG_FORMAT": "text",
           "ALLOWED_SALEOR_URLS": settings.allowed_saleor_urls or "", "CATCH_UP_INTERVAL_SECONDS": "0",
           "RUNNER_SHUTDOWN_GRACE_SECONDS": str(scaled(30)),
           # No background round of its own: a runner paused by a test holds no SQLite write lock then.
           "ALERTS_INTERVAL_SECONDS": "0", "EMAIL_RECONCILE_INTERVAL_SECONDS": "0",
           "TWILIO_RECONCILE_INTERVAL_SECONDS": "0", "PROVIDER_RETRY_INTERVAL_SECONDS": "0"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = directory / "serve.log"
    observer = build_container(settings)
    async with FakeSaleor() as saleor:  # outlives the app: its last calls still find Saleor
        with log.open("wb") as sink:
            process = subprocess.Popen([sys.executable, "-m", "saleor_app.cli", "serve", "--port", str(port),
                                        "--no-migrate"], cwd=REPO, env=env, stdout=sink, stderr=sink,
                                       start_new_session=True)
        try:
            await wait_until_up(port)
            await saleor.install(f"{settings.app_url}/api/manifest")
            installation = await observer.installations.get_by_url(saleor.api_url)
            assert installation is not None
            await observer.configure.save_rule(installation.id, RuleSpec(
                key="note", name="note", stage="awaiting-payment", kind="add_note", config={"message": "hello"}))
            yield Served(process, log, observer, saleor, installation.id)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=scaled(10))
            saleor.release_mutations()
            await observer.aclose()


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
async def test_a_webhook_stored_by_the_web_process_is_handled_by_the_runner_process(
        settings: Settings, tmp_path: Path) -> None:
    async with served(settings, tmp_path) as app:
        runner = await app.runner()
        assert runner != app.process.pid
        # Once the install's webhooks are handled the runner sleeps: paused now, it holds no write lock (SQLite
        # has one for the whole file; a runner paused inside a write would block the web's inbox writes).
        await eventually(lambda: _eq(app.pending_webhooks(), 0), what="the install's webhooks handled")
        os.kill(runner, signal.SIGSTOP)  # the engine cannot move: whatever is acknowledged now, the web did alone
        try:
            await app.saleor.place_order(auto_confirm=True)
            assert [d.outcome for d in app.saleor.deliveries] == ["success", "success"]  # created, confirmed
            assert await app.pending_webhooks() == 2
            assert await app.notes() == 0
        finally:
            os.kill(runner, signal.SIGCONT)
        await eventually(app.notes, what="the note added by the runner process")
        await eventually(lambda: _eq(app.pending_webhooks(), 0), what="the inbox handled")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_killed_runner_process_is_replaced_and_the_next_order_is_handled(
        settings: Settings, tmp_path: Path) -> None:
    async with served(settings, tmp_path) as app:
        first = await app.runner()
        os.kill(first, signal.SIGKILL)
        second = await app.runner(other_than=first)
        assert not alive(first)
        assert "the job runner process exited unexpectedly (killed by SIGKILL)" in app.output()
        await app.saleor.place_order(auto_confirm=True)
        await eventually(app.notes, what="the note added by the new runner process")
        assert children(app.process.pid) == [second]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sigterm_lets_the_running_job_finish_then_both_processes_exit(
        settings: Settings, tmp_path: Path) -> None:
    async with served(settings, tmp_path) as app:
        runner = await app.runner()
        app.saleor.hold_mutation("orderNoteAdd")
        await app.saleor.place_order(auto_confirm=True)
        await eventually(lambda: app.saleor.held_bodies, what="the note held in Saleor")
        app.process.send_signal(signal.SIGTERM)  # as Docker stops the container: to serve alone
        await eventually(lambda: "job runner stopping" in app.output(), what="the runner told to stop")
        assert alive(runner)
        app.saleor.release_mutations()
        await eventually(lambda: not alive(app.process.pid) and not alive(runner), within=60,
                         what="serve and its runner exited")
        assert await app.job_states() == ["succeeded"]
        assert await app.notes() == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("how", ["ctrl-c", "sigkill-to-serve"])
async def test_stopping_serve_leaves_no_process_behind(settings: Settings, tmp_path: Path, how: str) -> None:
    async with served(settings, tmp_path) as app:
        runner = await app.runner()
        if how == "ctrl-c":  # the terminal signals the whole foreground group
            os.killpg(app.process.pid, signal.SIGINT)
        else:  # the OOM killer or `kill -9` takes serve alone: its runner sees the pipe close
            app.process.send_signal(signal.SIGKILL)
        await eventually(lambda: not alive(app.process.pid) and not alive(runner), within=60,
                         what="serve and its runner exited")
        if how == "ctrl-c":
            assert "job runner stopping" in app.output()


async def _eq(value, expected) -> bool:  # type: ignore[no-untyped-def]
    return (await value) == expected
