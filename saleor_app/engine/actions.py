"""Handlers of the rule kinds the engine core ships: add an order note, change to a custom stage."""

from __future__ import annotations

from saleor_app.domain import templates
from saleor_app.domain.errors import PermanentError
from saleor_app.domain.kinds import AddNoteConfig, ChangeStageConfig
from saleor_app.engine.execute import ActionContext, ActionHandler


async def add_note(ctx: ActionContext) -> str:
    assert isinstance(ctx.config, AddNoteConfig)
    context = templates.build_context(ctx.order.snapshot, shop_name="", stage=_stage(ctx))
    message = templates.render(ctx.config.message, context)
    if not message.strip():
        raise PermanentError("the note rendered empty for this order (Saleor refuses blank notes)")
    await ctx.gateway.add_note(ctx.order.order_id, message)
    return f"note added: {message[:200]}"


def _stage(ctx: ActionContext) -> tuple[str, str] | None:
    key = ctx.rule.stage_key or ctx.order.stage_key
    return (key, key) if key else None


async def change_stage(ctx: ActionContext) -> str:
    assert isinstance(ctx.config, ChangeStageConfig)
    return await ctx.move_to(ctx.config.stage, f"rule {ctx.rule.key}")


HANDLERS: dict[str, ActionHandler] = {"add_note": add_note, "change_stage": change_stage}

