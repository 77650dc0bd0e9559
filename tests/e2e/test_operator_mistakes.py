"""An operator's mistakes, made as the operator makes them (the CLI in a process of its own, in some directory):
each gets a short message saying what is wrong and what to do, a non-zero exit, no traceback, no secret, and
nothing created or changed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from saleor_app.settings import Settings
from tests.cli_runs import PASSED_ON, run_cli
from tests.conftest import POSTGRES_URL, postgres_problem, require
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.fakes.loopback import free_port
from tests.secret_watch import observe, remember
from tests.timing import eventually, scaled

DB_PASSWORD = "pw-" + uuid.uuid4().hex  # in the URLs of databases that are never reached


def short_refusal(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The run failed (exit 2) saying each needle in at most three lines, with no traceback."""
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output and len(output.strip().splitlines()) <= 3, output
    for needle in needles:
        assert needle in output, output
    return output


def fresh_env(directory: Path, **env: str) -> dict[str, str]:
    return {"APP_ENV": "test", "DATA_DIR": str(directory / "data"), **env}


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings):
        yield built


def test_settings_errors_name_the_variable_and_never_show_a_secret(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    remember(key, "the ENCRYPTION_KEYS key")
    remember(DB_PASSWORD, "the database password")
    done = run_cli(["migrate"], cwd=tmp_path, env={
        "APP_ENV": "production", "ENCRYPTION_KEYS": key, "DATABASE_URL": f"postgresql://app:{DB_PASSWORD}@db/app"})
    output = short_refusal(done, "Configuration error: APP_ENV=production needs ALLOWED_SALEOR_URLS")
    assert key[-8:] not in output and DB_PASSWORD[-8:] not in output and "input_value" not in output


@pytest.mark.parametrize(("env", "needles"), [
    ({"ENCRYPTION_KEYS": "not-a-key"}, ("ENCRYPTION_KEYS: key 1 of 1 is not a Fernet key", "generate-key")),
    ({"DATABASE_URL": f"mysql://app:{DB_PASSWORD}@db/app"}, ("DATABASE_URL must be sqlite", "'mysql'")),
    ({"LOG_FORMAT": "yaml"}, ("LOG_FORMAT: String should match",)),
])
@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_bad_settings_stop_a_command_before_the_database_is_touched(
        tmp_path: Path, command: str, env: dict[str, str], needles: tuple[str, ...]) -> None:
    remember(DB_PASSWORD, "the database password")
    done = run_cli([command, "--port", str(free_port())] if command == "serve" else [command], cwd=tmp_path,
                   env=fresh_env(tmp_path, **env))
    short_refusal(done, "Configuration error:", *needles)
    assert list(tmp_path.iterdir()) == []  # no data directory, no database, no key


@pytest.mark.parametrize("command", [["migrate"], ["serve"], ["config", "export", "--saleor-api-url", "x"]])
def test_an_unreachable_postgresql_is_one_message_without_its_password(tmp_path: Path, command: list[str]) -> None:
    remember(DB_PASSWORD, "the database password")
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    done = run_cli([*command, "--port", str(free_port())] if command == ["serve"] else command, cwd=tmp_path,
                   env=fresh_env(tmp_path, DATABASE_URL=f"postgresql://app:{DB_PASSWORD}@127.0.0.1:{port}/app"))
    short_refusal(done, f"Cannot use the database at postgresql://app:***@127.0.0.1:{port}/app",
                  "Check DATABASE_URL and that the database server is running.")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
def test_a_missing_postgresql_database_says_how_to_create_it(tmp_path: Path) -> None:
    problem = postgres_problem()
    require(problem is None, f"PostgreSQL at {POSTGRES_URL} is not reachable ({problem})")
    name = f"missing_{uuid.uuid4().hex[:12]}"
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    done = run_cli(["migrate"], cwd=tmp_path, env=fresh_env(tmp_path, DATABASE_URL=url))
    short_refusal(done, f'database "{name}" does not exist', f"Create it (createdb {name}) or correct DATABASE_URL.")


def test_a_command_run_elsewhere_creates_nothing_and_says_where_it_looked(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {name: value for name, value in fresh_env(tmp_path).items() if name != "DATA_DIR"}
    done = run_cli(["config", "export", "--saleor-api-url", "https://shop.example/graphql/"], cwd=elsewhere,
                   env=env)
    short_refusal(done, f"No database at {elsewhere / 'data' / 'app.db'}", "set DATA_DIR or DATABASE_URL")
    assert list(elsewhere.iterdir()) == []
    migrated = run_cli(["migrate"], cwd=elsewhere, env=env)  # the default: ./data of the directory it runs in
    assert migrated.returncode == 0 and (elsewhere / "data" / "app.db").exists(), migrated.stderr
    assert not (elsewhere / "data" / "encryption.key").exists()  # migrating needs no key


def test_a_command_on_an_unmigrated_database_says_to_migrate(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "app.db").touch()
    done = run_cli(["providers", "list", "--saleor-api-url", "https://shop.example/graphql/"], cwd=tmp_path,
                   env=fresh_env(tmp_path))
    short_refusal(done, "is not migrated: run `saleor-automation migrate` first")
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["app.db"]


@pytest.mark.usefixtures("restore_logging")
async def test_no_second_key_is_made_beside_a_database_encrypted_with_another(
        stack: EngineStack, tmp_path: Path) -> None:
    settings = stack.container.settings
    data = settings.data_dir
    env = {"APP_ENV": "test", "DATABASE_URL": settings.database_url, "DATA_DIR": str(data)}
    url = stack.saleor.api_url
    export = ["config", "export", "--saleor-api-url", url]
    no_key = await asyncio.to_thread(run_cli, export, cwd=tmp_path, env=env)
    short_refusal(no_key, "holds secrets encrypted with a key that is not here",
                  f"({data / 'encryption.key'} is missing)")
    assert not (data / "encryption.key").exists()
    (data / "encryption.key").write_text(Fernet.generate_key().decode() + "\n")
    another = await asyncio.to_thread(run_cli, export, cwd=tmp_path, env=env)
    short_refusal(another, "were encrypted with another key than", str(data / "encryption.key"))
    other_keys = await asyncio.to_thread(run_cli, export, cwd=tmp_path,
                                         env={**env, "ENCRYPTION_KEYS": Fernet.generate_key().decode()})
    short_refusal(other_keys, "were encrypted with another key than ENCRYPTION_KEYS (1 key)")
    # the right key, second in the list, and the API URL typed without its trailing slash: the installation
    right = ",".join([Fernet.generate_key().decode(), *settings.encryption_keys])
    found = await asyncio.to_thread(run_cli, ["config", "export", "--saleor-api-url", url.rstrip("/")],
                                    cwd=tmp_path, env={**env, "ENCRYPTION_KEYS": right, "LOG_FORMAT": "json"})
    assert found.returncode == 0 and "stages:" in found.stdout, found.stderr
    assert found.stderr == ""  # no JSON log line (nor any other) beside the human output
    assert await stack.container.installations.get_by_url(url) is not None  # the stored key is unchanged


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_a_database_refusing_the_import_is_a_message_and_nothing_changes(
        stack: EngineStack, tmp_path: Path) -> None:
    settings = stack.container.settings
    before = await stack.container.configure.export_config(stack.installation.id)
    file = tmp_path / "automation.yaml"
    exported = await asyncio.to_thread(run_cli, ["config", "export", "--saleor-api-url", stack.saleor.api_url,
                                                 "--output", str(file)], cwd=tmp_path, env={
        "APP_ENV": "test", "DATABASE_URL": settings.database_url, "ENCRYPTION_KEYS": settings.encryption_keys[0]})
    assert exported.returncode == 0, exported.stderr
    assert "time_zone: UTC" in file.read_text()
    file.write_text(file.read_text().replace("time_zone: UTC", "time_zone: Europe/Berlin"))
    url = make_url(settings.database_url)
    options = f"{url.query.get('options', '')} -c default_transaction_read_only=on".strip()
    read_only = url.update_query_dict({"options": options}).render_as_string(hide_password=False)
    done = await asyncio.to_thread(run_cli, ["config", "import", str(file), "--saleor-api-url", stack.saleor.api_url],
                                   cwd=tmp_path, env={"APP_ENV": "test", "DATABASE_URL": read_only,
                                                      "ENCRYPTION_KEYS": settings.encryption_keys[0]})
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in output, output
    assert "The database refused: cannot execute" in output and "read-only transaction" in output, output
    assert "was rolled back" in output and len(output.strip().splitlines()) <= 3, output
    assert await stack.container.configure.export_config(stack.installation.id) == before


def test_export_into_a_missing_directory_is_refused_before_anything(tmp_path: Path) -> None:
    assert run_cli(["migrate"], cwd=tmp_path, env=fresh_env(tmp_path)).returncode == 0
    target = tmp_path / "nowhere" / "automation.yaml"
    done = run_cli(["config", "export", "--saleor-api-url", "https://shop.example/graphql/", "-o", str(target)],
                   cwd=tmp_path, env=fresh_env(tmp_path))
    short_refusal(done, f"Cannot write {target}: the directory {target.parent} does not exist")
    assert not target.parent.exists()
    into_directory = run_cli(["config", "export", "--saleor-api-url", "https://shop.example/graphql/", "-o",
                              str(tmp_path)], cwd=tmp_path, env=fresh_env(tmp_path))
    short_refusal(into_directory, "it is a directory; give a file name")


def test_a_taken_port_stops_serve_before_the_database_or_any_saleor(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(["serve", "--port", str(port)], cwd=tmp_path, env=fresh_env(tmp_path))
    short_refusal(done, f"Port {port} on 127.0.0.1 is taken", "choose another port with --port or PORT")
    assert list(tmp_path.iterdir()) == []


async def test_serve_says_which_database_and_key_it_uses_and_where_to_install_from(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    env = {name: os.environ[name] for name in PASSED_ON if name in os.environ} | fresh_env(
        tmp_path, LOG_FORMAT="text", APP_URL=f"http://127.0.0.1:{port}", SYNC_WEBHOOKS_ON_STARTUP="false",
        CATCH_UP_INTERVAL_SECONDS="0")
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "saleor_app.cli", "serve", "--port", str(port)],
                                   cwd=tmp_path, env=env, stdout=sink, stderr=sink, start_new_session=True)
    try:
        await eventually(lambda: "Application startup complete" in log.read_text(), within=60,
                         what="serve started")
        key = tmp_path / "data" / "encryption.key"
        remember(key.read_text().strip(), "the dev encryption key")
        text = log.read_text()
        assert f"database sqlite:///{tmp_path / 'data' / 'app.db'}, encryption key from {key} (created now)" in text
        assert f"install the app from http://127.0.0.1:{port}/api/manifest" in text
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=scaled(30))
        observe("the output of `saleor-automation serve`", log.read_text())
