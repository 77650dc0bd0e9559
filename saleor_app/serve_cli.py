"""`saleor-automation serve`: settings, the port, the database and key checked before anything starts; then the
app on a socket it already holds."""

from __future__ import annotations

import errno
import logging
import socket

import typer

from saleor_app.cli_support import announce, load_settings, refuse_unless_ready
from saleor_app.runner_cli import shared_metrics

log = logging.getLogger(__name__)


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound before migrations and before the app calls any Saleor: a taken port is the operator's first answer."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            message = (f"Port {port} on {host} is taken (another program, or another `serve`, listens there).\n"
                       "Stop it, or choose another port with --port or PORT (and APP_URL to match).")
        else:
            message = f"Cannot listen on {host}:{port}: {exc.strerror or exc}. Check --host/HOST and --port/PORT."
        typer.echo(message, err=True)
        raise typer.Exit(2) from None
    return sock


def serve(
    host: str = typer.Option("127.0.0.1", envvar="HOST", help="Address to listen on."),
    port: int = typer.Option(3000, envvar="PORT", help="Port to listen on (a local Saleor usually holds 8000)."),
    migrate_first: bool = typer.Option(True, "--migrate/--no-migrate", help="Apply migrations before serving."),
) -> None:
    """Serve the app (web, webhooks, and the job runner in a process of its own unless RUNNER_MODE=inline)."""
    import uvicorn

    settings = load_settings(human=False)
    sock = listening_socket(host, port)
    try:
        key = refuse_unless_ready(settings, migrate=migrate_first)
        with shared_metrics(settings):
            from saleor_app.app import create_app
            from saleor_app.wiring import build_container

            announce(settings, key)
            manifest = f"{settings.api_base_url}/api/manifest"
            log.info("serving on %s:%d; install the app from %s (Dashboard: Extensions → Add extension → Install "
                     "from manifest)", host, port, manifest, extra={"manifest_url": manifest})
            app = create_app(settings, build_container(settings, serving=True))
            server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, proxy_headers=False))
            try:
                server.run(sockets=[sock])
            except KeyboardInterrupt:
                pass
    finally:
        sock.close()
