"""`saleor-automation backfill`: preview a stage rule on the orders already in its stage, or apply it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from saleor_app.cli_support import URL_HELP, CommandRefused, command_settings, find_installation, run
from saleor_app.settings import Settings

if TYPE_CHECKING:  # the engine is imported when the command runs, not when the CLI starts
    from saleor_app.engine.backfill import Preview


def backfill_command(
    rule_key: str = typer.Argument(..., help="The key of a stage rule."),
    saleor_api_url: str = typer.Option(..., "--saleor-api-url", help=URL_HELP),
    apply: bool = typer.Option(False, "--apply", help="Plan the jobs (without it: only show what would happen)."),
    limit: int = typer.Option(500, min=1, max=5000, help="At most this many orders in the preview."),
) -> None:
    """Apply a stage rule to the orders already in its stage, as if they had just entered (preview first)."""
    settings = command_settings()
    run(_run(settings, rule_key, saleor_api_url, apply=apply, limit=limit))


async def _run(settings: Settings, rule_key: str, api_url: str, *, apply: bool, limit: int) -> None:
    from saleor_app.engine.backfill import BackfillError
    from saleor_app.wiring import build_container

    container = build_container(settings)
    try:
        installation = await find_installation(container, api_url)
        try:
            if not apply:
                preview = await container.backfill.preview(installation.id, rule_key, limit=limit)
                typer.echo("\n".join(preview_lines(preview)))
                return
            if not installation.is_active:
                raise CommandRefused(1, f"The installation is {installation.status.value}: nothing is planned for it.")
            result = await container.backfill.apply(installation.id, rule_key)
        except BackfillError as exc:
            raise CommandRefused(1, f"Cannot backfill: {exc}") from exc
        skipped = f", {result.skipped} skipped (once per order, ran already)" if result.skipped else ""
        typer.echo(f"{result.rule.key} in {result.rule.stage_key}: planned {result.planned}, "
                   f"{result.had_job} had it already{skipped}.")
        if result.planned:
            typer.echo("The running app picks the jobs up (they are rows in its database).")
    finally:
        await container.aclose()


def preview_lines(preview: Preview) -> list[str]:
    from saleor_app.engine.backfill import Outcome, outcome_text

    rule = preview.rule
    orders = "1 order" if preview.total == 1 else f"{preview.total} orders"
    lines = [f"{rule.key} ({rule.kind}) on {rule.stage_key}: {orders} in the stage"
             + (f", showing the first {len(preview.candidates)}" if preview.next_after is not None else "")]
    lines += [f"note: {note}" for note in preview.notes]
    rows = [("order", "entered", "condition now", "backfill would")]
    for c in preview.candidates:
        verdict = "-" if c.condition is None else ("met" if c.condition.passed else f"not met: {c.condition.reason}")
        number = c.order.number or c.order.order_id
        rows.append((f"#{number}" + (" (adopted)" if c.entry.adopted else ""),
                     c.entry.entered_at.isoformat(timespec="minutes"), verdict, outcome_text(c)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
              for row in rows]
    if len(rows) == 1:
        lines.append("(no orders in this stage)")
    elif any(c.outcome is Outcome.PLAN for c in preview.candidates):
        lines.append("Run again with --apply to plan them.")
    elif preview.next_after is None:
        lines.append("Nothing to plan: --apply would change nothing.")
    else:
        lines.append("None of these would be planned; --apply plans those of the other orders that need it.")
    return lines
