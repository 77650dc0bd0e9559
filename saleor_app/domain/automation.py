"""Records the engine reads and writes: automation settings, orders, stage entries, jobs, activity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from saleor_app.domain.jobs import JobAttempt, JobState
from saleor_app.domain.schedule import QuietHours
from saleor_app.domain.stage_mirror import MirrorRecord
from saleor_app.domain.time_zones import iana_zone


@dataclass(frozen=True, slots=True)
class AutomationSettings:
    paused: bool = False
    time_zone: str = "UTC"
    quiet_hours: QuietHours | None = None

    @property
    def zone(self) -> ZoneInfo:
        return iana_zone(self.time_zone)

    @staticmethod
    def parse_time(value: str | None) -> time | None:
        return time.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class OrderRecord:
    id: int
    installation_id: int
    order_id: str
    number: str | None
    snapshot: dict[str, Any]
    snapshot_at: datetime
    stage_key: str | None
    first_seen_at: datetime
    moving_to: str | None = None  # a write-back plan is under way to this stage
    moving_since: datetime | None = None
    mirror: MirrorRecord = MirrorRecord()  # our last write of the stage into Saleor's private metadata


@dataclass(frozen=True, slots=True)
class StageEntry:
    id: int
    order_row_id: int
    stage_key: str
    entered_at: datetime
    left_at: datetime | None = None
    adopted: bool = False


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    installation_id: int
    order_row_id: int
    entry_id: int | None
    rule_id: int | None
    rule_key: str
    kind: str
    state: JobState
    due_at: datetime | None
    predecessor_id: int | None
    attempts: int
    first_attempt_at: datetime | None
    lease_until: datetime | None
    reason: str
    created_at: datetime
    payload: dict[str, Any] | None = None  # a system job's own config (a trigger's move has no rule)
    handed_over_at: datetime | None = None  # this attempt was about to call a provider (see engine/recovery.py)

    @property
    def run(self) -> JobAttempt:
        """The attempt a run that loaded this job holds."""
        return JobAttempt(self.id, self.attempts)


@dataclass(frozen=True, slots=True)
class NewJob:
    installation_id: int
    order_row_id: int
    entry_id: int | None
    rule_id: int | None
    rule_key: str
    kind: str
    idempotency_key: str
    state: JobState
    due_at: datetime | None
    predecessor_id: int | None = None
    payload: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ActivityFilter:
    """What the activity log is narrowed to; every field optional. Entries come newest first."""

    order_row_id: int | None = None
    stage_key: str | None = None
    rule_key: str | None = None
    trigger_key: str | None = None
    state: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None  # paging: entries older than this one
    limit: int = 100
    states: tuple[str, ...] = ()  # any of these (with `state`): "dead,unknown" from the alerts banner's link
    after_id: int | None = None  # polling: entries newer than this one, the oldest `limit` of them


@dataclass(frozen=True, slots=True)
class ActivityDelivery:
    """The send a job made (the latest, when it was retried): what the customer got and what the provider said."""

    channel: str  # email | sms | call
    sender: str
    recipient: str
    provider_message_id: str | None
    state: str
    reason: str
    last_event: str | None
    last_event_at: datetime | None
    excerpt: str


@dataclass(frozen=True, slots=True)
class LoggedActivity:
    id: int
    at: datetime
    kind: str
    message: str
    state: str | None  # the job's state when the entry was written
    order_id: str | None
    order_number: str | None
    job_id: int | None
    stage_key: str | None
    rule_key: str | None
    trigger_key: str | None
    job_state: str | None = None  # the job's state now (it may have moved on since the entry)
    job_reason: str | None = None
    job_kind: str | None = None
    delivery: ActivityDelivery | None = None


@dataclass(frozen=True, slots=True)
class JobChange:
    """A job's current state, for a log that polls: its rows already shown are brought up to date."""

    job_id: int
    state: str
    reason: str


@dataclass(frozen=True, slots=True)
class Activity:
    installation_id: int
    kind: str  # "stage" | "job" | "adopted" | "order"
    message: str
    order_row_id: int | None = None
    job_id: int | None = None
    state: str | None = None
    stage_key: str | None = None  # what it is about, for filtering the log
    rule_key: str | None = None
    trigger_key: str | None = None
