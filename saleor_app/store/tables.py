"""SQLModel tables. Every tenant-owned row carries `installation_id`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, LargeBinary, Text, UniqueConstraint, text
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
    workflow_key: str | None = Field(default=None, max_length=30, index=True)  # a workflow's step, not a rule
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
    # our last write of the stage into Saleor's private metadata (saleor_app/domain/stage_mirror.py)
    mirror_value: str | None = Field(default=None, max_length=63)
    mirror_entry_id: int | None = Field(default=None)
    mirror_pending_since: datetime | None = _utc(nullable=True)


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


JOBS_UNDISPATCHED = "state IN ('scheduled', 'retrying') AND dispatched_until IS NULL"
JOBS_DISPATCHED = "state IN ('scheduled', 'retrying') AND dispatched_until IS NOT NULL"


class JobRow(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_jobs_idempotency"),
        Index("ix_jobs_due", "state", "due_at"),
        Index("ix_jobs_entry", "entry_id", "state"),
        Index("ix_jobs_predecessor", "predecessor_id"),
        # Scale-out (0008): what the Celery dispatcher claims stays a small index however many jobs finished.
        Index("ix_jobs_undispatched", "due_at", sqlite_where=text(JOBS_UNDISPATCHED),
              postgresql_where=text(JOBS_UNDISPATCHED)),
        Index("ix_jobs_dispatched", "dispatched_until", sqlite_where=text(JOBS_DISPATCHED),
              postgresql_where=text(JOBS_DISPATCHED)),
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
    dispatched_until: datetime | None = _utc(nullable=True)  # sent to the broker; sent again after this
    handed_over_at: datetime | None = _utc(nullable=True)  # this attempt's provider call was about to start
    created_at: datetime = _utc(nullable=False)
    updated_at: datetime = _utc(nullable=False)


class ActivityRow(SQLModel, table=True):
    """Every decision, with its reason: job state changes, stage moves, adoptions."""

    __tablename__ = "activity"
    __table_args__ = (
        Index("ix_activity_order", "installation_id", "order_row_id", "id"),
        Index("ix_activity_installation", "installation_id", "id"),
        Index("ix_activity_rule", "installation_id", "rule_key", "id"),  # 0008: filtered views stay flat
        Index("ix_activity_state", "installation_id", "state", "id"),
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


# --- employee automation: team directory, sequences, tasks, workflows (issue 7) --------------------------------


class TeamMemberRow(SQLModel, table=True):
    """A staff member (or anyone the merchant adds) that rules can address."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("installation_id", "key", name="uq_team_members_key"),
                      UniqueConstraint("installation_id", "saleor_user_id", name="uq_team_members_user"))

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE")
    key: str = Field(max_length=63)
    name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    away: bool = False
    saleor_user_id: str | None = Field(default=None, max_length=255)
    source: str = Field(max_length=16)  # dashboard | manual | saleor
    updated_at: datetime = _utc(nullable=False)


class TeamGroupRow(SQLModel, table=True):
    __tablename__ = "team_groups"
    __table_args__ = (UniqueConstraint("installation_id", "key", name="uq_team_groups_key"),)

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE")
    key: str = Field(max_length=63)
    name: str = Field(default="", max_length=200)
    member_keys: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    last_pick: int = -1  # index into member_keys of the member the rotation chose last
    updated_at: datetime = _utc(nullable=False)


class RotationPickRow(SQLModel, table=True):
    """Whom a job's round robin chose: a retry or replay of the job gets the same member again."""

    __tablename__ = "rotation_picks"
    __table_args__ = (UniqueConstraint("group_id", "job_id", name="uq_rotation_picks_job"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="team_groups.id", ondelete="CASCADE")
    job_id: int = Field(foreign_key="jobs.id", ondelete="CASCADE", index=True)
    member_key: str = Field(max_length=63)
    picked_at: datetime = _utc(nullable=False)


class SequenceRow(SQLModel, table=True):
    __tablename__ = "sequences"
    __table_args__ = (UniqueConstraint("installation_id", "key", name="uq_sequences_key"),)

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE")
    key: str = Field(max_length=63)
    prefix: str = Field(default="", max_length=30)
    padding: int = 0
    next_value: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = _utc(nullable=False)


class SequenceNumberRow(SQLModel, table=True):
    """A number handed out: to one job, once; never twice in a sequence."""

    __tablename__ = "sequence_numbers"
    __table_args__ = (UniqueConstraint("sequence_id", "value", name="uq_sequence_numbers_value"),
                      UniqueConstraint("sequence_id", "job_id", name="uq_sequence_numbers_job"))

    id: int | None = Field(default=None, primary_key=True)
    sequence_id: int = Field(foreign_key="sequences.id", ondelete="CASCADE")
    job_id: int = Field(foreign_key="jobs.id", ondelete="CASCADE", index=True)
    value: int = Field(sa_column=Column(BigInteger, nullable=False))
    formatted: str = Field(max_length=64)
    allocated_at: datetime = _utc(nullable=False)


class TaskRow(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_installation_state", "installation_id", "state", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE")
    order_row_id: int = Field(foreign_key="orders.id", ondelete="CASCADE", index=True)
    job_id: int | None = Field(default=None, foreign_key="jobs.id", ondelete="SET NULL", unique=True)
    rule_key: str = Field(max_length=72)
    title: str = Field(max_length=500)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    assignee_key: str | None = Field(default=None, max_length=63)
    assignee_label: str = Field(default="", max_length=500)
    priority: str = Field(default="normal", max_length=16)
    due_at: datetime | None = _utc(nullable=True)
    state: str = Field(max_length=16)  # open | done | cancelled
    created_at: datetime = _utc(nullable=False)
    closed_at: datetime | None = _utc(nullable=True)
    closed_by: str | None = Field(default=None, max_length=255)


class WorkflowRow(SQLModel, table=True):
    """A named action list; its steps are rows of `rules` with `workflow_key` set (jobs run them like rules)."""

    __tablename__ = "workflows"
    __table_args__ = (UniqueConstraint("installation_id", "key", name="uq_workflows_key"),)

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE")
    key: str = Field(max_length=30)
    name: str = Field(default="", max_length=200)
    outlive_stage: bool = False
    enabled: bool = True
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _utc(nullable=False)


class SigningSecretRow(SQLModel, table=True):
    """The per-installation secret that signs outbound HTTP requests (HMAC-SHA256), encrypted."""

    __tablename__ = "signing_secrets"

    installation_id: int = Field(primary_key=True, foreign_key="installations.id", ondelete="CASCADE")
    secret_encrypted: str = Field(max_length=512)
    created_at: datetime = _utc(nullable=False)


class ProviderAccountRow(SQLModel, table=True):
    """A merchant's account at a messaging provider (Postmark server, SMTP account, Twilio account): credentials
    encrypted, `settings` non-secret, `registered` what the app set up at the provider (e.g. webhook ids)."""

    __tablename__ = "provider_accounts"
    __table_args__ = (UniqueConstraint("installation_id", "key", name="uq_provider_accounts_key"),)

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE", index=True)
    kind: str = Field(max_length=16)  # postmark | smtp | twilio
    key: str = Field(max_length=63)
    name: str = Field(max_length=200)
    credentials_encrypted: str = Field(max_length=8192)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    registered: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    callback_secret_encrypted: str | None = Field(default=None, max_length=512)  # authenticates its callbacks
    status: str = Field(default="unchecked", max_length=16)  # connected | failed | unchecked
    status_message: str = Field(default="", max_length=1000)
    checked_at: datetime | None = _utc(nullable=True)
    last_event_at: datetime | None = _utc(nullable=True)
    created_at: datetime = _utc(nullable=False)
    updated_at: datetime = _utc(nullable=False)


class SenderRow(SQLModel, table=True):
    """Where a message is sent from: a mailbox (email), a phone number or a messaging service."""

    __tablename__ = "senders"
    __table_args__ = (
        UniqueConstraint("provider_account_id", "kind", "address", name="uq_senders_address"),
        Index("ix_senders_installation", "installation_id", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider_account_id: int = Field(foreign_key="provider_accounts.id", ondelete="CASCADE")
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE")
    kind: str = Field(max_length=24)  # email | phone | messaging_service
    address: str = Field(max_length=320)
    display_name: str = Field(default="", max_length=200)
    external_id: str | None = Field(default=None, max_length=255)
    enabled: bool = True
    last_sent_at: datetime | None = _utc(nullable=True)  # last accepted send: "auto" picks the latest
    created_at: datetime = _utc(nullable=False)
    updated_at: datetime = _utc(nullable=False)


class MessageRow(SQLModel, table=True):
    """One send (email, SMS, call): written before the provider is called, so a crash mid-send leaves a trace."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_provider_message_id", "provider_message_id"),
        Index("ix_messages_job", "job_id"),
        Index("ix_messages_installation", "installation_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE")
    job_id: int | None = Field(default=None, foreign_key="jobs.id", ondelete="SET NULL")  # None: a test send
    order_row_id: int | None = Field(default=None, foreign_key="orders.id", ondelete="SET NULL")
    provider_account_id: int | None = Field(default=None, foreign_key="provider_accounts.id", ondelete="SET NULL")
    sender_id: int | None = Field(default=None, foreign_key="senders.id", ondelete="SET NULL")
    channel: str = Field(max_length=8)  # email | sms | call
    sender: str = Field(max_length=320)
    recipient: str = Field(max_length=320)
    provider_message_id: str | None = Field(default=None, max_length=255)
    state: str = Field(max_length=16)
    reason: str = Field(default="", max_length=1000)
    last_event: str | None = Field(default=None, max_length=40)
    last_event_at: datetime | None = _utc(nullable=True)
    is_test: bool = False
    excerpt: str = Field(default="", max_length=500)
    created_at: datetime = _utc(nullable=False)
    updated_at: datetime = _utc(nullable=False)


class SuppressionRow(SQLModel, table=True):
    """An address the installation must not send to (hard bounce, spam complaint, opt-out, added by hand)."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("installation_id", "channel", "address", name="uq_suppressions_address"),)

    id: int | None = Field(default=None, primary_key=True)
    installation_id: int = Field(foreign_key="installations.id", ondelete="CASCADE")
    channel: str = Field(max_length=8)  # email | phone
    address: str = Field(max_length=320)  # normalised: lower-case email, E.164 phone
    reason: str = Field(default="", max_length=500)
    source: str = Field(max_length=40)  # bounce | spam_complaint | opt_out | manual | import
    created_at: datetime = _utc(nullable=False)


# --- failure alerts (issue 10) ------------------------------------------------------------------------------------

JOBS_FAILED = "state IN ('dead', 'unknown')"
# 0010: the alerts banner asks on every page load for the dead and unknown jobs of the last 24 hours: a small
# partial index (failures are few) instead of walking every finished job.
Index("ix_jobs_failed", JobRow.__table__.c.installation_id, JobRow.__table__.c.updated_at,  # type: ignore[attr-defined]
      sqlite_where=text(JOBS_FAILED), postgresql_where=text(JOBS_FAILED))


class FailureAlertRow(SQLModel, table=True):
    """Per installation: the digest settings, the last digest (one a day, claimed by this row) and what Saleor
    was last told as app problems."""

    __tablename__ = "failure_alerts"

    installation_id: int = Field(primary_key=True, foreign_key="installations.id", ondelete="CASCADE")
    digest_enabled: bool = False
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    digest_hour: int = 8
    dashboard_url: str | None = Field(default=None, max_length=500)
    digest_day: str | None = Field(default=None, max_length=10)  # the shop's local day (YYYY-MM-DD) last claimed
    digest_at: datetime | None = _utc(nullable=True)
    digest_outcome: str = Field(default="", max_length=1000)
    digest_failed: bool = False
    problems: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    problems_at: datetime | None = _utc(nullable=True)
    problems_error: str = Field(default="", max_length=1000)
    updated_at: datetime = _utc(nullable=False)
