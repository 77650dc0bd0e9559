"""The `saleor-automation` command line."""

from __future__ import annotations

import typer

from saleor_app.backfill_cli import backfill_command
from saleor_app.cli_support import load_settings, plainly
from saleor_app.config_cli import config_app
from saleor_app.providers_cli import providers_app
from saleor_app.runner_cli import run_jobs_command
from saleor_app.scale_cli import dispatch_command, worker_command
from saleor_app.serve_cli import serve

cli = typer.Typer(help="Order Automation for Saleor.", no_args_is_help=True, add_completion=False)
cli.command("serve")(serve)


@cli.command()
def migrate(revision: str = typer.Argument("head", help="Alembic revision to upgrade to.")) -> None:
    """Apply database migrations."""
    from saleor_app.preflight import check_reachable
    from saleor_app.store.migrate import upgrade

    settings = load_settings()
    with plainly():
        check_reachable(settings, create=True)
        upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}")


@cli.command("generate-key")
def generate_key_command() -> None:
    """Print a new Fernet key for ENCRYPTION_KEYS."""
    from saleor_app.store.secrets import generate_key

    typer.echo(generate_key())


cli.command("backfill")(backfill_command)
cli.command("worker")(worker_command)
cli.command("dispatch")(dispatch_command)
cli.command("run-jobs", hidden=True)(run_jobs_command)
cli.add_typer(config_app, name="config")
cli.add_typer(providers_app, name="providers")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
