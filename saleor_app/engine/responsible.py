"""The responsible-person rule: one member, or the next of a group's rotation (skipping those away), kept on the
order in private metadata — key, name and e-mail — so templates (`{{ responsible.name }}`), conditions
(private_metadata `order-automation.responsible`) and staff in Saleor all see it."""

from __future__ import annotations

from saleor_app.domain.employee_kinds import Assignee, SetResponsibleConfig
from saleor_app.domain.employee_ports import TeamStore
from saleor_app.domain.errors import SkipJob
from saleor_app.domain.ports import AutomationStore, Clock
from saleor_app.domain.template_fields import (
    PRIVATE_METADATA_RESPONSIBLE_EMAIL,
    PRIVATE_METADATA_RESPONSIBLE_KEY,
    PRIVATE_METADATA_RESPONSIBLE_NAME,
)
from saleor_app.engine.actions import PreviewContext
from saleor_app.engine.assignees import choose, describe, responsible_key
from saleor_app.engine.execute import ActionContext
from saleor_app.engine.order_snapshot import refresh_order


class SetResponsibleAction:
    def __init__(self, store: AutomationStore, team: TeamStore, clock: Clock) -> None:
        self._store = store
        self._team = team
        self._clock = clock

    async def __call__(self, ctx: ActionContext) -> str:
        assert isinstance(ctx.config, SetResponsibleConfig)
        config = ctx.config
        current = responsible_key(ctx.order.snapshot)
        if config.keep_existing and current is not None:
            raise SkipJob(f"the order has a responsible person already ({current})")
        chosen = await choose(self._team, ctx.installation.id, _assignee(config), ctx.order.snapshot, ctx.job.id,
                              self._clock.now())
        member = chosen.member
        await ctx.gateway.update_private_metadata(ctx.order.order_id, {
            PRIVATE_METADATA_RESPONSIBLE_KEY: member.key, PRIVATE_METADATA_RESPONSIBLE_NAME: member.name,
            PRIVATE_METADATA_RESPONSIBLE_EMAIL: member.email or "",
        })
        await refresh_order(self._store, ctx.gateway, ctx.order, self._clock)
        return f"responsible person: {chosen.how}"


def _assignee(config: SetResponsibleConfig) -> Assignee:
    return Assignee(member=config.member, group=config.group)


def preview_responsible(ctx: PreviewContext) -> str:
    assert isinstance(ctx.config, SetResponsibleConfig)
    current = responsible_key(ctx.order.snapshot)
    if ctx.config.keep_existing and current is not None:
        return f"would be skipped: the order has a responsible person already ({current})"
    return f"would make {describe(_assignee(ctx.config))} responsible for the order (private metadata)"
