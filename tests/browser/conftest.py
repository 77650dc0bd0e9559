"""Browser tests: Debian's Chromium (never a downloaded browser) driven by Playwright, one browser for the package.

The app, the fake Saleor and the Dashboard harness run on loopback in a background thread with their own event
loop, so the synchronous Playwright API drives the page while the servers answer. The fixtures are package-scoped,
not session-scoped: Playwright's sync API keeps an event loop running in the main thread while it is open, and
pytest-asyncio cannot run the async tests of other packages until it has closed.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from cryptography.fernet import Fernet

from saleor_app.settings import AppEnv, Settings
from saleor_app.store.migrate import upgrade
from tests.browser.harness import harness_app
from tests.conftest import APP_TIMEOUTS, require
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.fakes.loopback import LoopbackServer
from tests.fakes.twilio import FakeTwilio
from tests.timing import HTTP_TIMEOUT, milliseconds, scaled

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# The README's screenshots are rewritten only when asked (UPDATE_SCREENSHOTS=1): a normal run keeps the tree clean.
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
T = TypeVar("T")


class LiveStack:
    """The app + fake Saleor (tests/e2e/engine_stack.py) and the harness, served from a background loop."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="browser-stack", daemon=True)
        self._stack_gen: AsyncIterator[EngineStack] | None = None
        self._harness: LoopbackServer | None = None
        self.stack: EngineStack
        self.twilio = FakeTwilio()

    def run(self, make: Callable[[], Awaitable[T]], timeout: float = scaled(60)) -> T:
        async def call() -> T:
            return await make()
        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout)

    def start(self) -> None:
        self._thread.start()
        self.run(self._up)

    async def _up(self) -> None:
        url = f"sqlite:///{self._data_dir / 'app.db'}"
        upgrade(url)
        await self.twilio.__aenter__()
        self.twilio.account.add_number("+15005550006", "Shop line")
        settings = Settings(_env_file=None, app_env=AppEnv.TEST, app_url="http://localhost:3000",  # type: ignore[call-arg]
                            database_url=url, data_dir=self._data_dir,
                            encryption_keys=[Fernet.generate_key().decode()], sync_webhooks_on_startup=False,
                            log_format="text", twilio_api_base_url=self.twilio.base_url,
                            allow_loopback_targets=True, **APP_TIMEOUTS)  # every fake is on loopback
        self._stack_gen = engine_stack(settings)
        self.stack = await self._stack_gen.__anext__()
        saleor = self.stack.saleor
        self._harness = LoopbackServer(harness_app(
            app_url=self.app_url, saleor_api_url=saleor.api_url, domain=saleor.domain,
            app_id=self.stack.installation.app_id, tokens=self._token, third_origin=lambda: self.third_origin))
        await self._harness.start()

    def _token(self, query: dict[str, str]) -> str:
        """A Dashboard token; the harness URL's query narrows it (perms=…, ttl=…, app=…)."""
        perms = query.get("perms", "MANAGE_ORDERS")
        return self.stack.saleor.signer.dashboard_token(
            app_id=query.get("app", self.stack.installation.app_id), iss=self.stack.saleor.api_url,
            permissions=[p for p in perms.split(",") if p], ttl=int(query.get("ttl", "300")))

    @property
    def app_url(self) -> str:
        return str(self.stack.container.settings.app_url)

    @property
    def harness_url(self) -> str:
        assert self._harness is not None
        return self._harness.url  # 127.0.0.1:<port>: another origin than the app (another port)

    @property
    def third_origin(self) -> str:
        assert self._harness is not None
        return f"http://localhost:{self._harness.port}"

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the app's API as the Dashboard page would (to set up or check what the page did)."""
        async def call() -> httpx.Response:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=self.app_url) as client:
                return await client.request(method, path, headers=self.stack.dashboard_headers(), **kwargs)
        return self.run(call)

    def stop(self) -> None:
        async def down() -> None:  # each part is stopped even when the one before failed to
            try:
                if self._harness is not None:
                    await self._harness.stop()
            finally:
                try:
                    if self._stack_gen is not None:
                        await self._stack_gen.aclose()  # type: ignore[attr-defined]
                finally:
                    await self.twilio.__aexit__(None, None, None)
        try:
            self.run(down)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(scaled(10))
            self._loop.close()


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    stack = LiveStack(tmp_path_factory.mktemp("browser"))
    try:  # stopped even when it failed half-way up: what did start is closed
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    require(CHROMIUM.exists(), f"Chromium is not installed at {CHROMIUM}: apt-get install chromium (Debian's build; "
                                 "Playwright never downloads one), or set CHROMIUM_PATH")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="package")
def page(browser: Any) -> Iterator[Any]:
    from playwright.sync_api import expect

    """One page for the session (views are reopened through the harness, which is fast)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(milliseconds(10))
    expect.set_options(timeout=milliseconds(10))  # assertions wait as long as actions (Playwright's default is 5 s)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: docs/screenshots/ with UPDATE_SCREENSHOTS=1, else a temporary directory."""
    target = DOCS_SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    return target


def take_screenshot(page: Any, shots: Path, name: str, element: Any = None) -> None:
    """A screenshot for the README, which is also a check that something was drawn; `element` (a locator) narrows
    it to one part of the page (the order page's sidebar widget, the popup's dialog)."""
    page.mouse.move(0, 0)  # no hover effects in the pictures
    (element or page).screenshot(path=str(shots / f"{name}.png"), animations="disabled", caret="hide")
    assert (shots / f"{name}.png").stat().st_size > 10_000
