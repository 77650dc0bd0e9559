"""The update-order rule: metadata set (templates) or removed, an order note, `orderUpdate` fields, and the
sequence number a template asks for.

The number is allocated before anything is sent, once per job (the store keys it by the job), so a retry after
Saleor was down — or a replay — writes the same number, and nothing else ever gets it. It is kept on the order
in private metadata (`order-automation.number`) and the stored snapshot is refreshed, so the next rule of an
after-previous chain renders it as `{{ automation.number }}`. Mutations go in this order: `orderUpdate` first
(the one Saleor is likeliest to refuse, e.g. an invalid e-mail: nothing else is changed then), private and
public metadata, removals, the note.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from saleor_app.domain import templates
from saleor_app.domain.automation import OrderRecord
from saleor_app.domain.employee_kinds import UpdateOrderConfig
from saleor_app.domain.employee_ports import MetadataEraser, SequenceStore
from saleor_app.domain.errors import PermanentError
from saleor_app.domain.installations import Installation
from saleor_app.domain.ports import AutomationStore, Clock
from saleor_app.domain.rules import Rule
from saleor_app.domain.sequences import uses_sequence
from saleor_app.domain.template_fields import PRIVATE_METADATA_NUMBER_KEY
from saleor_app.engine.actions import PreviewContext
from saleor_app.engine.execute import ActionContext
from saleor_app.engine.order_snapshot import refresh_order


@dataclass(frozen=True, slots=True)
class OrderChanges:
    fields: dict[str, str]
    private: dict[str, str]
    public: dict[str, str]
    remove_private: tuple[str, ...]
    remove_public: tuple[str, ...]
    note: str | None

    def describe(self) -> list[str]:
        parts = [f"{name} = {value!r}" for name, value in self.fields.items()]
        parts += [f"private metadata {key} = {value!r}" for key, value in self.private.items()]
        parts += [f"metadata {key} = {value!r}" for key, value in self.public.items()]
        parts += [f"remove private metadata {key}" for key in self.remove_private]
        parts += [f"remove metadata {key}" for key in self.remove_public]
        if self.note is not None:
            parts.append(f"note {self.note[:200]!r}")
        return parts


def changes_for(config: UpdateOrderConfig, rule: Rule, order: OrderRecord, number: str | None) -> OrderChanges:
    """What the rule does to this order, rendered; PermanentError for a value Saleor would refuse."""
    key = rule.stage_key or order.stage_key
    extra = {"sequence": {"next": number or ""}}
    context = templates.build_context(order.snapshot, shop_name="", stage=(key, key) if key else None, extra=extra)

    def render(source: str) -> str:
        return templates.render(source, context)

    fields: dict[str, str] = {}
    if config.external_reference is not None:
        fields["externalReference"] = render(config.external_reference).strip()
    if config.customer_email is not None:
        email = render(config.customer_email).strip()
        if not email:
            raise PermanentError("the customer e-mail rendered empty for this order; Saleor needs an address")
        fields["userEmail"] = email
    private = {name: render(source) for name, source in config.set_private_metadata.items()}
    if number is not None:
        private[PRIVATE_METADATA_NUMBER_KEY] = number
    note = None
    if config.note is not None:
        note = render(config.note)
        if not note.strip():
            raise PermanentError("the note rendered empty for this order (Saleor refuses blank notes)")
    return OrderChanges(fields, private, {name: render(source) for name, source in config.set_metadata.items()},
                        config.remove_private_metadata, config.remove_metadata, note)


class UpdateOrderAction:
    def __init__(self, store: AutomationStore, sequences: SequenceStore,
                 erasers: Callable[[Installation], Awaitable[MetadataEraser]], clock: Clock) -> None:
        self._store = store
        self._sequences = sequences
        self._erasers = erasers
        self._clock = clock

    async def __call__(self, ctx: ActionContext) -> str:
        assert isinstance(ctx.config, UpdateOrderConfig)
        config, order = ctx.config, ctx.order
        number = None
        if uses_sequence(config.sources()):
            number = await self._sequences.allocate(ctx.installation.id, config.sequence, ctx.job.id,
                                                    self._clock.now())
        changes = changes_for(config, ctx.rule, order, number)
        gateway = ctx.gateway
        if changes.fields:
            await gateway.update(order.order_id, changes.fields)
        if changes.private:
            await gateway.update_private_metadata(order.order_id, changes.private)
        if changes.public:
            await gateway.update_metadata(order.order_id, changes.public)
        if changes.remove_private or changes.remove_public:
            eraser = await self._erasers(ctx.installation)
            if changes.remove_private:
                await eraser.delete_private_metadata(order.order_id, changes.remove_private)
            if changes.remove_public:
                await eraser.delete_metadata(order.order_id, changes.remove_public)
        if changes.note is not None:
            await gateway.add_note(order.order_id, changes.note)
        await refresh_order(self._store, gateway, order, self._clock)
        summary = "order updated: " + "; ".join(changes.describe())
        return summary if number is None else f"{summary} (number {number} allocated to this job)"


def preview_update(ctx: PreviewContext) -> str:
    """Nothing is allocated: the number shows as a placeholder."""
    assert isinstance(ctx.config, UpdateOrderConfig)
    number = f"<next {ctx.config.sequence} number>" if uses_sequence(ctx.config.sources()) else None
    changes = changes_for(ctx.config, ctx.rule, ctx.order, number)
    return "would update the order: " + "; ".join(changes.describe())
