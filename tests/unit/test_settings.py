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


def production(**values: object) -> Settings:
    return make(app_env=AppEnv.PRODUCTION, encryption_keys=[Fernet.generate_key().decode()], **values)


@pytest.mark.parametrize("catch_all", [
    ".*", "https?://.*", r"http://[^/]+/graphql/", r"https://.*/graphql/|http://api:8000/graphql/",
    r"http://(127\.0\.0\.1|api):?\d*/graphql/", r"http://169\.254\.169\.254/graphql/",
])
def test_production_refuses_a_catch_all_allow_list(catch_all: str) -> None:
    with pytest.raises(ValidationError, match="production refuses a catch-all") as refused:
        production(allowed_saleor_urls=catch_all)
    assert "'.*'" not in str(refused.value)


def test_production_accepts_listed_saleors_and_its_missing_list_error_suggests_no_catch_all() -> None:
    for listed in (r"https://[a-z0-9-]+\.saleor\.cloud/graphql/", "http://api:8000/graphql/"):
        assert production(allowed_saleor_urls=listed).allowed_saleor_urls == listed
    with pytest.raises(ValidationError, match="ALLOWED_SALEOR_URLS") as missing:
        production()
    assert ".*" not in str(missing.value)


def test_production_frames_only_saleor_cloud_unless_told_and_says_so_at_start_up() -> None:
    default = production(allowed_saleor_urls="http://api:8000/graphql/")
    assert default.dashboard_origins == "https://*.saleor.cloud"
    assert any("DASHBOARD_ORIGINS is unset" in line and "'https://*.saleor.cloud'" in line
               for line in default.relaxed_guards())
    told = production(allowed_saleor_urls="http://api:8000/graphql/", dashboard_origins="https://dash.example.com")
    assert told.dashboard_origins == "https://dash.example.com" and told.relaxed_guards() == []
    assert "http://localhost:*" in make().dashboard_origins  # development keeps the local Dashboard


def test_production_from_the_environment_frames_what_it_is_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_ORIGINS", "http://localhost:9000")
    assert production(allowed_saleor_urls="http://api:8000/graphql/").dashboard_origins == "http://localhost:9000"


def test_loopback_targets_default_to_dev_only_and_every_relaxed_guard_is_named() -> None:
    assert make().loopback_allowed and not make(app_env=AppEnv.TEST).loopback_allowed
    assert make(app_env=AppEnv.TEST, allow_loopback_targets=True).loopback_allowed
    assert not make(allow_loopback_targets=False).loopback_allowed
    relaxed = " | ".join(make(register_attempts_per_minute=0).relaxed_guards())
    for named in ("loopback (the dev default)", "ALLOWED_SALEOR_URLS is unset", "REGISTER_ATTEMPTS_PER_MINUTE=0"):
        assert named in relaxed
    assert "ALLOW_LOOPBACK_TARGETS=true" in " ".join(make(allow_loopback_targets=True).relaxed_guards())


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    with pytest.raises(ValidationError, match="TRUSTED_PROXIES"):
        make(trusted_proxies="proxy.example")


def test_a_provider_api_on_loopback_needs_the_loopback_setting() -> None:
    for name, url in (("twilio_api_base_url", "http://127.0.0.1:9000"), ("postmark_api_base_url", "http://localhost:1/")):
        with pytest.raises(ValidationError, match="ALLOW_LOOPBACK_TARGETS"):
            make(app_env=AppEnv.TEST, **{name: url})
        assert make(app_env=AppEnv.TEST, allow_loopback_targets=True, **{name: url}).loopback_allowed
        assert make(**{name: url}).loopback_allowed  # the dev default
    assert make(app_env=AppEnv.TEST, twilio_api_base_url="https://sandbox.example").twilio_api_base_url
