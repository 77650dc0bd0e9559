"""Application settings: the only module that reads the environment."""

from __future__ import annotations

import ipaddress
import os
import re
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class AppEnv(StrEnum):
    DEV = "dev"
    TEST = "test"
    PRODUCTION = "production"


DEV_DASHBOARD_ORIGINS = "https://*.saleor.cloud http://localhost:* http://127.0.0.1:*"
PRODUCTION_DASHBOARD_ORIGINS = "https://*.saleor.cloud"
# Production refuses an ALLOWED_SALEOR_URLS that accepts any of these: a loopback Saleor, the cloud metadata
# address, and a host nobody listed. A pattern that does is a catch-all, whatever it looks like.
CATCH_ALL_PROBES = ("http://127.0.0.1/graphql/", "http://169.254.169.254/graphql/", "https://unlisted.example/graphql/")


class Settings(BaseSettings):
    """Every setting the app reads; the README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")
    _default_dashboard_origins: bool = PrivateAttr(False)  # production, DASHBOARD_ORIGINS unset: warned at start-up

    app_env: AppEnv = AppEnv.DEV
    app_url: str = Field(
        "http://localhost:3000",
        description="Public base URL of the app as the merchant's browser reaches it (manifest, page, logo).",
    )
    app_api_base_url: str | None = Field(
        None, description="Base URL Saleor's server calls (register, webhooks); defaults to APP_URL."
    )
    data_dir: Path = Field(Path("data"), validate_default=True,
                           description="the SQLite database (unless DATABASE_URL says otherwise) and the dev "
                                       "encryption key; relative to the directory the command runs in")
    database_url: str = Field("", description="unset: SQLite at DATA_DIR/app.db")
    allowed_saleor_urls: str | None = Field(
        None, description="Regex a Saleor API URL must fully match to register; unset means any (dev only). A host "
                          "it writes out literally may resolve to a private address."
    )
    allow_loopback_targets: bool | None = Field(
        None, description="Whether Saleor, providers and URLs merchants type may be on loopback (127.0.0.1, ::1, "
                          "localhost). Unset: yes in dev, no otherwise; refused in production."
    )
    register_attempts_per_minute: int = Field(10, ge=0, description="POST /api/register attempts per client "
                                                                     "address and minute, per process; 0: no limit")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Addresses or CIDR blocks of reverse proxies whose X-Forwarded-For names "
                                          "the client (comma-separated)."
    )
    encryption_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"
    log_format: str = Field("json", pattern="^(json|text)$")

    webhook_max_body_bytes: int = 1_000_000
    request_max_body_bytes: int = Field(1_000_000, ge=1024, description="body cap of routes without their own")
    request_body_timeout_seconds: float = Field(30.0, gt=0, description="a body not received by then gets 408")
    jwks_refetch_interval_seconds: float = 60.0
    installation_cache_seconds: float = 5.0
    saleor_timeout_seconds: float = 10.0
    sync_webhooks_on_startup: bool = True
    uninstalled_data_retention_days: int = 30
    maintenance_interval_seconds: float = 3600.0
    job_lease_seconds: float = Field(300.0, gt=0, description="a running job not finished by then was interrupted")
    runner_concurrency: int = Field(8, ge=1, le=256)
    runner_mode: str = Field("process", pattern="^(process|inline)$",
                             description="with JOB_RUNNER=inprocess, where `serve` runs the runner and background "
                                         "tasks: process (a child process of its own, so the engine's work never "
                                         "delays webhooks) or inline (on the web process's event loop)")
    runner_shutdown_grace_seconds: float = Field(10.0, ge=0, description="on shutdown, how long running jobs may "
                                                 "take to finish before they are left to lease recovery")
    # The catch-up poller (lost webhooks): its interval (0: off), the re-check of unfinished orders (0: never), and
    # how far before its checkpoint each scan starts (Saleor's updatedAt is not monotonic).
    catch_up_interval_seconds: float = Field(60.0, ge=0)
    catch_up_recheck_seconds: float = Field(900.0, ge=0)
    catch_up_overlap_seconds: float = Field(120.0, ge=0)
    # Turning stored webhooks into moves (engine/order_events.py): re-reads of one installation's Saleor in flight
    # at once, orders per re-read (Saleor pages at most 100), and how long an order's webhooks must have been
    # quiet before its one re-read (Saleor sends a mutation's ~13 webhooks one after another). 1, 1 and 0: one
    # order at a time, as the engine once worked.
    inbox_concurrency: int = Field(4, ge=1, le=64, description="re-reads in flight per installation")
    inbox_batch_size: int = Field(100, ge=1, le=100, description="orders per re-read")
    inbox_settle_ms: float = Field(5.0, ge=0, le=10_000, description="quiet time before an order's re-read")

    # Scale-out (issue 8): who runs jobs, the Celery broker, the dispatcher, PostgreSQL's pool, retention.
    job_runner: str = Field("inprocess", pattern="^(inprocess|celery)$",
                            description="inprocess: the app runs jobs (see RUNNER_MODE); celery: Celery workers do")
    celery_broker_url: str | None = Field(None, description="redis://host:6379/0 or amqp://user:pass@host:5672//")
    celery_queue: str = Field("saleor-automation", min_length=1, max_length=200)
    dispatcher_enabled: bool = Field(True, description="with JOB_RUNNER=celery, `serve` also runs a dispatcher")
    dispatch_batch_size: int = Field(64, ge=1, le=500, description="job ids per broker message")
    dispatch_resend_seconds: float = Field(300.0, gt=0, description="a sent job not started by then is sent again")
    dispatch_idle_seconds: float = Field(0.5, gt=0, description="longest sleep of the dispatcher between looks")
    database_pool_size: int = Field(10, ge=1, le=500, description="PostgreSQL connections kept per process")
    database_max_overflow: int = Field(10, ge=0, le=500)
    database_pool_timeout_seconds: float = Field(30.0, gt=0)
    database_pool_recycle_seconds: float = Field(1800.0, gt=0)
    activity_retention_days: int = Field(0, ge=0, description="activity older than this is deleted; 0: kept")
    inbox_retention_days: int = Field(30, ge=0, description="handled webhook bodies older than this are deleted; "
                                                            "0: kept")

    outbound_timeout_seconds: float = 10.0
    outbound_max_response_bytes: int = 5_000_000

    # The embedded Dashboard page (issue 9): who may frame it (CSP frame-ancestors sources, space-separated).
    dashboard_origins: str = Field(
        DEV_DASHBOARD_ORIGINS,
        pattern=r"^[^;,\r\n]+$",
        description="origins of the Saleor Dashboards that embed the app; add your self-hosted Dashboard's origin. "
                    f"Default: {DEV_DASHBOARD_ORIGINS!r}, in production {PRODUCTION_DASHBOARD_ORIGINS!r}",
    )

    # Client email (issue 5)
    postmark_api_base_url: str = Field("https://api.postmarkapp.com/",
                                       description="Postmark's API; point it at a sandbox or a local fake")
    postmark_timeout_seconds: float = Field(20.0, gt=0)
    postmark_threads: int = Field(8, ge=1, le=64, description="postmarker is synchronous: its bounded thread pool")
    smtp_timeout_seconds: float = Field(30.0, gt=0)
    smtp_ca_bundle: str | None = Field(None, description="extra CA certificates (PEM file) to trust for SMTP TLS")
    email_reconcile_interval_seconds: float = Field(60.0, ge=0, description="unknown Postmark sends looked up; 0: off")

    # SMS and calls through Twilio (issue 6)
    twilio_api_base_url: str | None = Field(None, description="Twilio's API hosts rewritten to this base URL "
                                                              "(a sandbox or a local fake); unset: Twilio itself")
    twilio_connect_timeout_seconds: float = Field(5.0, gt=0)
    twilio_read_timeout_seconds: float = Field(15.0, gt=0, description="after this, a send's outcome is unknown")
    twilio_threads: int = Field(8, ge=1, le=64, description="the twilio library is synchronous: its thread pool")
    twilio_reconcile_interval_seconds: float = Field(60.0, ge=0, description="how often sends whose outcome is "
                                                   "unknown are looked up in Twilio (0: off)")

    reconcile_settle_seconds: float = Field(120.0, gt=0, description="how long after an unknown send its "
                                            "provider's records are trusted to show it: it is looked up after that")

    provider_retry_interval_seconds: float = Field(300.0, ge=0, description="how often provider callbacks an "
                                                   "import could not register are tried again (0: off)")

    # Failure alerts (issue 10): the daily digest and Saleor app problems are checked this often (0: off).
    alerts_interval_seconds: float = Field(300.0, ge=0, description="how often dead and unknown jobs are checked "
                                           "for the daily digest and reported to Saleor as app problems (0: off)")

    @field_validator("encryption_keys", "trusted_proxies", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # Resolved once: every message names the same directory, whatever a command does with the working directory
        return value.expanduser().absolute()

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.partition(":")[0].lower()
        if value and scheme.split("+")[0] not in {"sqlite", "postgresql", "postgres"}:
            # the scheme only: the rest of the URL may hold a password
            raise ValueError(f"DATABASE_URL must be sqlite:///path/app.db or postgresql://user:password@host/name; "
                             f"{scheme or 'this URL'!r} databases are not supported")
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _fernet_keys(cls, value: list[str]) -> list[str]:
        for position, key in enumerate(value, start=1):
            try:
                Fernet(key.encode())
            except ValueError:
                raise ValueError(f"ENCRYPTION_KEYS: key {position} of {len(value)} is not a Fernet key (32 url-safe "
                                 "base64-encoded bytes); create one with `saleor-automation generate-key`") from None
        return value

    @field_validator("app_url", "app_api_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("allowed_saleor_urls")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"ALLOWED_SALEOR_URLS is not a valid regular expression: {exc}") from exc
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR block") from exc
        return value

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'app.db'}"
        if self.app_env is AppEnv.PRODUCTION:
            if "dashboard_origins" not in self.model_fields_set:
                self.dashboard_origins = PRODUCTION_DASHBOARD_ORIGINS  # no localhost Dashboard in production
                self._default_dashboard_origins = True
            if not self.encryption_keys:
                raise ValueError(
                    "APP_ENV=production needs ENCRYPTION_KEYS (comma-separated Fernet keys; create one with "
                    "`saleor-automation generate-key`)."
                )
            if self.allowed_saleor_urls is None:
                raise ValueError(
                    "APP_ENV=production needs ALLOWED_SALEOR_URLS, a regex of the Saleor API URLs that may "
                    r"install the app, e.g. 'https://my-shop\.saleor\.cloud/graphql/'."
                )
            pattern = re.compile(self.allowed_saleor_urls)
            caught = next((probe for probe in CATCH_ALL_PROBES if pattern.fullmatch(probe)), None)
            if caught is not None:
                raise ValueError(
                    f"ALLOWED_SALEOR_URLS accepts any Saleor (it matches {caught}), and production refuses a "
                    "catch-all: list the Saleor API URLs that may install the app, e.g. "
                    r"'https://(shop-a|shop-b)\.saleor\.cloud/graphql/'."
                )
            if self.allow_loopback_targets:
                raise ValueError("ALLOW_LOOPBACK_TARGETS is for development and tests and is refused in production.")
        for name, url in (("POSTMARK_API_BASE_URL", self.postmark_api_base_url),
                          ("TWILIO_API_BASE_URL", self.twilio_api_base_url)):
            if url is not None and _on_loopback(url) and not self.loopback_allowed:
                raise ValueError(f"{name} points at loopback ({url}); that needs ALLOW_LOOPBACK_TARGETS=true "
                                 "(development and tests only).")
        if self.job_runner == "celery":
            if not self.celery_broker_url:
                raise ValueError("JOB_RUNNER=celery needs CELERY_BROKER_URL (redis://host:6379/0 or "
                                 "amqp://user:password@host:5672//).")
            if not self.database_url.startswith(("postgresql://", "postgres://", "postgresql+")):
                raise ValueError("JOB_RUNNER=celery needs PostgreSQL (DATABASE_URL=postgresql://…): Celery workers "
                                 "in other processes and machines share the schedule; SQLite serves one process.")
        return self

    @property
    def api_base_url(self) -> str:
        return self.app_api_base_url or self.app_url

    @property
    def runner_has_own_process(self) -> bool:
        """Whether `serve` runs the job runner in a child process (the embedded default) rather than inline."""
        return self.job_runner == "inprocess" and self.runner_mode == "process"

    @property
    def loopback_allowed(self) -> bool:
        """ALLOW_LOOPBACK_TARGETS, or its default: yes in dev only."""
        if self.allow_loopback_targets is not None:
            return self.allow_loopback_targets
        return self.app_env is AppEnv.DEV

    def relaxed_guards(self) -> list[str]:
        """A sentence for each protection this configuration relaxes, logged as a warning at start-up."""
        relaxed = []
        if self.loopback_allowed:
            how = "ALLOW_LOOPBACK_TARGETS=true" if self.allow_loopback_targets else "the dev default"
            relaxed.append(f"Saleor, providers and merchant URLs may be on loopback ({how}); production refuses it")
        if self.allowed_saleor_urls is None:
            relaxed.append("any Saleor may install the app (ALLOWED_SALEOR_URLS is unset); production refuses it")
        if self.register_attempts_per_minute == 0:
            relaxed.append("install attempts are not rate-limited (REGISTER_ATTEMPTS_PER_MINUTE=0)")
        if self._default_dashboard_origins:
            relaxed.append(f"DASHBOARD_ORIGINS is unset: only the default {PRODUCTION_DASHBOARD_ORIGINS!r} may frame "
                           "the app's page; set it to your Dashboard's origin if it is elsewhere")
        return relaxed

    @cached_property
    def allowed_saleor_url_pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.allowed_saleor_urls) if self.allowed_saleor_urls is not None else None


def settings_problems(error: ValidationError) -> list[str]:
    """What is wrong with the settings, one line each, naming the variable and never its value: pydantic's own
    rendering repeats the input, and the input is every setting, secrets included."""
    lines = []
    for problem in error.errors(include_url=False, include_input=False, include_context=False):
        message = problem["msg"].removeprefix("Value error, ")
        name = str(problem["loc"][0]).upper() if problem["loc"] else ""
        lines.append(message if not name or message.startswith(name) else f"{name}: {message}")
    return lines


def _on_loopback(url: str) -> bool:
    """Whether a configured URL names this machine outright (a provider's API pointed at a local fake)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def environment_variable(name: str) -> str | None:
    """A `${NAME}` reference of the automation-as-code file (provider credentials), read when it is imported."""
    return os.environ.get(name)
