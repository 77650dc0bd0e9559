"""What the command-line tools share: settings with logging, finding an installation, clean refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import typer

from saleor_app.settings import Settings

if TYPE_CHECKING:  # the app is built when a command runs, not when the CLI starts
    from saleor_app.domain.installations import Installation
    from saleor_app.wiring import Container

URL_HELP = "The installation's Saleor API URL, exactly as installed, e.g. https://shop.example/graphql/."


class CommandRefused(Exception):
    """The command cannot do what was asked: the message is printed and the process exits with `code`."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def load_settings() -> Settings:
    from saleor_app.logs import configure_logging

    try:
        settings = Settings()
    except ValueError as exc:
        typer.echo(f"Configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc
    configure_logging(settings.log_level, settings.log_format)
    return settings


async def find_installation(container: Container, api_url: str) -> Installation:
    installation = await container.installations.get_by_url(api_url)
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
    try:
        asyncio.run(work)
    except CommandRefused as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(exc.code) from None
