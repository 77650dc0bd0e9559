"""SQLModel tables. Every tenant-owned row carries `installation_id`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def _utc(**kwargs: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), **kwargs))


class InstallationRow(SQLModel, table=True):
    __tablename__ = "installations"

    id: int | None = Field(default=None, primary_key=True)
    saleor_api_url: str = Field(max_length=2048, unique=True)
    app_id: str = Field(max_length=255)
    token_encrypted: str | None = Field(default=None, max_length=4096)
    jwks: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    permissions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    saleor_version: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16)
    installed_at: datetime = _utc(nullable=False)
    updated_at: datetime = _utc(nullable=False)
    uninstalled_at: datetime | None = _utc(nullable=True)
    personal_data_purged_at: datetime | None = _utc(nullable=True)


class WebhookInboxRow(SQLModel, table=True):
    """A verified delivery, stored before it is acknowledged; the engine works from here."""

    __tablename__ = "webhook_inbox"
    __table_args__ = (
        UniqueConstraint("installation_id", "event", "body_sha256", name="uq_webhook_inbox_dedupe"),
        Index("ix_webhook_inbox_pending", "state", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE")
    event: str = Field(max_length=64)
    body_sha256: str = Field(max_length=64)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    order_id: str | None = Field(default=None, max_length=255)
    issued_at: str | None = Field(default=None, max_length=64)
    self_caused: bool = False
    parse_error: str | None = Field(default=None, max_length=1024)
    state: str = Field(default="pending", max_length=16)
    received_at: datetime = _utc(nullable=False)
    processed_at: datetime | None = _utc(nullable=True)


metadata = SQLModel.metadata


class AutomationSettingsRow(SQLModel, table=True):
    __tablename__ = "automation_settings"

    installation_id: int = Field(primary_key=True, foreign_key="installations.id", ondelete="CASCADE")
    paused: bool = False
    time_zone: str = Field(default="UTC", max_length=64)
    quiet_start: str | None = Field(default=None, max_length=5)  # "HH:MM"
    quiet_end: str | None = Field(default=None, max_length=5)
    config_version: int = 0  # bumped by every configuration write (stages, rules, triggers, settings)
    updated_at: datetime = _utc(nullable=False)


class StageRow(SQLModel, table=True):
    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("installation_id", "key", name="uq_stages_key"),)

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE", index=True)
    key: str = Field(max_length=63)
    name: str = Field(max_length=120)
    position: int
    match: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    has_plan: bool = False


class RuleRow(SQLModel, table=True):
    __tablename__ = "rules"
    __table_args__ = (UniqueConstraint("installation_id", "key", name="uq_rules_key"),)

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE")
    stage_key: str | None = Field(default=None, max_length=63)  # a stage rule; or else an event rule:
    event: str | None = Field(default=None, max_length=40)
    event_params: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    cancel_on_move: bool = False  # an event rule's pending jobs stop when the order changes stage
    key: str = Field(max_length=63)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=40)
    config: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    position: int
    enabled: bool = True
    delay_seconds: int = 0
    at_time: str | None = Field(default=None, max_length=5)
    after_previous: bool = False
    repeat: str = Field(default="every_entry", max_length=20)
    condition: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    max_age_seconds: int | None = None
    updated_at: datetime = _utc(nullable=False)


class OrderRow(SQLModel, table=True):
    """The app's view of one Saleor order: its latest snapshot and current stage."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("installation_id", "order_id", name="uq_orders_order"),)

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE")
    order_id: str = Field(max_length=255)
    number: str | None = Field(default=None, max_length=64)
    snapshot: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    snapshot_at: datetime = _utc(nullable=False)
    stage_key: str | None = Field(default=None, max_length=63)
    first_seen_at: datetime = _utc(nullable=False)
    moving_to: str | None = Field(default=None, max_length=63)  # a write-back plan under way to this stage
    moving_since: datetime | None = _utc(nullable=True)


class TriggerRow(SQLModel, table=True):
    """Moves orders into `stage_key` when `event` happens (and the condition holds)."""

    __tablename__ = "triggers"
    __table_args__ = (UniqueConstraint("installation_id", "key", name="uq_triggers_key"),)

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE", index=True)
    stage_key: str = Field(max_length=63)
    key: str = Field(max_length=63)
    name: str = Field(max_length=200)
    event: str = Field(max_length=40)
    params: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    condition: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    allow_back: bool = False
    enabled: bool = True
    secret_encrypted: str | None = Field(default=None, max_length=512)  # inbound webhooks only
    position: int = 0
    updated_at: datetime = _utc(nullable=False)


class CatchUpRow(SQLModel, table=True):
    """Where the catch-up poller of an installation got to."""

    __tablename__ = "catch_up"

    installation_id: int = Field(primary_key=True, foreign_key="installations.id", ondelete="CASCADE")
    updated_since: datetime | None = _utc(nullable=True)
    last_run_at: datetime | None = _utc(nullable=True)
    last_recheck_at: datetime | None = _utc(nullable=True)
    last_error: str | None = Field(default=None, max_length=1000)


class StageEntryRow(SQLModel, table=True):
    """One visit of one order in one stage; at most one open (left_at NULL) per order."""

    __tablename__ = "stage_entries"
    __table_args__ = (
        Index("uq_stage_entries_open", "order_row_id", unique=True, sqlite_where=text("left_at IS NULL"),
              postgresql_where=text("left_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE")
    order_row_id: int = Field(foreign_key="orders.id", ondelete="CASCADE", index=True)
    stage_key: str = Field(max_length=63)
    entered_at: datetime = _utc(nullable=False)
    left_at: datetime | None = _utc(nullable=True)
    adopted: bool = False
    reason: str = Field(default="", max_length=500)


class JobRow(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_jobs_idempotency"),
        Index("ix_jobs_due", "state", "due_at"),
        Index("ix_jobs_entry", "entry_id", "state"),
        Index("ix_jobs_predecessor", "predecessor_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE")
    order_row_id: int = Field(foreign_key="orders.id", ondelete="CASCADE", index=True)
    entry_id: int | None = Field(default=None, foreign_key="stage_entries.id", ondelete="CASCADE")
    rule_id: int | None = Field(default=None)
    rule_key: str = Field(max_length=63)
    kind: str = Field(max_length=40)
    idempotency_key: str = Field(max_length=400)
    state: str = Field(max_length=16)
    due_at: datetime | None = _utc(nullable=True)
    predecessor_id: int | None = Field(default=None, foreign_key="jobs.id", ondelete="SET NULL")
    attempts: int = 0
    first_attempt_at: datetime | None = _utc(nullable=True)
    lease_until: datetime | None = _utc(nullable=True)
    reason: str = Field(default="", max_length=2000)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # system jobs
    created_at: datetime = _utc(nullable=False)
    updated_at: datetime = _utc(nullable=False)


class ActivityRow(SQLModel, table=True):
    """Every decision, with its reason: job state changes, stage moves, adoptions."""

    __tablename__ = "activity"
    __table_args__ = (
        Index("ix_activity_order", "installation_id", "order_row_id", "id"),
        Index("ix_activity_installation", "installation_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE")
    order_row_id: int | None = Field(default=None, foreign_key="orders.id", ondelete="CASCADE")
    job_id: int | None = Field(default=None, foreign_key="jobs.id", ondelete="CASCADE")
    kind: str = Field(max_length=32)
    state: str | None = Field(default=None, max_length=16)
    stage_key: str | None = Field(default=None, max_length=63)
    rule_key: str | None = Field(default=None, max_length=72)
    trigger_key: str | None = Field(default=None, max_length=63)
    message: str = Field(max_length=2000)
    at: datetime = _utc(nullable=False)
