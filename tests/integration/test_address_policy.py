"""The one address policy: which hosts ALLOWED_SALEOR_URLS vouches for, loopback by setting, and the same policy
behind the Saleor calls, merchant URLs and SMTP of a built container."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from saleor_app.domain.errors import PermanentError
from saleor_app.providers.addresses import AddressPolicy, GuardedTransport, OutboundRefused, hosts_named_in, parse_ip
from saleor_app.settings import AppEnv, Settings
from saleor_app.wiring import build_container
from tests.fakes.loopback import LoopbackServer
from tests.fakes.smtp import FakeSmtp
from tests.unit.test_outbound_http import FakeResolver, RecordingConnector

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("pattern", "named"), [
    (r"http://api:8000/graphql/", {"api"}),
    (r"https://shop\.example\.com/graphql/|https://[a-z]+\.saleor\.cloud/graphql/", {"shop.example.com"}),
    (r"http://127\.0\.0\.1:\d+/graphql/", {"127.0.0.1"}),
    (r"https://[a-z0-9-]+\.saleor\.cloud/graphql/", set()),
    (r"http://.*/graphql/", set()),
    (r"http://a.*/graphql/", set()),
    (r"https?://(a|b)\.example/graphql/", set()),
    (None, set()),
])
def test_a_host_is_vouched_for_only_when_the_allow_list_writes_it_out(pattern: str | None, named: set[str]) -> None:
    assert hosts_named_in(pattern) == named


@pytest.mark.parametrize(("address", "allowed_with_loopback"), [
    ("127.0.0.1", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("10.0.0.1", False), ("169.254.169.254", False), ("0.0.0.0", False), ("64:ff9b::7f00:1", False),
])
def test_loopback_is_the_only_thing_the_loopback_setting_opens(address: str, allowed_with_loopback: bool) -> None:
    ip = parse_ip(address)
    assert ip is not None
    assert AddressPolicy.of().refusal("host", ip) is not None
    assert (AddressPolicy.of(allow_loopback=True).refusal("host", ip) is None) is allowed_with_loopback


async def call(policy: AddressPolicy, url: str, table: dict[str, list[str]]) -> list[tuple[str, int]]:
    connector = RecordingConnector()
    async with httpx.AsyncClient(transport=GuardedTransport(policy, resolver=FakeResolver(table),
                                                            connector=connector)) as client:
        try:
            await client.get(url)
        except (OutboundRefused, AssertionError):
            pass  # refused by the policy, or the recording connector stopping a dial off loopback
    return connector.calls


async def test_a_named_saleor_may_resolve_to_a_private_address_and_no_other_host_may() -> None:
    table = {"api": ["10.0.0.7"], "shop.saleor.cloud": ["10.0.0.7"]}
    docker = AddressPolicy.of(trusted_hosts=hosts_named_in(r"http://api:8000/graphql/"))
    assert await call(docker, "http://api:8000/.well-known/jwks.json", table) == [("10.0.0.7", 8000)]
    cloud = AddressPolicy.of(trusted_hosts=hosts_named_in(r"https://[a-z]+\.saleor\.cloud/graphql/"))
    assert await call(cloud, "http://shop.saleor.cloud/graphql/", table) == []


def web_peer() -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def root() -> PlainTextResponse:
        return PlainTextResponse("here")

    return app


@pytest.fixture
async def peer() -> AsyncIterator[LoopbackServer]:
    async with LoopbackServer(web_peer()) as server:
        yield server


@pytest.mark.parametrize("loopback", [True, False])
async def test_one_setting_opens_loopback_for_saleor_merchant_urls_and_smtp(
        settings: Settings, peer: LoopbackServer, loopback: bool) -> None:
    container = build_container(settings.model_copy(update={"allow_loopback_targets": loopback,
                                                             "allowed_saleor_urls": None}))
    try:
        client = container.saleor.connect(f"{peer.url}/graphql/", "token")
        try:
            with pytest.raises(Exception) as saleor_error:  # noqa: PT011 - which one is what the test is about
                await client.execute("AppIdentity")
        finally:
            await client.close()
        assert ("Refused to connect" in str(saleor_error.value)) is not loopback
        if loopback:
            assert (await container.outbound.get(f"{peer.url}/")).text == "here"
        else:
            with pytest.raises(OutboundRefused, match="loopback"):
                await container.outbound.get(f"{peer.url}/")
        smtp = container.email.smtp
        async with FakeSmtp() as mail:
            smtp_settings = smtp.validate({}, {"host": "localhost", "port": mail.port, "security": "none",
                                               "from_address": "shop@example.com"})
            if loopback:
                assert await smtp.check({}, smtp_settings) == f"SMTP server localhost:{mail.port} (none)"
            else:
                with pytest.raises(PermanentError, match="localhost could not be resolved to a public internet address"):
                    await smtp.check({}, smtp_settings)  # a name's refusal never says what it resolved to
    finally:
        await container.aclose()


def test_docker_compose_names_its_saleor_and_its_dashboard() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    for service in ("app", "worker"):
        environment = {key: str(value) for key, value in compose["services"][service]["environment"].items()}
        environment["ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
        settings = Settings(_env_file=None, **{key.lower(): value for key, value in environment.items()})  # type: ignore[arg-type]
        assert hosts_named_in(settings.allowed_saleor_urls) == {"api"}  # Saleor's container, on a private address
        if service == "app":  # the one serving the page
            assert settings.dashboard_origins.split() == ["http://localhost:9000"]


def test_every_relaxed_guard_is_a_warning_at_start_up(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    """What a server (serve, worker, dispatch) logs first; commands printing for a person leave it out."""
    from saleor_app.cli_support import announce

    dev = settings.model_copy(update={"app_env": AppEnv.DEV, "allowed_saleor_urls": None,
                                      "allow_loopback_targets": None})
    with caplog.at_level(logging.INFO, logger="saleor_app.cli_support"):
        announce(dev, "ENCRYPTION_KEYS (1 key)")
    warned = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("loopback (the dev default)" in line for line in warned), warned
    assert any("ALLOWED_SALEOR_URLS is unset" in line for line in warned), warned
    assert f"database {dev.database_url}, encryption key from ENCRYPTION_KEYS (1 key)" in caplog.messages
