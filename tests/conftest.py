"""Shared fixtures: databases (SQLite and PostgreSQL), settings, the app container, required resources."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet

from saleor_app.settings import AppEnv, Settings
from tests import secret_watch
from tests.databases import MigratedDatabases, schema_url
from tests.timing import SCALE, scaled

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SALEOR_SHARED_DIR", REPO.parent / "shared"))
SCHEMA_PATH = Path(os.environ.get("SALEOR_SCHEMA_PATH", SHARED / "saleor" / "schema.graphql"))
SAMPLES = SHARED / "saleor" / "samples"
# What a skip says when they are missing: where to get them.
SCHEMA_HOW = ("put the project's shared/ folder beside the checkout, or set SALEOR_SCHEMA_PATH to Saleor 3.23's "
              "schema.graphql (saleor/graphql/schema.graphql at a 3.23 tag of saleor/saleor, or a running Saleor's "
              "introspection printed as SDL)")
SAMPLES_HOW = "put the project's shared/ folder (with saleor/samples/) beside the checkout, or set SALEOR_SHARED_DIR"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, reason: str) -> None:
    """Skip when a resource is missing on a developer's machine; in CI a missing resource is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must run this test but: {reason}")
    pytest.skip(reason)


def _postgres_reachable() -> str | None:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=2) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return None


_PG_PROBLEM: list[str | None] = []


def postgres_problem() -> str | None:
    if not _PG_PROBLEM:
        _PG_PROBLEM.append(_postgres_reachable())
    return _PG_PROBLEM[0]


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedDatabases]:
    databases = MigratedDatabases(tmp_path_factory.mktemp("templates"), POSTGRES_URL)
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, migrated: MigratedDatabases) -> Iterator[str]:
    """A migrated, empty database: SQLite in a temp dir, or a fresh schema in PostgreSQL."""
    with provisioned_database(request.param, tmp_path, migrated) as url:
        yield url


@contextmanager
def provisioned_database(kind: str, directory: Path, migrated: MigratedDatabases) -> Iterator[str]:
    """`database_url` for fixtures of a wider scope: "sqlite" (a file in `directory`) or "postgres"."""
    if kind == "sqlite":
        yield migrated.sqlite(directory / "app.db")
        return
    problem = postgres_problem()
    require(problem is None, f"PostgreSQL at {POSTGRES_URL} is not reachable ({problem}); start one (apt-get install "
                             "postgresql) or point TEST_POSTGRES_URL at a database the tests may create schemas in")
    schema = migrated.postgres_schema()
    try:
        yield schema_url(POSTGRES_URL, schema)
    finally:
        migrated.drop_schema(schema)


# How long the app waits for the local fakes (Saleor, Postmark, SMTP, Twilio, outside URLs): the production
# defaults, stretched like every other ceiling in the suite. A test that needs one of them to fire holds the fake's
# answer instead (tests/fakes/holding.py), so none of these is ever the verdict.
APP_TIMEOUTS = {
    "saleor_timeout_seconds": scaled(10), "outbound_timeout_seconds": scaled(10),
    "postmark_timeout_seconds": scaled(20), "smtp_timeout_seconds": scaled(30),
    "twilio_connect_timeout_seconds": scaled(5), "twilio_read_timeout_seconds": scaled(15),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests share one app, one Chromium and one page per package: pytest-xdist keeps them together on
    one worker (`--dist loadgroup`), in their order, while the other workers take the rest."""
    browser = REPO / "tests" / "browser"
    for item in items:
        if browser in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    """No known secret (tests/secret_watch.py) shows in what a test saw: a test whose output shows one fails, unless
    it is marked `shows_secret` with the reason its owner is deliberately shown it."""
    outcome = yield
    report = outcome.get_result()
    phase = [(name, text) for name, text in report.sections if name.endswith(f" {call.when}")]
    found = secret_watch.leaks(phase)
    if call.when == "teardown":
        secret_watch.forget_test_secrets()
    if found and not report.failed and item.get_closest_marker("shows_secret") is None:
        report.outcome = "failed"
        report.longrepr = "A known secret showed in the test's output:\n  " + "\n  ".join(sorted(set(found)))


def pytest_report_header() -> str:
    return f"timeouts scaled by {SCALE:g} (TEST_TIMEOUT_SCALE, else from the load average at start)"


# The fake Saleors listen on 127.0.0.1: naming that host lets the app call them, as an operator names a private
# Saleor; merchant URLs and providers on loopback stay refused unless a test allows loopback.
FAKE_SALEOR_URLS = r"http://127\.0\.0\.1:\d+/graphql/"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return app_settings(database_url, tmp_path)


def app_settings(database_url: str, data_dir: Path, *, lasting: bool = False) -> Settings:
    """The app's settings in the tests (the `settings` fixture), for fixtures of a wider scope too (`lasting`: its
    key is watched for beyond the test that made it)."""
    key = Fernet.generate_key().decode()
    secret_watch.remember(key, "the ENCRYPTION_KEYS key", lasting=lasting)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        app_env=AppEnv.TEST,
        app_url="http://localhost:3000",
        database_url=database_url,
        data_dir=data_dir,
        encryption_keys=[key],
        sync_webhooks_on_startup=False,
        log_format="text",
        allowed_saleor_urls=FAKE_SALEOR_URLS,
        **APP_TIMEOUTS,
    )


class SwitchableTransport(httpx.AsyncBaseTransport):
    """Stands in for Saleor's JWKS endpoint; tests swap `handler` and read `requests`."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.handler: Callable[[httpx.Request], httpx.Response] = lambda request: httpx.Response(503)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


@pytest.fixture
def saleor_http() -> SwitchableTransport:
    return SwitchableTransport()


@pytest.fixture
async def container(settings: Settings, saleor_http: SwitchableTransport) -> AsyncIterator[object]:
    from saleor_app.wiring import build_container

    built = build_container(settings, saleor_transport=saleor_http)
    try:
        yield built
    finally:
        await built.aclose()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI configures the root logger for its run; put pytest's handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
