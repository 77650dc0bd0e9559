"""Dry run: what every rule of a stage would do for one order if it entered that stage now — condition verdict,
when, what (the rendered text, the Saleor mutations of a move) — with no side effect: nothing is written, nothing
is sent, no sequence number is consumed. The order is re-read from Saleor (a read only) unless asked not to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from saleor_app.domain import kinds
from saleor_app.domain.automation import OrderRecord
from saleor_app.domain.conditions import Condition, evaluate
from saleor_app.domain.errors import PermanentError, Refused, RetryableError
from saleor_app.domain.installations import Installation
from saleor_app.domain.pipeline import Pipeline
from saleor_app.domain.ports import AutomationStore, Clock, GatewayFor
from saleor_app.domain.rules import Repeat, Rule
from saleor_app.domain.schedule import due_at
from saleor_app.domain.writeback_check import ShopRules
from saleor_app.engine.actions import PreviewContext, Previewer


@dataclass(frozen=True, slots=True)
class Rehearsal:
    rule_key: str
    name: str
    kind: str
    runs: bool  # False: disabled, ran already (once per order), condition false, or it would fail
    when: str
    due_at: datetime | None
    condition: str | None  # the verdict, in words
    outcome: str  # what it would do, or why not


class DryRun:
    def __init__(self, store: AutomationStore, gateways: GatewayFor, previews: Mapping[str, Previewer],
                 clock: Clock) -> None:
        self._store = store
        self._gateways = gateways
        self._previews = previews
        self._clock = clock

    async def find_order(self, installation_id: int, ref: str) -> OrderRecord:
        """An order the app knows, by Saleor id or number."""
        async with self._store.reading() as tx:
            order = await tx.order(installation_id, ref)
            if order is None and ref.lstrip("#").isdigit():
                order = await tx.order_by_number(installation_id, ref.lstrip("#"))
        if order is None:
            raise Refused(404, f"the app has not seen an order {ref!r} (give its id or number)")
        return order

    async def stage(self, installation: Installation, order: OrderRecord, stage_key: str, *, fresh: bool = True
                    ) -> list[Rehearsal]:
        async with self._store.reading() as tx:
            pipeline = await tx.pipeline(installation.id)
            if pipeline.stage(stage_key) is None:
                raise Refused(404, f"there is no stage {stage_key!r}")
            rules = await tx.rules(installation.id, stage_key)
            settings = await tx.settings(installation.id)
            ran = await tx.ran_once(order.id)
        shop = None
        if fresh:
            order, shop = await self._reread(installation, order)
        now = self._clock.now()
        result: list[Rehearsal] = []
        previous: Rehearsal | None = None
        for rule in sorted(rules, key=lambda r: r.position):
            if not rule.enabled:
                result.append(Rehearsal(rule.key, rule.name, rule.kind, False, "never", None, None, "disabled"))
                continue
            if rule.repeat is Repeat.ONCE_PER_ORDER and rule.key in ran:
                result.append(Rehearsal(rule.key, rule.name, rule.kind, False, "never", None, None,
                                        "once per order, and it ran for this order already"))
                continue
            if rule.after_previous and previous is not None:
                when, due = f"after {previous.rule_key} finishes" + _delay_words(rule), None
            else:
                due = due_at(now, delay=rule.delay, at=rule.at, zone=settings.zone)
                when = "at once" if due == now else f"at {due.astimezone(settings.zone).isoformat(timespec='minutes')}"
            rehearsal = self.rehearse(rule, order, pipeline, now, settings.time_zone, when, due, shop=shop)
            result.append(rehearsal)
            previous = rehearsal
        return result

    def rehearse(self, rule: Rule, order: OrderRecord, pipeline: Pipeline, now: datetime, time_zone: str,
                 when: str = "now", due: datetime | None = None, *, shop: ShopRules | None = None) -> Rehearsal:
        """One rule on one order, as its job would run it now (the condition is checked on this snapshot)."""
        verdict_text = None
        if rule.condition:
            verdict = evaluate(Condition.model_validate(rule.condition), order.snapshot, now=now, time_zone=time_zone)
            verdict_text = f"{'met' if verdict.passed else 'not met'}: {verdict.reason}"
            if not verdict.passed:
                return Rehearsal(rule.key, rule.name, rule.kind, False, when, due, verdict_text,
                                 "would be skipped: condition not met")
        previewer = self._previews.get(rule.kind)
        try:
            config = kinds.validate_config(rule.kind, rule.config)
            if previewer is None:
                raise PermanentError(f"rule kind {rule.kind!r} cannot be previewed")
            outcome = previewer(PreviewContext(order, rule, config, pipeline, shop))
        except (PermanentError, ValidationError, kinds.UnknownKind) as exc:
            return Rehearsal(rule.key, rule.name, rule.kind, False, when, due, verdict_text, f"would fail: {exc}")
        return Rehearsal(rule.key, rule.name, rule.kind, True, when, due, verdict_text, outcome)

    async def _reread(self, installation: Installation, order: OrderRecord) -> tuple[OrderRecord, ShopRules]:
        """The order as Saleor has it now, and the shop's fulfilment settings (a move's pre-check reads them)."""
        try:
            gateway = await self._gateways(installation)
            snapshot = await gateway.get_order(order.order_id)
            shop = ShopRules.from_shop(await gateway.shop_settings())
        except RetryableError as exc:
            raise Refused(503, f"could not re-read the order from Saleor: {exc}") from exc
        if snapshot is None:
            raise Refused(404, "Saleor no longer has this order")
        return OrderRecord(order.id, order.installation_id, order.order_id, order.number, snapshot,
                           self._clock.now(), order.stage_key, order.first_seen_at), shop


def _delay_words(rule: Rule) -> str:
    parts = []
    if rule.delay.total_seconds():
        parts.append(f" + {rule.delay}")
    if rule.at is not None:
        parts.append(f", then at {rule.at.strftime('%H:%M')}")
    return "".join(parts)
