"""Ports: the small interfaces the engine needs from the world, implemented by adapters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from saleor_app.domain.automation import (
    Activity,
    ActivityFilter,
    AutomationSettings,
    Job,
    LoggedActivity,
    NewJob,
    OrderRecord,
    StageEntry,
)
from saleor_app.domain.installations import Installation, InstallationStatus
from saleor_app.domain.jobs import JobState
from saleor_app.domain.pipeline import Pipeline, Stage
from saleor_app.domain.provider_ports import ProviderStore
from saleor_app.domain.providers import MessageState
from saleor_app.domain.rules import Rule, RuleSpec
from saleor_app.domain.stage_mirror import MirrorRecord
from saleor_app.domain.triggers import Trigger, TriggerSpec
from saleor_app.domain.webhooks import WebhookDelivery


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


@dataclass(frozen=True, slots=True)
class NewInstallation:
    saleor_api_url: str
    app_id: str
    token: str
    jwks: dict[str, Any]
    permissions: tuple[str, ...]
    saleor_version: str | None


class InstallationRepository(Protocol):
    async def get_by_url(self, saleor_api_url: str) -> Installation | None: ...

    async def get(self, installation_id: int) -> Installation | None: ...

    async def list_active(self) -> Sequence[Installation]: ...

    async def upsert(self, new: NewInstallation, now: datetime) -> Installation:
        """Install or reinstall: a reinstall replaces token and app id and reactivates."""
        ...

    async def token_for(self, installation_id: int) -> str:
        """The decrypted app token; raises AppAccessLost when there is none (uninstalled)."""
        ...

    async def set_jwks(self, installation_id: int, jwks: dict[str, Any]) -> None: ...

    async def set_status(
        self, installation_id: int, status: InstallationStatus, now: datetime, *, app_id: str
    ) -> bool:
        """Change the status only if the stored app id is `app_id`; False when it is not (a stale event)."""
        ...

    async def purge_uninstalled(self, older_than: datetime, now: datetime) -> int:
        """Delete personal data of installations uninstalled before `older_than`; returns rows deleted."""
        ...


class WebhookInbox(Protocol):
    async def store(self, delivery: WebhookDelivery) -> bool:
        """Durably store a delivery; True if new, False for a duplicate. Returns only after the commit."""
        ...


@dataclass(frozen=True, slots=True)
class FulfillmentLine:
    order_line_id: str
    warehouse_id: str
    quantity: int


class OrderGateway(Protocol):
    """What the engine asks of Saleor about orders, with the installation's app token."""

    async def get_order(self, order_id: str) -> dict[str, Any] | None: ...

    async def get_orders(self, order_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The full view of these orders (at most 100) in one call, by id; drafts and orders Saleor no longer has
        are left out."""
        ...

    async def orders_updated_since(
        self, since: datetime, *, after: str | None = None, first: int = 100
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of orders (light view) changed at or after `since`, oldest change first, and the cursor of
        the next page (None on the last one). Drafts are not listed."""
        ...

    async def orders_by_ids(self, order_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The light view of these orders (at most 100); an order Saleor no longer has is left out."""
        ...

    async def order_id_by_number(self, number: str) -> str | None:
        """The id of the (non-draft) order with this number, or None."""
        ...

    async def shop_settings(self) -> dict[str, Any]:
        """`shop { fulfillmentAutoApprove fulfillmentAllowUnpaid }`: what decides whether Saleor fulfils."""
        ...

    async def confirm(self, order_id: str) -> dict[str, Any]: ...

    async def mark_as_paid(self, order_id: str, transaction_reference: str | None = None) -> dict[str, Any]: ...

    async def fulfill(
        self,
        order_id: str,
        lines: Sequence[FulfillmentLine],
        *,
        notify_customer: bool = True,
        tracking_number: str | None = None,
    ) -> dict[str, Any]: ...

    async def cancel(self, order_id: str) -> dict[str, Any]: ...

    async def add_note(self, order_id: str, message: str) -> dict[str, Any]: ...

    async def update(self, order_id: str, fields: Mapping[str, Any]) -> dict[str, Any]: ...

    async def update_private_metadata(self, object_id: str, items: Mapping[str, str]) -> dict[str, Any]: ...

    async def update_metadata(self, object_id: str, items: Mapping[str, str]) -> dict[str, Any]: ...


GatewayFor = Callable[[Installation], Awaitable[OrderGateway]]
"""The OrderGateway of one installation (it holds that installation's token)."""


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: int
    installation_id: int
    event: str
    order_id: str | None
    self_caused: bool
    parse_error: str | None


@dataclass(frozen=True, slots=True)
class ExecutionInput:
    job: Job
    rule: Rule | None
    entry: StageEntry | None
    order: OrderRecord | None
    settings: AutomationSettings


class AutomationTransaction(Protocol):
    """One database transaction of the engine. Never held across a call to Saleor or a provider."""

    def providers(self) -> ProviderStore:
        """The provider tables inside this same transaction (a configuration import writes them with the rules)."""
        ...

    async def settings(self, installation_id: int) -> AutomationSettings: ...

    async def pipeline(self, installation_id: int) -> Pipeline: ...

    async def rules(self, installation_id: int, stage_key: str) -> list[Rule]: ...

    async def rule(self, rule_id: int) -> Rule | None: ...

    async def order(self, installation_id: int, order_id: str) -> OrderRecord | None: ...

    async def order_by_row(self, order_row_id: int) -> OrderRecord | None: ...

    async def save_order(
        self, installation_id: int, order_id: str, snapshot: dict[str, Any], snapshot_at: datetime
    ) -> OrderRecord: ...

    async def set_order_stage(self, order_row_id: int, stage_key: str) -> None: ...

    async def open_entry(self, order_row_id: int) -> StageEntry | None: ...

    async def entry(self, entry_id: int) -> StageEntry | None: ...

    async def enter(
        self, installation_id: int, order_row_id: int, stage_key: str, at: datetime, *, adopted: bool, reason: str,
        leaving: int | None,
    ) -> StageEntry:
        """Close the open entry `leaving` (the caller read it) and open one in `stage_key`; the database allows one
        open entry per order, so a concurrent move fails here rather than leaving two."""
        ...

    async def cancel_pending(self, entry_id: int, reason: str, now: datetime) -> list[int]: ...

    async def claim_order_jobs(self, order_row_id: int, now: datetime, lease: timedelta) -> list[int]:
        """Claim the order's jobs due now, in the transaction that planned them (saves the runner a round)."""
        ...

    async def ran_once(self, order_row_id: int) -> set[str]:
        """Rule keys that ran (or are on their way to run) for this order: not planned again if once-per-order."""
        ...

    async def add_job(self, job: NewJob, now: datetime) -> int | None:
        """The new job's id, or None when a job with that idempotency key exists already."""
        ...

    async def job(self, job_id: int) -> Job | None: ...

    async def update_job(self, job_id: int, now: datetime, **changes: Any) -> None: ...

    async def successors(self, job_id: int) -> list[Job]: ...

    async def jobs_by_id(self, job_ids: Sequence[int]) -> dict[int, Job]: ...

    async def latest_message(self, job_id: int) -> tuple[int, MessageState] | None:
        """The id and state of the newest message the job wrote to the messages ledger, if any."""
        ...

    async def finish_jobs(self, changes: Sequence[dict[str, Any]], now: datetime) -> None: ...

    async def log_many(self, activities: Sequence[Activity], now: datetime) -> None: ...

    async def waiting_successors(self, job_ids: Sequence[int]) -> list[Job]: ...

    async def pending_jobs_of_rule(self, rule_id: int) -> list[Job]: ...

    async def log(self, activity: Activity, now: datetime) -> None: ...

    async def finish_inbox(self, ids: Sequence[int], now: datetime, state: str = "processed") -> None: ...

    async def rule_by_key(self, installation_id: int, key: str) -> Rule | None: ...

    async def event_rules(self, installation_id: int, events: Sequence[str]) -> list[Rule]:
        """Rules bound to any of these events (not to a stage), in order."""
        ...

    async def all_rules(self, installation_id: int) -> list[Rule]: ...

    async def triggers(self, installation_id: int) -> list[Trigger]: ...

    async def trigger_by_key(self, installation_id: int, key: str) -> Trigger | None: ...

    async def trigger_by_id(self, trigger_id: int) -> Trigger | None: ...

    async def activity(self, installation_id: int, where: ActivityFilter) -> list[LoggedActivity]: ...

    async def order_by_number(self, installation_id: int, number: str) -> OrderRecord | None: ...

    async def trigger_secret(self, trigger_id: int) -> str | None:
        """The inbound-webhook secret, encrypted as stored."""
        ...

    async def save_trigger(self, installation_id: int, spec: TriggerSpec, now: datetime,
                           secret_encrypted: str | None = None) -> Trigger: ...

    async def delete_trigger(self, trigger_id: int) -> None: ...

    async def set_moving(self, order_row_id: int, stage_key: str | None, now: datetime) -> None:
        """Mark (or clear) a write-back plan under way: echoes of its mutations pass through, running no rules."""
        ...

    async def claim_mirror(self, order_row_id: int, expected: MirrorRecord, record: MirrorRecord) -> bool:
        """Store `record` as the order's stage-mirror record if it still is `expected`; False when it was not."""
        ...

    async def entries_since(self, order_row_id: int, since: datetime) -> int:
        """How many stages the order entered since `since` (loop protection)."""
        ...

    async def save_rule(self, installation_id: int, spec: RuleSpec, now: datetime) -> Rule:
        """Insert (at the end of its stage) or update the rule with that key."""
        ...

    async def delete_rule(self, rule_id: int) -> None: ...

    async def save_settings(self, installation_id: int, settings: AutomationSettings, now: datetime) -> None: ...

    async def add_stage(self, installation_id: int, stage: Stage) -> None: ...

    async def save_stage(self, installation_id: int, stage: Stage, position: int | None) -> None:
        """Insert or update the stage with that key; position None keeps a stored stage's place or appends."""
        ...

    async def delete_stage(self, installation_id: int, key: str) -> None: ...

    async def orders_in_stage(self, installation_id: int, key: str) -> int:
        """Orders in the stage now, or on their way into it (a write-back plan under way)."""
        ...

    async def set_rule_position(self, rule_id: int, position: int, now: datetime) -> None: ...

    async def set_trigger_position(self, trigger_id: int, position: int, now: datetime) -> None: ...

    async def pending_jobs(self, installation_id: int) -> list[Job]: ...

    async def open_entries(self, installation_id: int, stage_key: str, *, limit: int,
                           after_entry_id: int = 0) -> list[tuple[StageEntry, OrderRecord]]:
        """The orders in `stage_key` now with their open entries, by entry id, after `after_entry_id` (paging)."""
        ...

    async def count_open_entries(self, installation_id: int, stage_key: str) -> int: ...

    async def jobs_by_keys(self, keys: Sequence[str]) -> dict[str, Job]:
        """The jobs with these idempotency keys, by key."""
        ...

    async def orders_with_rule_jobs(self, installation_id: int, rule_key: str) -> set[int]:
        """Order rows with a job of this rule that was not cancelled (`ran_once` for one rule, every order)."""
        ...

    async def order_history(self, order_row_id: int, limit: int = 50) -> list[tuple[StageEntry, str]]:
        """The order's stage entries, newest first, each with the reason it entered."""
        ...

    async def order_jobs(self, order_row_id: int, states: Collection[JobState]) -> list[Job]:
        """The order's jobs in these states, oldest first."""
        ...


class AutomationStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[AutomationTransaction]: ...

    def reading(self) -> AbstractAsyncContextManager[AutomationTransaction]:
        """The same reads without taking the write lock (SQLite has one writer): for previews, lookups and
        lists. Writing through it is a bug."""
        ...

    async def load_for_execution(self, job_ids: Sequence[int]) -> list[ExecutionInput]: ...

    async def pending_inbox(self, limit: int, *, skip_orders: Collection[str] = ()) -> list[InboxItem]:
        """Oldest pending deliveries of installations that are not deactivated, leaving out `skip_orders`
        (orders whose re-read is backing off), so that they cannot hold up everyone else's."""
        ...

    async def has_pending_inbox(self, installation_id: int, order_id: str) -> bool:
        """Whether deliveries of this order wait to be handled."""
        ...

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[int]:
        """Move due jobs of unpaused installations to RUNNING with a lease, atomically; their ids."""
        ...

    async def expired_leases(self, now: datetime) -> list[Job]: ...

    async def hand_over(self, job_id: int, attempt: int, now: datetime) -> bool:
        """Record, committed, that the running job's provider call is about to start (see engine/recovery.py).
        False, recording nothing, when the job is no longer RUNNING at `attempt`: another run owns it now."""
        ...

    async def next_due_at(self) -> datetime | None: ...

    async def seed_pipeline(self, installation_id: int, pipeline: Pipeline, now: datetime) -> bool:
        """Store the default pipeline for a new installation; False when it has one already."""
        ...
