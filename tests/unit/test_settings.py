"""Settings refuse insecure production set-ups and normalise what people type."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from saleor_app.settings import AppEnv, Settings


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_production_refuses_to_start_without_encryption_keys() -> None:
    with pytest.raises(ValidationError, match="ENCRYPTION_KEYS"):
        make(app_env=AppEnv.PRODUCTION, allowed_saleor_urls=r"https://shop\.saleor\.cloud/graphql/")


def test_production_refuses_to_start_without_an_allow_list() -> None:
    with pytest.raises(ValidationError, match="ALLOWED_SALEOR_URLS"):
        make(app_env=AppEnv.PRODUCTION, encryption_keys=[Fernet.generate_key().decode()])


def test_production_refuses_loopback_targets() -> None:
    with pytest.raises(ValidationError, match="ALLOW_LOOPBACK_TARGETS"):
        make(app_env=AppEnv.PRODUCTION, allowed_saleor_urls=r"https://shop\.saleor\.cloud/graphql/",
             encryption_keys=[Fernet.generate_key().decode()], allow_loopback_targets=True)


def test_environment_values_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEYS", f"{key_a}, {key_b}")
    monkeypatch.setenv("APP_URL", "https://automation.example.com/")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16")
    settings = make()
    assert settings.encryption_keys == [key_a, key_b]
    assert settings.app_url == "https://automation.example.com"
    assert settings.api_base_url == "https://automation.example.com"
    assert settings.trusted_proxies == ["10.0.0.1", "192.168.0.0/16"]


def test_api_base_url_can_differ_from_the_browser_url() -> None:
    settings = make(app_url="http://localhost:3000", app_api_base_url="http://host.docker.internal:3000")
    assert settings.api_base_url == "http://host.docker.internal:3000"


@pytest.mark.parametrize("bad", ["localhost:3000", "ftp://x", "/relative"])
def test_app_url_must_be_absolute_http(bad: str) -> None:
    with pytest.raises(ValidationError, match="absolute http"):
        make(app_url=bad)


def test_allow_list_must_be_a_valid_regex_and_matches_whole_urls() -> None:
    with pytest.raises(ValidationError, match="regular expression"):
        make(allowed_saleor_urls="https://(unclosed")
    pattern = make(allowed_saleor_urls=r"https://[a-z0-9-]+\.saleor\.cloud/graphql/").allowed_saleor_url_pattern
    assert pattern is not None
    assert pattern.fullmatch("https://shop.saleor.cloud/graphql/")
    assert not pattern.fullmatch("https://shop.saleor.cloud.evil.example/graphql/")
