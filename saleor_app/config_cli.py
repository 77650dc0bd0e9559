"""`saleor-automation config export|import`: an installation's automation as a YAML file (automation as code).

Exit codes: 0 done (or nothing to change), 1 the file was refused (every problem is printed with its line and
column; nothing was changed), 2 the command could not run (settings, unknown installation, unreadable file).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from saleor_app.cli_support import URL_HELP, CommandRefused, command_settings, find_installation, run

config_app = typer.Typer(help="Automation as code: export or import an installation's configuration as YAML.",
                         no_args_is_help=True, add_completion=False)

@config_app.command("export")
def export_command(
    saleor_api_url: str = typer.Option(..., "--saleor-api-url", help=URL_HELP),
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead.")] = None,
) -> None:
    """Print the installation's settings, stages, rules and triggers as YAML."""
    settings = command_settings()
    if output is not None and not output.parent.is_dir():
        typer.echo(f"Cannot write {output}: the directory {output.parent} does not exist (create it first).", err=True)
        raise typer.Exit(2)
    if output is not None and output.is_dir():
        typer.echo(f"Cannot write {output}: it is a directory; give a file name, e.g. {output / 'automation.yaml'}.",
                   err=True)
        raise typer.Exit(2)

    async def work() -> None:
        from saleor_app.domain.config_file import dump_config
        from saleor_app.wiring import build_container

        container = build_container(settings)
        try:
            installation = await find_installation(container, saleor_api_url)
            text = dump_config(await container.configure.export_config(installation.id))
        finally:
            await container.aclose()
        if output is None:
            typer.echo(text, nl=False)
        else:
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise CommandRefused(2, f"Cannot write {output}: {exc.strerror or exc}") from None
            typer.echo(f"written to {output}", err=True)

    run(work())


@config_app.command("import")
def import_command(
    file: str = typer.Argument(..., help="The YAML file to apply (- reads standard input)."),
    saleor_api_url: str = typer.Option(..., "--saleor-api-url", help=URL_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the file and show what would change; change nothing."),
    check_providers: bool = typer.Option(False, "--check-providers",
                                         help="With --dry-run: also check the file's new and changed providers with a "
                                              "real call."),
) -> None:
    """Check a YAML configuration and make it the installation's, all or nothing."""
    settings = command_settings()
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"Cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from exc

    async def work() -> None:
        from saleor_app.domain.config_document import ConfigFileError
        from saleor_app.domain.config_file import parse_config
        from saleor_app.wiring import build_container

        container = build_container(settings, operator_shell=True)  # the file's ${VAR}s: this shell's
        try:
            installation = await find_installation(container, saleor_api_url)
            try:
                parsed = parse_config(text)
                report = await container.configure.apply_config(installation.id, parsed.document, dry_run=dry_run,
                                                                check_providers=check_providers,
                                                                locate=parsed.locate)
            except ConfigFileError as exc:
                raise CommandRefused(1, f"{file}: nothing was changed:\n" + "\n".join(f"  {p}" for p in exc.problems)) \
                    from None
        finally:
            await container.aclose()
        typer.echo(("Dry run, nothing was changed. Importing would do this:\n" if dry_run else "")
                   + "\n".join(report.lines()))

    run(work())
