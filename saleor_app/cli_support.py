"""What the command-line tools share: settings with logging, a ready database, finding an installation, clean
refusals."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

import typer

from saleor_app.settings import Settings, settings_problems

if TYPE_CHECKING:  # the app is built when a command runs, not when the CLI starts
    from saleor_app.domain.installations import Installation
    from saleor_app.wiring import Container

log = logging.getLogger(__name__)
URL_HELP = "The installation's Saleor API URL, exactly as installed, e.g. https://shop.example/graphql/."


class CommandRefused(Exception):
    """The command cannot do what was asked: the message is printed and the process exits with `code`."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def load_settings(*, human: bool = True) -> Settings:
    """The settings, or a short refusal naming each wrong variable (never its value: some are secrets).

    `human`: the command prints for a person, so its logs are plain text and only warnings unless LOG_LEVEL asks
    for more; a server's (`human=False`) are its output and follow LOG_FORMAT."""
    from pydantic import ValidationError

    from saleor_app.logs import configure_logging

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = settings_problems(exc)
        typer.echo("Configuration error: " + "\n  ".join(problems if len(problems) == 1 else ["", *problems]),
                   err=True)
        raise typer.Exit(2) from None
    if human:
        level = settings.log_level if "log_level" in settings.model_fields_set else "WARNING"
        configure_logging(level, "text")
    else:
        configure_logging(settings.log_level, settings.log_format)
    return settings


@contextmanager
def plainly() -> Iterator[None]:
    """A check that fails, or a database that refuses, ends the command with its short message, no traceback."""
    from sqlalchemy.exc import DBAPIError

    from saleor_app.preflight import NotReady, database_problem

    try:
        yield
    except NotReady as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except DBAPIError as exc:
        typer.echo(database_problem(exc), err=True)
        raise typer.Exit(2) from None


def refuse_unless_ready(settings: Settings, *, migrate: bool = False) -> str:
    """Stop with a short message unless the database can be used (`migrate`: after migrating it; otherwise it must
    exist and be migrated) and the encryption key reads its secrets. Returns where the key comes from."""
    from saleor_app.preflight import check_migrated, check_reachable, key_in_use

    with plainly():
        check_reachable(settings, create=migrate)
        key = key_in_use(settings)
        if migrate:
            from saleor_app.store.migrate import upgrade

            upgrade(settings.database_url)
        check_migrated(settings)
        return key


def announce(settings: Settings, key: str) -> None:
    """A server's first lines: which database and key it uses (no secret), and each protection relaxed."""
    from saleor_app.preflight import shown
    from saleor_app.store.database import sync_url

    database = shown(sync_url(settings.database_url))
    log.info("database %s, encryption key from %s", database, key, extra={"database": database, "key_source": key})
    for relaxed in settings.relaxed_guards():
        log.warning("relaxed guard: %s", relaxed, extra={"guard": relaxed})


def command_settings() -> Settings:
    """The settings of a command that acts on the existing database (config, providers, backfill)."""
    settings = load_settings()
    refuse_unless_ready(settings)
    return settings


async def find_installation(container: Container, api_url: str) -> Installation:
    installation = await container.installations.get_by_url(api_url)
    if installation is None and api_url:  # typed without (or with) the trailing slash it was installed with
        other = api_url[:-1] if api_url.endswith("/") else api_url + "/"
        installation = await container.installations.get_by_url(other)
    if installation is None:
        known = [i.saleor_api_url for i in await container.installations.list_active()]
        raise CommandRefused(2, f"The app is not installed in the Saleor at {api_url}. Give the API URL exactly as "
                         f"installed; known: {', '.join(known) or 'none'}")
    return installation


@asynccontextmanager
async def opened(settings: Settings, api_url: str) -> AsyncIterator[tuple[Container, Installation]]:
    """The app's container and the installation a command acts on; the container is closed afterwards."""
    from saleor_app.wiring import build_container

    container = build_container(settings)
    try:
        yield container, await find_installation(container, api_url)
    finally:
        await container.aclose()


def run(work: Coroutine[Any, Any, None]) -> None:
    from sqlalchemy.exc import DBAPIError

    try:
        asyncio.run(work)
    except CommandRefused as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(exc.code) from None
    except DBAPIError as exc:  # every write is a transaction: what the database refused was rolled back
        from saleor_app.preflight import driver_reason

        typer.echo(f"The database refused: {driver_reason(exc)}\nWhat it refused was rolled back; fix the database "
                   "and run the command again.", err=True)
        raise typer.Exit(1) from None
