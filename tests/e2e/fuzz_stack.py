"""The app for the fuzz tests: the engine stack, a fake Twilio and a fake Postmark served from a background loop.

Schemathesis and Hypothesis drive synchronous tests, so the servers run in a thread with their own event loop (as
the browser tests' stack does) and the fuzzers call them over real HTTP: a request that hangs is seen as one. The
stack is seeded with what the routes outside the protected API need to get past their checks: a connected Twilio
account (its callbacks can be signed), a connected Postmark account (its webhook's password), an inbound trigger
(its secret) and an order. One stack serves a whole test module, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from saleor_app.domain.providers import ProviderSpec, ProviderStatus
from saleor_app.domain.triggers import TriggerSpec
from saleor_app.settings import Settings
from tests.conftest import app_settings, provisioned_database
from tests.databases import MigratedDatabases
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.fakes.postmark import FakePostmark
from tests.fakes.twilio import FakeTwilio
from tests.timing import scaled

T = TypeVar("T")

# A token outlives the module's run: the fuzzers must never see a 401 only because time passed.
TOKEN_TTL_SECONDS = 4 * 3600


@dataclass(frozen=True)
class Seeded:
    twilio_account_id: int
    twilio_auth_token: str
    postmark_account_id: int
    postmark_password: str
    inbound_trigger_id: int
    inbound_secret: str
    order_id: str


class FuzzStack:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fuzz-stack", daemon=True)
        self._stack_gen: AsyncIterator[EngineStack] | None = None
        self.twilio = FakeTwilio()
        self.postmark = FakePostmark()
        self.stack: EngineStack
        self.seeded: Seeded

    def run(self, make: Callable[[], Awaitable[T]], timeout: float = scaled(60)) -> T:
        async def call() -> T:
            return await make()
        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout)

    def start(self) -> None:
        self._thread.start()
        self.run(self._up)

    async def _up(self) -> None:
        await self.twilio.__aenter__()
        self.twilio.account.add_number("+15005550006", "Shop line")
        await self.postmark.__aenter__()
        settings = self._settings.model_copy(update={  # every provider is a local fake: nothing leaves loopback
            "twilio_api_base_url": self.twilio.base_url, "postmark_api_base_url": self.postmark.base_url,
            "allow_loopback_targets": True})
        self._stack_gen = engine_stack(settings)
        self.stack = await self._stack_gen.__anext__()
        self.seeded = await self._seed()

    async def _seed(self) -> Seeded:
        container, installation = self.stack.container, self.stack.installation.id
        twilio = await container.providers.connect(installation, ProviderSpec(
            key="twilio-main", kind="twilio",
            credentials={"account_sid": self.twilio.account.sid, "auth_token": self.twilio.account.auth_token}))
        server = self.postmark.add_server("Shop", signatures=["shop@example.com"])
        postmark = await container.providers.connect(installation, ProviderSpec(
            key="postmark-main", kind="postmark",
            credentials={"server_token": server.token, "account_token": server.account_token}))
        for view in (twilio, postmark):
            assert view.account.status is ProviderStatus.CONNECTED, view.account.status_message
        password = await container.providers.callback_password(postmark.account.id)
        assert password is not None
        await container.configure.add_custom_stage(installation, "picked-up", "Picked up", ["UNFULFILLED"])
        await container.configure.save_trigger(installation, TriggerSpec(
            key="courier", stage="picked-up", event="inbound_webhook"))
        async with container.automation.reading() as tx:
            [trigger] = [t for t in await tx.triggers(installation) if t.key == "courier"]
        secret = await container.inbound.secret(trigger.id)
        assert secret is not None
        order = await self.stack.saleor.place_order(auto_confirm=True)
        await self.stack.settle()
        return Seeded(twilio.account.id, self.twilio.account.auth_token, postmark.account.id, password,
                      trigger.id, secret, order.id)

    @property
    def app_url(self) -> str:
        return str(self.stack.container.settings.app_url)

    @property
    def saleor_api_url(self) -> str:
        return self.stack.saleor.api_url

    def dashboard_headers(self) -> dict[str, str]:
        return self.stack.dashboard_headers(ttl=TOKEN_TTL_SECONDS)

    def sign_webhook(self, body: bytes) -> str:
        return self.stack.saleor.signer.sign_webhook(body)

    def stop(self) -> None:
        async def down() -> None:  # each part is stopped even when the one before failed to
            try:
                if self._stack_gen is not None:
                    await self._stack_gen.aclose()  # type: ignore[attr-defined]
            finally:
                try:
                    await self.postmark.__aexit__(None, None, None)
                finally:
                    await self.twilio.__aexit__(None, None, None)
        try:
            self.run(down)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(scaled(10))
            self._loop.close()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fuzz_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
               migrated: MigratedDatabases) -> Iterator[FuzzStack]:
    """One seeded stack per module and database (the fuzzers' cases share it, as a real deployment's callers do)."""
    directory: Path = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with provisioned_database(request.param, directory, migrated) as url:
        stack = FuzzStack(app_settings(url, directory, lasting=True))
        try:  # stopped even when it failed half-way up: what did start is closed
            stack.start()
            yield stack
        finally:
            stack.stop()

