"""The app's engine against the fake Saleor over real HTTP, with a controllable clock and a manual runner."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from saleor_app.app import create_app
from saleor_app.domain.installations import Installation
from saleor_app.domain.rules import RuleSpec
from saleor_app.engine.execute import ActionHandler
from saleor_app.settings import Settings
from saleor_app.store.tables import ActivityRow, JobRow, OrderRow, StageEntryRow
from saleor_app.wiring import Container, build_container
from tests.fakes.loopback import LoopbackServer, free_port
from tests.fakes.saleor import FakeSaleor


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.value = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self.value

    def advance(self, delta: timedelta) -> None:
        self.value += delta


@dataclass
class EngineStack:
    saleor: FakeSaleor
    container: Container
    clock: FakeClock
    installation: Installation

    async def settle(self) -> None:
        """Handle every stored webhook and every job due now, until nothing is left to do."""
        await self.container.runner.run_until_idle()

    async def rule(self, **spec: Any) -> None:
        spec.setdefault("name", spec["key"])
        await self.container.configure.save_rule(self.installation.id, RuleSpec.model_validate(spec))

    async def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        await self.settle()

    async def rows(self, table: Any, *where: Any) -> list[dict[str, Any]]:
        async with self.container.engine.connect() as connection:
            result = await connection.execute(select(table).where(*where).order_by(table.c.id))
            return [dict(row) for row in result.mappings()]

    async def jobs(self) -> list[dict[str, Any]]:
        return await self.rows(JobRow.__table__)  # type: ignore[attr-defined]

    async def job_states(self) -> dict[str, str]:
        return {job["rule_key"]: job["state"] for job in await self.jobs()}

    async def entries(self) -> list[tuple[str, bool]]:
        rows = await self.rows(StageEntryRow.__table__)  # type: ignore[attr-defined]
        return [(row["stage_key"], row["left_at"] is None) for row in rows]

    async def order_stage(self, order_id: str) -> str | None:
        table = OrderRow.__table__  # type: ignore[attr-defined]
        rows = await self.rows(table, table.c.order_id == order_id)
        return rows[0]["stage_key"] if rows else None

    async def activity(self) -> list[str]:
        return [row["message"] for row in await self.rows(ActivityRow.__table__)]  # type: ignore[attr-defined]

    def dashboard_headers(self, **claims: Any) -> dict[str, str]:
        """What the Dashboard page sends to the protected API (AppBridge's token and the Saleor API URL)."""
        token = self.saleor.signer.dashboard_token(app_id=self.installation.app_id, iss=self.saleor.api_url, **claims)
        return {"authorization-bearer": token, "saleor-api-url": self.saleor.api_url}

    def notes(self) -> list[str]:
        return [m.variables["message"] for m in self.saleor.mutations if m.name == "orderNoteAdd"]


async def engine_stack(
    settings: Settings,
    *,
    extra_handlers: Mapping[str, ActionHandler] | None = None,
    clock_start: datetime | None = None,
    app_clock: FakeClock | None = None,  # a clock shared with other processes (tests/fakes/celery_worker.py)
    **fake: Any,
) -> AsyncIterator[EngineStack]:
    port = free_port()
    settings = settings.model_copy(update={"app_url": f"http://127.0.0.1:{port}"})
    clock = app_clock or FakeClock(clock_start)
    container = build_container(settings, clock=clock, extra_handlers=extra_handlers)
    try:  # the container's connections go back even when the fake Saleor or the install fails
        async with FakeSaleor(**fake) as saleor, LoopbackServer(create_app(settings, container), port=port,
                                                                 lifespan="off"):
            await saleor.install(f"http://127.0.0.1:{port}/api/manifest")
            installation = await container.installations.get_by_url(saleor.api_url)
            assert installation is not None
            yield EngineStack(saleor, container, clock, installation)
    finally:
        await container.aclose()


@asynccontextmanager
async def another_installation(stack: EngineStack, settings: Settings) -> AsyncIterator[EngineStack]:
    """A second deployment of the app (its own database, URL and runner) installed into the same fake Saleor, as
    a shop running two copies of the app (staging and production, say) has it: both get every order webhook.
    Saleor installs one manifest id once, so staff first gave the installed copy another identifier."""
    stack.saleor.set_app_identifier(f"{stack.saleor.app.identifier}.first", stack.saleor.apps[0])
    port = free_port()
    settings = settings.model_copy(update={"app_url": f"http://127.0.0.1:{port}"})
    container = build_container(settings, clock=stack.clock)
    try:
        async with LoopbackServer(create_app(settings, container), port=port, lifespan="off"):
            await stack.saleor.install(f"http://127.0.0.1:{port}/api/manifest")
            installation = await container.installations.get_by_url(stack.saleor.api_url)
            assert installation is not None
            yield EngineStack(stack.saleor, container, stack.clock, installation)
    finally:
        await container.aclose()
