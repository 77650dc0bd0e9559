"""Handlers of the rule kinds the engine core ships: add an order note, change to a custom stage."""

from __future__ import annotations

from saleor_app.domain.kinds import AddNoteConfig, ChangeStageConfig
from saleor_app.engine.execute import ActionContext, ActionHandler
from saleor_app.engine.stages import mirror_stage


async def add_note(ctx: ActionContext) -> str:
    assert isinstance(ctx.config, AddNoteConfig)
    await ctx.gateway.add_note(ctx.order.order_id, ctx.config.message)
    return "note added to the order"


async def change_stage(ctx: ActionContext) -> str:
    assert isinstance(ctx.config, ChangeStageConfig)
    outcome = await ctx.move_to(ctx.config.stage, f"rule {ctx.rule.key}")
    await mirror_stage(ctx.gateway, ctx.order.order_id, ctx.order.snapshot, ctx.config.stage)
    return outcome


HANDLERS: dict[str, ActionHandler] = {"add_note": add_note, "change_stage": change_stage}

