"""Nothing a web request names reaches the server's own state: a configuration sent to the app never sets a
credential nor makes the server read its environment, no API answer shows any part of a stored secret, and a time
zone name never opens a server file. Through the real HTTP API, against a real SMTP server on loopback (aiosmtpd)
that records every login it is sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from saleor_app.domain.providers import ProviderSpec, ProviderStatus
from tests.cli_runs import invoke as invoke_cli
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.e2e.test_board_api import ROUTES
from tests.fakes.smtp import FakeSmtp
from tests.timing import HTTP_TIMEOUT

PASSWORD = "Qz7Vk2Xw4Jp9Rt5"  # the merchant's SMTP password: no five characters of it may leave the server
THROUGH_THE_APP = "set credentials in the Providers view or with `providers connect` on the server"


@pytest.fixture
async def smtp(tmp_path: Path) -> AsyncIterator[FakeSmtp]:
    async with FakeSmtp(tls_dir=tmp_path, users={"shop": PASSWORD}) as server:
        yield server


@pytest.fixture
async def stack(settings, smtp: FakeSmtp) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings.model_copy(update={"allow_loopback_targets": True,
                                                                "smtp_ca_bundle": str(smtp.ca_file)})):
        yield built


async def api(stack: EngineStack, method: str, path: str, *, content: str | None = None, json: Any = None,
              **params: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=stack.container.settings.app_url) as client:
        return await client.request(method, f"/api/v1{path}", params=params, content=content, json=json,
                                    headers=stack.dashboard_headers())


def smtp_provider(smtp: FakeSmtp, key: str, username: str, password: str, from_name: str = "The Shop") -> str:
    return (f"providers:\n- key: {key}\n  kind: smtp\n  credentials:\n    username: {username}\n"
            f"    password: {password}\n  settings:\n    host: localhost\n    port: {smtp.port}\n"
            f"    security: starttls\n    from_address: shop@shop.example\n    from_name: {from_name}\n")


async def connect_smtp(stack: EngineStack, smtp: FakeSmtp) -> None:
    view = await stack.container.providers.connect(stack.installation.id, ProviderSpec(
        key="smtp-main", kind="smtp", credentials={"username": "shop", "password": PASSWORD},
        settings={"host": "localhost", "port": smtp.port, "security": "starttls",
                  "from_address": "shop@shop.example", "from_name": "The Shop"}))
    assert view.account.status is ProviderStatus.CONNECTED, view.account.status_message


async def test_a_configuration_sent_to_the_app_never_sets_a_credential_nor_reads_the_environment(
        stack: EngineStack, smtp: FakeSmtp, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Dashboard user's file that names the server's variables as the credentials of an SMTP server they
    control: refused, nobody logs in anywhere, and the answer is the same whether the variables are set or not."""
    monkeypatch.setenv("ENCRYPTION_KEYS", ",".join(stack.container.settings.encryption_keys))
    monkeypatch.setenv("DATABASE_URL", stack.container.settings.database_url)
    monkeypatch.delenv("SHOP_UNSET_USER", raising=False)
    monkeypatch.delenv("SHOP_UNSET_PASSWORD", raising=False)
    base = (await api(stack, "GET", "/config")).text
    answers = {}
    for tried in (("${ENCRYPTION_KEYS}", "${DATABASE_URL}"), ("${SHOP_UNSET_USER}", "${SHOP_UNSET_PASSWORD}"),
                  ("shop", PASSWORD)):
        for dry_run in ("true", "false"):
            response = await api(stack, "PUT", "/config", content=base + smtp_provider(smtp, "relay", *tried),
                                 dry_run=dry_run)
            answers[tried, dry_run] = (response.status_code, response.json())
    first = next(iter(answers.values()))
    assert first[0] == 422 and first[1]["error"]["code"] == "INVALID_CONFIG"
    message = first[1]["error"]["message"]
    assert f"providers[0].credentials.username: {THROUGH_THE_APP}" in message
    assert f"providers[0].credentials.password: {THROUGH_THE_APP}" in message
    assert all(answer == first for answer in answers.values()), answers  # set, unset or literal: one answer
    assert smtp.logins == []  # the app connected to nobody with anything
    assert (await api(stack, "GET", "/providers")).json() == []
    assert (await api(stack, "GET", "/config")).text == base


async def test_a_reference_keeps_what_an_existing_provider_stored_and_reads_no_variable(
        stack: EngineStack, smtp: FakeSmtp, monkeypatch: pytest.MonkeyPatch) -> None:
    await connect_smtp(stack, smtp)
    monkeypatch.setenv("SMTP_MAIN_USERNAME", "env-user")  # the names export writes: set on the server, never read
    monkeypatch.setenv("SMTP_MAIN_PASSWORD", "env-password")
    exported = (await api(stack, "GET", "/config")).text
    assert "password: ${SMTP_MAIN_PASSWORD}" in exported and PASSWORD not in exported
    renamed = exported.replace("from_name: The Shop", "from_name: Shop Orders")
    applied = await api(stack, "PUT", "/config", content=renamed)
    assert applied.status_code == 200, applied.text
    assert applied.json()["summary"][-1].startswith("provider smtp-main: changed, connected")
    assert smtp.logins[-1] == ("shop", PASSWORD)  # the stored login, not the variables'
    assert all("env-" not in part for login in smtp.logins for part in login)
    [provider] = (await api(stack, "GET", "/providers")).json()
    assert provider["settings"]["from_name"] == "Shop Orders"

    logins = len(smtp.logins)
    literal = renamed.replace("password: ${SMTP_MAIN_PASSWORD}", "password: a-new-password")
    refused = await api(stack, "PUT", "/config", content=literal)
    assert refused.status_code == 422
    assert f"providers[0].credentials.password: {THROUGH_THE_APP}" in refused.json()["error"]["message"]
    assert len(smtp.logins) == logins


async def test_stored_credentials_never_follow_a_provider_to_a_new_server(
        stack: EngineStack, smtp: FakeSmtp, tmp_path: Path) -> None:
    """A Dashboard user who points the stored SMTP login at a server they run (another port, another host
    name) gets a 422 asking for the credentials again; their server hears no login."""
    await connect_smtp(stack, smtp)
    [stored] = (await api(stack, "GET", "/providers")).json()
    async with FakeSmtp(tls_dir=tmp_path, users={"anyone": "anything"}) as theirs:
        for change in ({"port": theirs.port}, {"host": "127.0.0.1", "port": theirs.port}):
            moved = await api(stack, "PUT", "/providers/smtp-main", json={
                "kind": "smtp", "settings": {**stored["settings"], **change}})
            assert moved.status_code == 422, moved.text
            assert moved.json()["error"]["code"] == "credentials_needed", moved.text
            assert f"changing {', '.join(change)} needs the credentials entered again" in moved.text
            exported = (await api(stack, "GET", "/config")).text
            for name, value in change.items():
                exported = exported.replace(f"{name}: {stored['settings'][name]}", f"{name}: {value}")
            imported = await api(stack, "PUT", "/config", content=exported)
            assert imported.status_code == 422, imported.text
            assert "providers[0]: provider 'smtp-main': changing" in imported.json()["error"]["message"]
        assert theirs.logins == []
        assert (await api(stack, "GET", "/providers")).json()[0]["settings"] == stored["settings"]

        given = await api(stack, "PUT", "/providers/smtp-main", json={
            "kind": "smtp", "credentials": {"username": "anyone", "password": "anything"},
            "settings": {**stored["settings"], "port": theirs.port}})
        assert given.status_code == 200, given.text  # entered again with it: the merchant's own choice
        assert theirs.logins == [("anyone", "anything")]


def pieces(secret: str, size: int) -> set[str]:
    return {secret[start:start + size] for start in range(len(secret) - size + 1)}


async def test_no_api_answer_shows_any_part_of_a_stored_secret_or_of_the_servers_keys(
        stack: EngineStack, smtp: FakeSmtp) -> None:
    await connect_smtp(stack, smtp)
    forms = (await api(stack, "GET", "/provider-forms")).json()
    assert forms["stored"]["smtp-main"] == {"username": "shop", "password": "stored"}
    secrets = dict.fromkeys(pieces(PASSWORD, 5), "the SMTP password")
    for key in stack.container.settings.encryption_keys:
        secrets.update(dict.fromkeys(pieces(key, 8), "ENCRYPTION_KEYS"))
    shown = []
    for method, path in ROUTES:
        if method == "GET":
            text = (await api(stack, method, path.removeprefix("/api/v1"))).text
            shown += [f"{path}: {piece!r} of {what}" for piece, what in secrets.items() if piece in text]
    assert shown == []


@pytest.mark.parametrize("zone", ["localtime", "posixrules"])
async def test_a_time_zone_is_an_iana_name_never_a_file_of_the_servers_set_up(stack: EngineStack, zone: str) -> None:
    """`localtime` links to /etc/localtime: taken, it would run a shop on the server's clock settings."""
    schedule = await api(stack, "PUT", "/settings", json={"time_zone": zone})
    assert schedule.status_code == 422, schedule.text
    assert f"{zone!r} is not an IANA time zone" in schedule.text
    base = (await api(stack, "GET", "/config")).text
    assert "time_zone: UTC" in base
    imported = await api(stack, "PUT", "/config", content=base.replace("time_zone: UTC", f"time_zone: {zone}"))
    assert imported.status_code == 422 and "settings.time_zone" in imported.json()["error"]["message"]
    assert (await api(stack, "GET", "/settings")).json()["time_zone"] == "UTC"
    berlin = await api(stack, "PUT", "/settings", json={"time_zone": "Europe/Berlin"})
    assert berlin.status_code == 200 and berlin.json()["time_zone"] == "Europe/Berlin"


@pytest.mark.parametrize(("kind", "credentials", "fields"), [
    ("postmark", {"server_token": "t"}, {"postmark_api_base_url": "http://127.0.0.1:9/"}),
    ("smtp", {}, {"host": "localhost", "from_address": "shop@shop.example", "smtp_ca_bundle": "/etc/passwd"}),
    ("twilio", {"account_sid": "AC" + "0" * 32, "auth_token": "t"}, {"twilio_api_base_url": "http://127.0.0.1:9"}),
])
async def test_a_provider_setting_is_one_of_its_kinds_never_a_setting_of_the_server(
        stack: EngineStack, smtp: FakeSmtp, kind: str, credentials: dict[str, str], fields: dict[str, str]) -> None:
    """Where Postmark and Twilio are reached and which certificates SMTP trusts are the operator's settings."""
    connect = await api(stack, "PUT", "/providers/probe", json={"kind": kind, "credentials": credentials,
                                                                "settings": fields})
    assert connect.status_code == 422 and "unknown" in connect.json()["error"]["message"], connect.text
    named = next(name for name in fields if name in type(stack.container.settings).model_fields)
    assert named in connect.json()["error"]["message"]
    lines = "".join(f"    {name}: {value}\n" for name, value in fields.items())
    imported = await api(stack, "PUT", "/config", content=(await api(stack, "GET", "/config")).text
                         + f"providers:\n- key: probe\n  kind: {kind}\n  settings:\n{lines}")
    assert imported.status_code == 422 and "providers[0]" in imported.json()["error"]["message"]
    assert (await api(stack, "GET", "/providers")).json() == [] and smtp.logins == []


async def config_import(stack: EngineStack, file: Path, *options: str, **env: str) -> Any:
    settings = stack.container.settings
    env = {"APP_ENV": "test", "DATABASE_URL": settings.database_url, "DATA_DIR": str(settings.data_dir),
           "ENCRYPTION_KEYS": ",".join(settings.encryption_keys), "LOG_FORMAT": "text", "LOG_LEVEL": "WARNING",
           "ALLOW_LOOPBACK_TARGETS": "true", "POSTMARK_API_BASE_URL": settings.postmark_api_base_url,
           **({"TWILIO_API_BASE_URL": settings.twilio_api_base_url} if settings.twilio_api_base_url else {}),
           **({"SMTP_CA_BUNDLE": str(settings.smtp_ca_bundle)} if settings.smtp_ca_bundle else {}), **env}
    return await asyncio.to_thread(invoke_cli, ["config", "import", str(file), *options,
                                                             "--saleor-api-url", stack.saleor.api_url], env=env)


@pytest.mark.usefixtures("restore_logging")
async def test_config_import_on_the_server_reads_references_from_the_operators_shell(
        stack: EngineStack, smtp: FakeSmtp, tmp_path: Path) -> None:
    file = tmp_path / "automation.yaml"
    file.write_text((await api(stack, "GET", "/config")).text
                    + smtp_provider(smtp, "smtp-main", "${SHOP_SMTP_USER}", "${SHOP_SMTP_PASSWORD}"))
    unset = await config_import(stack, file)
    assert unset.exit_code == 1 and "the environment variable SHOP_SMTP_USER is not set" in unset.stderr
    applied = await config_import(stack, file, SHOP_SMTP_USER="shop", SHOP_SMTP_PASSWORD=PASSWORD)
    assert applied.exit_code == 0, applied.output
    assert "provider smtp-main: added, connected" in applied.stdout
    assert smtp.logins == [("shop", PASSWORD)]
