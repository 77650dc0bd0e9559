"""The `saleor-automation` command line."""

from __future__ import annotations

import typer

from saleor_app.backfill_cli import backfill_command
from saleor_app.cli_support import load_settings
from saleor_app.config_cli import config_app
from saleor_app.providers_cli import providers_app
from saleor_app.runner_cli import run_jobs_command, shared_metrics
from saleor_app.scale_cli import dispatch_command, worker_command

cli = typer.Typer(help="Order Automation for Saleor.", no_args_is_help=True, add_completion=False)


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", envvar="HOST", help="Address to listen on."),
    port: int = typer.Option(3000, envvar="PORT", help="Port to listen on (a local Saleor usually holds 8000)."),
    migrate_first: bool = typer.Option(True, "--migrate/--no-migrate", help="Apply migrations before serving."),
) -> None:
    """Serve the app (web, webhooks, and the job runner in a process of its own unless RUNNER_MODE=inline)."""
    import uvicorn

    settings = load_settings()
    with shared_metrics(settings):
        from saleor_app.app import create_app
        from saleor_app.store.migrate import upgrade
        from saleor_app.wiring import build_container

        if migrate_first:
            upgrade(settings.database_url)
        app = create_app(settings, build_container(settings, serving=True))
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, proxy_headers=False)


@cli.command()
def migrate(revision: str = typer.Argument("head", help="Alembic revision to upgrade to.")) -> None:
    """Apply database migrations."""
    from saleor_app.store.migrate import upgrade

    settings = load_settings()
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
