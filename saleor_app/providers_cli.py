"""`saleor-automation providers …`: connect, check, list and delete provider accounts; edit the suppression list.

Secrets never go on the command line (shell history, process lists): `--credential server_token=POSTMARK_TOKEN`
names the environment variable that holds it. Exit codes: 0 done, 1 refused or the check failed, 2 the command
could not run (settings, unknown installation).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import typer

from saleor_app.cli_support import URL_HELP, CommandRefused, command_settings, opened, run

if TYPE_CHECKING:
    from saleor_app.engine.providers import ProviderView

providers_app = typer.Typer(help="Email and SMS providers: connect, check, list, delete; suppressed addresses.",
                            no_args_is_help=True, add_completion=False)
URL = typer.Option(..., "--saleor-api-url", help=URL_HELP)
ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _pairs(items: list[str], what: str, *, shown: bool = True) -> dict[str, str]:
    """NAME=VALUE pairs; `shown=False`: a mistyped item is not repeated (it may be the secret itself)."""
    pairs = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CommandRefused(2, f"{what} {item!r}: write NAME=VALUE" if shown else
                                 f"{what}: write NAME=ENV_VAR, e.g. server_token=POSTMARK_TOKEN")
        pairs[name.strip()] = value.strip()
    return pairs


def _credentials(items: list[str]) -> dict[str, str]:
    """Each credential from the environment variable its item names. The variable's name is never repeated in a
    message: people paste the secret itself there, and the terminal, its scrollback and CI logs would keep it."""
    from saleor_app.settings import environment_variable

    credentials = {}
    for field, variable in _pairs(items, "--credential", shown=False).items():
        value = environment_variable(variable) if ENV_VAR_NAME.fullmatch(variable) else None
        if not value:
            raise CommandRefused(2, f"--credential {field}: give the name of an environment variable that is set in "
                                    f"this shell and holds it ({field}=ENV_VAR), not the secret itself")
        credentials[field] = value
    return credentials


def _describe(view: ProviderView) -> str:
    account = view.account
    lines = [f"{account.key} ({account.kind}): {account.status.value} — {account.status_message or 'not checked'}"]
    if account.last_event_at is not None:
        lines.append(f"  last event received {account.last_event_at.isoformat(timespec='seconds')}")
    lines += [f"  {s.kind.value} {s.address}" + (f" ({s.display_name})" if s.display_name else "")
              + ("" if s.enabled else " [disabled]") for s in view.senders]
    return "\n".join(lines)


@providers_app.command("list")
def list_command(saleor_api_url: str = URL) -> None:
    """Every provider account: status, last event received, senders."""
    settings = command_settings()

    async def work() -> None:
        async with opened(settings, saleor_api_url) as (container, installation):
            views = await container.providers.list(installation.id)
        typer.echo("\n".join(_describe(view) for view in views) or "no providers")

    run(work())


@providers_app.command("connect")
def connect_command(
    key: str = typer.Argument(..., help="Your name for the account, e.g. postmark-main."),
    kind: str = typer.Option(..., "--kind", help="postmark, smtp or twilio."),
    saleor_api_url: str = URL,
    name: str = typer.Option("", "--name"),
    credential: list[str] = typer.Option([], "--credential",  # noqa: B008 - typer's way
                                         help="NAME=ENV_VAR: take credential NAME from environment variable ENV_VAR."),
    setting: list[str] = typer.Option([], "--setting",  # noqa: B008 - typer's way
                                      help='NAME=VALUE (JSON values allowed: mailboxes=\'["a@b.c"]\').'),
) -> None:
    """Save the account and check it with a real call; omit --credential to keep the stored ones."""
    settings = command_settings()

    async def work() -> None:
        from saleor_app.domain.errors import Refused
        from saleor_app.domain.providers import ProviderSpec, ProviderStatus
        credentials = _credentials(credential)
        values: dict[str, Any] = {}
        for field, raw in _pairs(setting, "--setting").items():
            try:
                values[field] = json.loads(raw)
            except json.JSONDecodeError:
                values[field] = raw
        async with opened(settings, saleor_api_url) as (container, installation):
            try:
                spec = ProviderSpec(key=key, kind=kind, name=name, credentials=credentials, settings=values)
                view = await container.providers.connect(installation.id, spec)
            except (Refused, ValueError) as exc:
                raise CommandRefused(1, f"not saved: {exc}") from None
        typer.echo(_describe(view))
        if view.account.status is not ProviderStatus.CONNECTED:
            raise CommandRefused(1, "saved, but the check failed (see above)")

    run(work())


@providers_app.command("check")
def check_command(key: str = typer.Argument(...), saleor_api_url: str = URL) -> None:
    """Check again: the real call, the senders, the webhooks."""
    settings = command_settings()

    async def work() -> None:
        from saleor_app.domain.errors import Refused
        from saleor_app.domain.providers import ProviderStatus

        async with opened(settings, saleor_api_url) as (container, installation):
            try:
                view = await container.providers.check_key(installation.id, key)
            except Refused as exc:
                raise CommandRefused(1, str(exc)) from None
        typer.echo(_describe(view))
        if view.account.status is not ProviderStatus.CONNECTED:
            raise CommandRefused(1, "the check failed (see above)")

    run(work())


@providers_app.command("delete")
def delete_command(key: str = typer.Argument(...), saleor_api_url: str = URL) -> None:
    """Remove the account (and the webhooks the app registered at the provider); sent messages stay logged."""
    settings = command_settings()

    async def work() -> None:
        from saleor_app.domain.errors import Refused

        async with opened(settings, saleor_api_url) as (container, installation):
            try:
                await container.providers.delete(installation.id, key)
            except Refused as exc:
                raise CommandRefused(1, str(exc)) from None
        typer.echo(f"deleted {key}")

    run(work())


@providers_app.command("suppress")
def suppress_command(
    address: str = typer.Argument(...), saleor_api_url: str = URL,
    channel: str = typer.Option("email", "--channel", help="email or phone"),
    reason: str = typer.Option("", "--reason"),
    remove: bool = typer.Option(False, "--remove", help="Take the address off the list instead."),
) -> None:
    """Add an address to the suppression list (nothing is sent to it), or take it off with --remove."""
    settings = command_settings()

    async def work() -> None:
        from pydantic import ValidationError

        from saleor_app.domain.providers import SuppressionSpec

        try:
            spec = SuppressionSpec.model_validate({"channel": channel, "address": address, "reason": reason})
        except ValidationError as exc:
            raise CommandRefused(2, f"not a valid suppression: {exc.errors()[0]['msg']}") from None
        async with opened(settings, saleor_api_url) as (container, installation):
            if remove:
                done = await container.providers.unsuppress(installation.id, spec.channel, spec.address)
            else:
                done = await container.providers.suppress(installation.id, spec)
        verb = "removed" if remove else "suppressed"
        typer.echo(f"{spec.normalised()}: {verb}" if done else f"{spec.normalised()}: nothing to do")

    run(work())


@providers_app.command("suppressions")
def suppressions_command(saleor_api_url: str = URL) -> None:
    """The suppression list."""
    settings = command_settings()

    async def work() -> None:
        async with opened(settings, saleor_api_url) as (container, installation):
            found = await container.providers.suppressions(installation.id)
        typer.echo("\n".join(f"{s.channel.value} {s.address} ({s.source}) {s.reason}".rstrip() for s in found)
                   or "the list is empty")

    run(work())
