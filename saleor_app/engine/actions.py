"""Handlers of the rule kinds the engine core ships (add an order note, change stage), and their previews: what
a job would do, told without doing it (dry run, replay preview). Later kinds register both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from saleor_app.domain import templates
from saleor_app.domain.automation import OrderRecord
from saleor_app.domain.errors import PermanentError
from saleor_app.domain.kinds import AddNoteConfig, ChangeStageConfig, KindConfig
from saleor_app.domain.pipeline import Pipeline
from saleor_app.domain.rules import Rule
from saleor_app.domain.writeback import NoPlan, plan
from saleor_app.domain.writeback_check import ShopRules, WouldRefuse, precheck
from saleor_app.engine.execute import ActionContext, ActionHandler


@dataclass(frozen=True, slots=True)
class PreviewContext:
    order: OrderRecord
    rule: Rule
    config: KindConfig
    pipeline: Pipeline
    shop: ShopRules | None = None  # the shop's fulfilment settings, when read: the move's pre-check uses them


Previewer = Callable[[PreviewContext], str]


def _note_text(order: OrderRecord, rule: Rule, config: AddNoteConfig) -> str:
    key = rule.stage_key or order.stage_key
    context = templates.build_context(order.snapshot, shop_name="", stage=(key, key) if key else None)
    message = templates.render(config.message, context)
    if not message.strip():
        raise PermanentError("the note rendered empty for this order (Saleor refuses blank notes)")
    return message


async def add_note(ctx: ActionContext) -> str:
    assert isinstance(ctx.config, AddNoteConfig)
    message = _note_text(ctx.order, ctx.rule, ctx.config)
    await ctx.gateway.add_note(ctx.order.order_id, message)
    return f"note added: {message[:200]}"


def preview_note(ctx: PreviewContext) -> str:
    assert isinstance(ctx.config, AddNoteConfig)
    return f"would add the order note: {_note_text(ctx.order, ctx.rule, ctx.config)}"


async def change_stage(ctx: ActionContext) -> str:
    assert isinstance(ctx.config, ChangeStageConfig)
    return await ctx.move_to(ctx.config.stage, f"rule {ctx.rule.key}")


def preview_move(ctx: PreviewContext) -> str:
    assert isinstance(ctx.config, ChangeStageConfig)
    return describe_move(ctx.pipeline, ctx.order, ctx.config.stage, ctx.shop)


def describe_move(pipeline: Pipeline, order: OrderRecord, stage_key: str, shop: ShopRules | None = None) -> str:
    """What a move would ask Saleor to do, after the pre-check the move itself runs (with `shop` None, the
    checks that need the shop's settings are left out)."""
    stage = pipeline.stage(stage_key)
    if stage is None:
        raise PermanentError(f"there is no stage {stage_key!r}")
    try:
        steps = plan(stage, order.snapshot)
        precheck(steps, order.snapshot, shop)
    except WouldRefuse as exc:
        raise PermanentError(f"would not move to {stage.name}: Saleor would refuse {exc}") from exc
    except NoPlan as exc:
        raise PermanentError(f"would not move to {stage.name}: {exc}") from exc
    if not steps:
        return f"would move the order to {stage.name} (nothing to change in Saleor)"
    return f"would move the order to {stage.name} after asking Saleor to {', then '.join(s.describe() for s in steps)}"


HANDLERS: dict[str, ActionHandler] = {"add_note": add_note, "change_stage": change_stage}
PREVIEWS: dict[str, Previewer] = {"add_note": preview_note, "change_stage": preview_move}

