"""`saleor-automation config export|import`: an installation's automation as a YAML file (automation as code).

Exit codes: 0 done (or nothing to change), 1 the file was refused (every problem is printed with its line and
column; nothing was changed), 2 the command could not run (settings, unknown installation, unreadable file).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from saleor_app.settings import Settings

if TYPE_CHECKING:  # the app is built when a command runs, not when the CLI starts
    from saleor_app.domain.installations import Installation
    from saleor_app.wiring import Container

config_app = typer.Typer(help="Automation as code: export or import an installation's configuration as YAML.",
                         no_args_is_help=True, add_completion=False)

_URL_HELP = "The installation's Saleor API URL, exactly as installed, e.g. https://shop.example/graphql/."


class _Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _settings() -> Settings:
    from saleor_app.logs import configure_logging

    try:
        settings = Settings()
    except ValueError as exc:
        typer.echo(f"Configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc
    configure_logging(settings.log_level, settings.log_format)
    return settings


async def _installation(container: Container, api_url: str) -> Installation:
    installation = await container.installations.get_by_url(api_url)
    if installation is None:
        known = [i.saleor_api_url for i in await container.installations.list_active()]
        raise _Refused(2, f"The app is not installed in the Saleor at {api_url}. Give the API URL exactly as "
                          f"installed; known: {', '.join(known) or 'none'}")
    return installation


def _run(work: Coroutine[Any, Any, None]) -> None:
    try:
        asyncio.run(work)
    except _Refused as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(exc.code) from None


@config_app.command("export")
def export_command(
    saleor_api_url: str = typer.Option(..., "--saleor-api-url", help=_URL_HELP),
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead.")] = None,
) -> None:
    """Print the installation's settings, stages, rules and triggers as YAML."""
    settings = _settings()

    async def work() -> None:
        from saleor_app.domain.config_file import dump_config
        from saleor_app.wiring import build_container

        container = build_container(settings)
        try:
            installation = await _installation(container, saleor_api_url)
            text = dump_config(await container.configure.export_config(installation.id))
        finally:
            await container.aclose()
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            typer.echo(f"written to {output}", err=True)

    _run(work())


@config_app.command("import")
def import_command(
    file: str = typer.Argument(..., help="The YAML file to apply (- reads standard input)."),
    saleor_api_url: str = typer.Option(..., "--saleor-api-url", help=_URL_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the file and show what would change; change nothing."),
) -> None:
    """Check a YAML configuration and make it the installation's, all or nothing."""
    settings = _settings()
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"Cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from exc

    async def work() -> None:
        from saleor_app.domain.config_document import ConfigFileError
        from saleor_app.domain.config_file import parse_config
        from saleor_app.wiring import build_container

        container = build_container(settings)
        try:
            installation = await _installation(container, saleor_api_url)
            try:
                parsed = parse_config(text)
                report = await container.configure.apply_config(installation.id, parsed.document, dry_run=dry_run,
                                                                locate=parsed.locate)
            except ConfigFileError as exc:
                raise _Refused(1, f"{file}: nothing was changed:\n" + "\n".join(f"  {p}" for p in exc.problems)) \
                    from None
        finally:
            await container.aclose()
        typer.echo(("Dry run, nothing was changed. Importing would do this:\n" if dry_run else "")
                   + "\n".join(report.lines()))

    _run(work())
