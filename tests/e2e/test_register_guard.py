"""Registration is not a port scanner: the address policy on the calls back to Saleor, uniform answers, a
per-client rate limit, and the local set-up (`make run`, the README's local Saleor) still installing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from saleor_app.app import create_app
from saleor_app.settings import AppEnv, Settings
from saleor_app.wiring import build_container
from tests.e2e.engine_stack import FakeClock
from tests.e2e.test_install_and_ingest import Stack
from tests.fakes.loopback import LoopbackServer, free_port
from tests.fakes.saleor import FakeSaleor
from tests.fakes.saleor_install import InstallFailed


async def start(settings: Settings, clock: FakeClock | None = None, **overrides: object) -> AsyncIterator[Stack]:
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    settings = settings.model_copy(update={"app_url": app_url, **overrides})
    container = build_container(settings, clock=clock)
    async with FakeSaleor() as saleor, LoopbackServer(create_app(settings, container), port=port, lifespan="off"):
        try:
            yield Stack(saleor, container, app_url)
        finally:
            await container.aclose()


async def register(stack: Stack, saleor_api_url: str, token: str = "t" * 30,
                   headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{stack.app_url}/api/register", json={"auth_token": token},
                                 headers={"Saleor-Api-Url": saleor_api_url, **(headers or {})})


def not_saleor() -> FastAPI:
    """Some other web server on an open port: answers 404 (or 401) to everything, not in GraphQL."""
    app = FastAPI()

    @app.post("/graphql/")
    async def graphql() -> PlainTextResponse:
        return PlainTextResponse("Not Found", status_code=404)

    @app.post("/auth/graphql/")
    async def auth() -> PlainTextResponse:
        return PlainTextResponse("Unauthorized", status_code=401)

    return app


@pytest.fixture
async def dev_stack(settings: Settings) -> AsyncIterator[Stack]:
    """ALLOWED_SALEOR_URLS unset, as in development."""
    async for stack in start(settings, allowed_saleor_urls=None, allow_loopback_targets=True):
        yield stack


async def test_an_open_port_and_a_closed_one_get_the_same_answer(dev_stack: Stack) -> None:
    async with LoopbackServer(not_saleor()) as other:
        answers = {}
        for name, url in {"closed": f"http://127.0.0.1:{free_port()}/graphql/",
                          "open, 404": f"{other.url}/graphql/", "open, 401": f"{other.url}/auth/graphql/"}.items():
            response = await register(dev_stack, url)
            answers[name] = (response.status_code, response.json()["error"]["code"],
                             response.json()["error"]["message"].replace(url, "URL"))
    assert len(set(answers.values())) == 1, answers
    status, code, message = answers["closed"]
    assert (status, code) == (502, "SALEOR_UNREACHABLE")
    for detail in ("404", "401", "HTTP", "Transport", "Connect", "refused"):
        assert detail not in message


@pytest.mark.parametrize("target", ["http://10.255.255.1/graphql/", "http://169.254.169.254/graphql/",
                                    "http://192.168.1.1:8080/graphql/", "http://[fd00::1]/graphql/",
                                    "http://[::ffff:169.254.169.254]/graphql/"])
async def test_private_link_local_and_metadata_saleors_are_refused_before_connecting(
        dev_stack: Stack, target: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="saleor_app.saleor.register"):
        response = await register(dev_stack, target)
    assert response.status_code == 502 and response.json()["error"]["code"] == "SALEOR_UNREACHABLE"
    reasons = [str(getattr(record, "reason", "")) for record in caplog.records]
    assert any("Refused to connect" in reason for reason in reasons), reasons  # never dialled: the policy said no


async def test_without_loopback_a_loopback_saleor_needs_to_be_named(settings: Settings) -> None:
    async for stack in start(settings, allowed_saleor_urls=None, allow_loopback_targets=False):
        response = await register(stack, stack.saleor.api_url)
        assert response.status_code == 502
        assert stack.saleor.requests == []  # the guard refused the connection
    named = r"http://127\.0\.0\.1:\d+/graphql/"  # an operator vouching for a host lets it be anything
    async for stack in start(settings, allowed_saleor_urls=named, allow_loopback_targets=False):
        await stack.saleor.install(stack.manifest_url)
        assert await stack.installation()


async def test_make_run_and_the_readme_local_saleor_still_install(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `make run` gives the app: APP_URL and ALLOW_LOOPBACK_TARGETS=true, nothing else (dev, any Saleor);
    the README's local Saleor is on loopback. The dev default allows loopback too, for `saleor-automation serve`."""
    for name in ("APP_ENV", "ALLOWED_SALEOR_URLS", "DASHBOARD_ORIGINS"):
        monkeypatch.delenv(name, raising=False)
    for loopback in ("true", None):
        monkeypatch.setenv("APP_URL", "http://localhost:3000")
        if loopback:
            monkeypatch.setenv("ALLOW_LOOPBACK_TARGETS", loopback)
        else:
            monkeypatch.delenv("ALLOW_LOOPBACK_TARGETS", raising=False)
        run = Settings(_env_file=None, database_url=settings.database_url, data_dir=settings.data_dir)  # type: ignore[call-arg]
        assert run.app_env is AppEnv.DEV and run.allowed_saleor_urls is None and run.loopback_allowed
        async for stack in start(run, sync_webhooks_on_startup=False):
            await stack.saleor.install(stack.manifest_url)
            assert (await stack.installation()).saleor_api_url == stack.saleor.api_url


async def test_the_eleventh_attempt_a_minute_is_429_and_a_real_install_after_the_window_succeeds(
        settings: Settings) -> None:
    clock = FakeClock()
    async for stack in start(settings, clock=clock):
        for _ in range(10):
            assert (await register(stack, stack.saleor.api_url, token="made-up-token-0000000000")).status_code == 401
        limited = await register(stack, stack.saleor.api_url)
        assert limited.status_code == 429 and limited.json()["error"]["code"] == "TOO_MANY_ATTEMPTS"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # X-Forwarded-For from an untrusted peer changes nothing
        assert (await register(stack, stack.saleor.api_url, headers={"X-Forwarded-For": "203.0.113.9"})
                ).status_code == 429
        with pytest.raises(InstallFailed) as failed:
            await stack.saleor.install(stack.manifest_url)
        assert failed.value.status == 429
        clock.advance(timedelta(seconds=61))
        await stack.saleor.install(stack.manifest_url)
        assert await stack.installation()


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_count(settings: Settings) -> None:
    async for stack in start(settings, clock=FakeClock(), trusted_proxies=["127.0.0.1"],
                             register_attempts_per_minute=2):
        statuses = []
        for client in ("203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.2"):
            response = await register(stack, stack.saleor.api_url, token="made-up-token-0000000000",
                                      headers={"X-Forwarded-For": f"198.51.100.7, {client}"})
            statuses.append(response.status_code)
        assert statuses == [401, 401, 429, 401]  # the fourth is another client behind the same proxy
