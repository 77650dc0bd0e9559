"""Moving a configuration to another installation, for every provider kind (SMTP, Postmark, Twilio): two
deployments of the app, each with its own database, encryption key and Saleor, and the providers' fakes shared as
the real services would be. The export carries no credential, only `${VAR}` references; `config import` on the
second server reads them from the operator's shell and checks each provider with a real call. A file sent to the
app never sets a credential: there the provider is connected first (the Providers API), then the file is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from saleor_app.domain.config_file import dump_config
from saleor_app.domain.provider_config import THROUGH_THE_APP, reference_name
from saleor_app.domain.provider_needs import PROVIDERS_OF_KIND, provider_problem
from saleor_app.domain.providers import ProviderSpec, ProviderStatus
from saleor_app.domain.triggers import TriggerSpec
from tests.conftest import app_settings, provisioned_database
from tests.databases import MigratedDatabases
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.e2e.test_config_as_code import invoke
from tests.e2e.test_config_secrets import config_import
from tests.fakes.postmark import FakePostmark
from tests.fakes.smtp import FakeSmtp
from tests.fakes.twilio import FakeTwilio
from tests.timing import HTTP_TIMEOUT

SMTP_USER, SMTP_PASSWORD = "relay-user-7431", "Qz7Vk2Xw4Jp9Rt5"
SHOP_NUMBER = "+15005550006"
MAILBOX = "orders@shop.example"


@dataclass
class Fakes:
    smtp: FakeSmtp
    postmark: FakePostmark
    twilio: FakeTwilio

    def calls(self, kind: str) -> int:
        """How many calls the provider of this kind has received (a real check is one or more)."""
        return {"smtp": lambda: len(self.smtp.logins), "postmark": lambda: len(self.postmark.requests),
                "twilio": lambda: len(self.twilio.requests)}[kind]()


@dataclass(frozen=True)
class Kind:
    """A provider kind: how the merchant connects it on the first installation, and rules that send through it."""

    spec: Callable[[Fakes], ProviderSpec]
    rules: tuple[dict[str, Any], ...]


def _smtp(fakes: Fakes) -> ProviderSpec:
    return ProviderSpec(key="smtp-main", kind="smtp", credentials={"username": SMTP_USER, "password": SMTP_PASSWORD},
                        settings={"host": "localhost", "port": fakes.smtp.port, "security": "starttls",
                                  "from_address": MAILBOX, "from_name": "Shop Orders"})


def _postmark(fakes: Fakes) -> ProviderSpec:
    server = next(iter(fakes.postmark.servers.values()), None) or fakes.postmark.add_server(
        "Shop", signatures=[MAILBOX])
    return ProviderSpec(key="postmark-main", kind="postmark",
                        credentials={"server_token": server.token, "account_token": server.account_token})


def _twilio(fakes: Fakes) -> ProviderSpec:
    return ProviderSpec(key="twilio-main", kind="twilio", name="Shop line",
                        credentials={"account_sid": fakes.twilio.account.sid,
                                     "auth_token": fakes.twilio.account.auth_token})


def _email(provider: str) -> dict[str, Any]:
    return {"key": "thanks", "stage": "paid", "kind": "email", "name": "Thank you",
            "config": {"provider": provider, "subject": "Order #{{ order.number }} is paid",
                       "text": "Thank you, {{ customer.first_name }}"}}


KINDS = {
    "smtp": Kind(_smtp, (_email("smtp-main"),)),
    "postmark": Kind(_postmark, (_email("postmark-main"),)),
    "twilio": Kind(_twilio, (
        {"key": "texted", "stage": "awaiting-payment", "kind": "sms", "name": "Reminder by SMS",
         "config": {"provider": "twilio-main", "text": "Order {{ order.number }}: please pay"}},
        {"key": "called", "stage": "awaiting-payment", "kind": "call", "name": "Reminder by phone",
         "after_previous": True, "config": {"text": "Please pay your order", "voice": "Polly.Marlene"}},
    )),
}


@pytest.fixture
async def fakes(tmp_path: Path) -> AsyncIterator[Fakes]:
    async with FakeSmtp(tls_dir=tmp_path, users={SMTP_USER: SMTP_PASSWORD}) as smtp, FakePostmark() as postmark, \
            FakeTwilio() as twilio:
        twilio.account.add_number(SHOP_NUMBER, "Shop line")
        yield Fakes(smtp, postmark, twilio)


@pytest.fixture
async def two(settings, fakes: Fakes, tmp_path: Path, migrated: MigratedDatabases
              ) -> AsyncIterator[tuple[EngineStack, EngineStack]]:
    """The installation the configuration comes from, and another one: its own database (of the same kind),
    encryption key, URL and Saleor."""
    providers = {"allow_loopback_targets": True, "smtp_ca_bundle": str(fakes.smtp.ca_file),
                 "postmark_api_base_url": fakes.postmark.base_url, "twilio_api_base_url": fakes.twilio.base_url}
    kind = "sqlite" if settings.database_url.startswith("sqlite") else "postgres"
    (tmp_path / "second").mkdir()
    with provisioned_database(kind, tmp_path / "second", migrated) as second_url:
        second = app_settings(second_url, tmp_path / "second")
        assert second.encryption_keys != settings.encryption_keys
        async for source in engine_stack(settings.model_copy(update=providers)):
            async for target in engine_stack(second.model_copy(update=providers)):
                yield source, target


async def set_up(stack: EngineStack, fakes: Fakes, kind: Kind) -> ProviderSpec:
    """The merchant's work on the first installation: the provider, rules that send through it, a trigger."""
    spec = kind.spec(fakes)
    view = await stack.container.providers.connect(stack.installation.id, spec)
    assert view.account.status is ProviderStatus.CONNECTED, view.account.status_message
    for rule in kind.rules:
        await stack.rule(**rule)
    await stack.container.configure.add_custom_stage(stack.installation.id, "on-hold", "On hold", ["UNFULFILLED"])
    await stack.container.configure.save_trigger(stack.installation.id, TriggerSpec(
        key="hold", stage="on-hold", event="order_fully_paid"))
    return spec


async def export(stack: EngineStack) -> str:
    return dump_config(await stack.container.configure.export_config(stack.installation.id))


async def assert_same_and_sending(source: EngineStack, target: EngineStack, kind: Kind) -> None:
    """The other installation ends with the same configuration (providers' settings, stages, rules, triggers) and
    its providers connected, so that each enabled client rule passes the one policy."""
    assert await export(target) == await export(source)
    views = await target.container.providers.list(target.installation.id)
    assert [view.account.status for view in views] == [ProviderStatus.CONNECTED]
    connected = await target.container.providers.connected(target.installation.id)
    async with target.container.automation.reading() as tx:
        rules = {rule.key: rule for rule in await tx.all_rules(target.installation.id)}
    sending = [rules[rule["key"]] for rule in kind.rules]
    assert all(rule.enabled and rule.kind in PROVIDERS_OF_KIND for rule in sending)
    assert [provider_problem(rule.kind, rule.enabled, rule.config, connected) for rule in sending] == \
        [None] * len(sending)


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("kind", KINDS)
async def test_an_export_imports_into_another_installation_with_the_operators_variables(
        two: tuple[EngineStack, EngineStack], fakes: Fakes, tmp_path: Path, kind: str) -> None:
    source, target = two
    spec = await set_up(source, fakes, KINDS[kind])
    file = tmp_path / "automation.yaml"
    exported = await invoke(source, "export", "--saleor-api-url", source.saleor.api_url, "--output", str(file))
    assert exported.exit_code == 0, exported.output
    text = file.read_text()
    assert all(value not in text for value in spec.credentials.values())  # credentials never leave
    variables = {reference_name(spec.key, name): value for name, value in spec.credentials.items()}
    assert all(f"${{{name}}}" in text for name in variables)

    before = fakes.calls(spec.kind)
    applied = await config_import(target, file, **variables)
    assert applied.exit_code == 0, applied.output
    assert f"provider {spec.key}: added, connected" in applied.stdout
    assert fakes.calls(spec.kind) > before  # checked with a real call before anything was written
    await assert_same_and_sending(source, target, KINDS[kind])


async def api(stack: EngineStack, method: str, path: str, *, content: str | None = None,
              json: Any = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=stack.container.settings.app_url) as client:
        return await client.request(method, f"/api/v1{path}", content=content, json=json,
                                    headers=stack.dashboard_headers())


@pytest.mark.parametrize("kind", KINDS)
async def test_over_the_api_the_provider_is_connected_first_then_the_file_imports(
        two: tuple[EngineStack, EngineStack], fakes: Fakes, kind: str) -> None:
    source, target = two
    spec = await set_up(source, fakes, KINDS[kind])
    text = (await api(source, "GET", "/config")).text
    empty = await export(target)

    refused = await api(target, "PUT", "/config", content=text)
    assert refused.status_code == 422, refused.text
    message = refused.json()["error"]["message"]
    assert all(f"providers[0].credentials.{name}: {THROUGH_THE_APP}" in message for name in spec.credentials)
    assert await export(target) == empty and await target.container.providers.list(target.installation.id) == []

    [provider] = (await api(source, "GET", "/providers")).json()  # the documented path: connect it, then import
    connected = await api(target, "PUT", f"/providers/{spec.key}", json={
        "kind": spec.kind, "name": spec.name, "credentials": spec.credentials, "settings": provider["settings"]})
    assert connected.status_code == 200 and connected.json()["status"] == "connected", connected.text
    imported = await api(target, "PUT", "/config", content=text)
    assert imported.status_code == 200, imported.text
    await assert_same_and_sending(source, target, KINDS[kind])
