"""SqlAutomationStore: the engine's tables (pipeline, rules, orders, stage entries, jobs, activity) in SQL.

Core statements on one async connection per transaction. Claims are one `UPDATE … RETURNING`; on PostgreSQL
the candidate rows are locked with `FOR UPDATE SKIP LOCKED`, so several processes share the work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from saleor_app.domain.automation import (
    Activity,
    ActivityDelivery,
    ActivityFilter,
    AutomationSettings,
    Job,
    JobChange,
    LoggedActivity,
    NewJob,
    OrderRecord,
    StageEntry,
)
from saleor_app.domain.installations import InstallationStatus
from saleor_app.domain.jobs import CLAIMABLE, PENDING, JobState
from saleor_app.domain.pipeline import Pipeline, Refund, Stage, StageMatch
from saleor_app.domain.ports import ExecutionInput, InboxItem
from saleor_app.domain.providers import MessageState
from saleor_app.domain.rules import Repeat, Rule, RuleSpec
from saleor_app.domain.schedule import QuietHours
from saleor_app.domain.stage_mirror import MirrorRecord
from saleor_app.domain.triggers import Trigger, TriggerSpec
from saleor_app.store.database import aware
from saleor_app.store.hand_over import mark_handed_over
from saleor_app.store.providers import SqlProviderStore
from saleor_app.store.tables import (
    ActivityRow,
    AutomationSettingsRow,
    InstallationRow,
    JobRow,
    MessageRow,
    OrderRow,
    RuleRow,
    StageEntryRow,
    StageRow,
    TriggerRow,
    WebhookInboxRow,
)

SETTINGS = AutomationSettingsRow.__table__  # type: ignore[attr-defined]
STAGES = StageRow.__table__  # type: ignore[attr-defined]
RULES = RuleRow.__table__  # type: ignore[attr-defined]
ORDERS = OrderRow.__table__  # type: ignore[attr-defined]
ENTRIES = StageEntryRow.__table__  # type: ignore[attr-defined]
JOBS = JobRow.__table__  # type: ignore[attr-defined]
ACTIVITY = ActivityRow.__table__  # type: ignore[attr-defined]
INBOX = WebhookInboxRow.__table__  # type: ignore[attr-defined]
MESSAGES = MessageRow.__table__  # type: ignore[attr-defined]
INSTALLATIONS = InstallationRow.__table__  # type: ignore[attr-defined]
TRIGGERS = TriggerRow.__table__  # type: ignore[attr-defined]


def _must(value: datetime | None) -> datetime:
    result = aware(value)
    assert result is not None
    return result


def stage_from_row(row: Mapping[Any, Any]) -> Stage:
    match = row["match"]
    charge = match.get("charge_statuses")
    return Stage(
        key=row["key"],
        name=row["name"],
        match=StageMatch(
            statuses=frozenset(match.get("statuses") or ()),
            charge_statuses=frozenset(charge) if charge is not None else None,
            refund=Refund(match.get("refund", "any")),
            custom=bool(match.get("custom", False)),
        ),
        has_plan=bool(row["has_plan"]),
    )


def match_to_json(match: StageMatch) -> dict[str, Any]:
    return {
        "statuses": sorted(match.statuses),
        "charge_statuses": sorted(match.charge_statuses) if match.charge_statuses is not None else None,
        "refund": match.refund.value,
        "custom": match.custom,
    }


def rule_from_row(row: Mapping[Any, Any]) -> Rule:
    return Rule(
        id=row["id"],
        installation_id=row["installation_id"],
        stage_key=row["stage_key"],
        key=row["key"],
        name=row["name"],
        kind=row["kind"],
        config=dict(row["config"] or {}),
        position=row["position"],
        enabled=bool(row["enabled"]),
        delay=timedelta(seconds=row["delay_seconds"] or 0),
        at=time.fromisoformat(row["at_time"]) if row["at_time"] else None,
        after_previous=bool(row["after_previous"]),
        repeat=Repeat(row["repeat"]),
        condition=row["condition"],
        max_age=timedelta(seconds=row["max_age_seconds"]) if row["max_age_seconds"] is not None else None,
        event=row["event"],
        event_params=dict(row["event_params"]) if row["event_params"] else None,
        cancel_on_move=bool(row["cancel_on_move"]),
    )


def trigger_from_row(row: Mapping[Any, Any]) -> Trigger:
    return Trigger(
        id=row["id"], installation_id=row["installation_id"], stage_key=row["stage_key"], key=row["key"],
        name=row["name"], event=row["event"], params=dict(row["params"] or {}), condition=row["condition"],
        allow_back=bool(row["allow_back"]), enabled=bool(row["enabled"]), position=row["position"],
    )


def order_from_row(row: Mapping[Any, Any]) -> OrderRecord:
    return OrderRecord(
        id=row["id"],
        installation_id=row["installation_id"],
        order_id=row["order_id"],
        number=row["number"],
        snapshot=dict(row["snapshot"] or {}),
        snapshot_at=_must(row["snapshot_at"]),
        stage_key=row["stage_key"],
        first_seen_at=_must(row["first_seen_at"]),
        moving_to=row["moving_to"],
        moving_since=aware(row["moving_since"]),
        mirror=MirrorRecord(row["mirror_value"], row["mirror_entry_id"], aware(row["mirror_pending_since"])),
    )


def entry_from_row(row: Mapping[Any, Any]) -> StageEntry:
    return StageEntry(
        id=row["id"],
        order_row_id=row["order_row_id"],
        stage_key=row["stage_key"],
        entered_at=_must(row["entered_at"]),
        left_at=aware(row["left_at"]),
        adopted=bool(row["adopted"]),
    )


def settings_from_row(row: Mapping[Any, Any] | None) -> AutomationSettings:
    if row is None:
        return AutomationSettings()
    start, end = AutomationSettings.parse_time(row["quiet_start"]), AutomationSettings.parse_time(row["quiet_end"])
    quiet = QuietHours(start, end) if start is not None and end is not None else None
    return AutomationSettings(paused=bool(row["paused"]), time_zone=row["time_zone"], quiet_hours=quiet)


def _columns(row: Any, table: Table) -> dict[str, Any] | None:
    """One table's part of a joined row, by column name; None when an outer join found nothing."""
    values = {column.name: row._mapping[column] for column in table.c}
    return None if values[next(iter(table.primary_key)).name] is None else values


def _trigger_of(rule_key: str | None) -> str | None:
    """A trigger's move job is keyed `trigger:<key>`: its log lines belong to the trigger."""
    return rule_key.removeprefix("trigger:") if rule_key and rule_key.startswith("trigger:") else None


def job_from_row(row: Mapping[Any, Any]) -> Job:
    return Job(
        id=row["id"],
        installation_id=row["installation_id"],
        order_row_id=row["order_row_id"],
        entry_id=row["entry_id"],
        rule_id=row["rule_id"],
        rule_key=row["rule_key"],
        kind=row["kind"],
        state=JobState(row["state"]),
        due_at=aware(row["due_at"]),
        predecessor_id=row["predecessor_id"],
        attempts=row["attempts"],
        first_attempt_at=aware(row["first_attempt_at"]),
        lease_until=aware(row["lease_until"]),
        reason=row["reason"],
        created_at=_must(row["created_at"]),
        payload=row["payload"],
        handed_over_at=aware(row["handed_over_at"]),
    )


@dataclass(frozen=True, slots=True)
class _Config:
    """An installation's automation configuration, as of one `config_version`."""

    settings: AutomationSettings
    pipeline: Pipeline
    rules: tuple[Rule, ...]
    triggers: tuple[Trigger, ...]


ConfigCache = dict[int, tuple[int, _Config]]  # installation id → (config_version, config)


class SqlAutomationTransaction:
    """Configuration (settings, stages, rules, triggers) is read through a cache keyed by the installation's
    `config_version`, which every configuration write bumps in the same transaction: each transaction still
    reads the version, so every process sees a change as soon as it commits, and a webhook costs one read of
    configuration instead of five (each statement is a thread round trip on SQLite)."""

    def __init__(self, connection: AsyncConnection, cache: ConfigCache | None = None) -> None:
        self._c = connection
        self._cache: ConfigCache = cache if cache is not None else {}
        self._memo: dict[int, _Config] = {}

    @property
    def connection(self) -> AsyncConnection:
        """For the stores that write inside this transaction (a configuration import's team and workflows)."""
        return self._c

    def providers(self) -> SqlProviderStore:
        return SqlProviderStore.within(self._c)

    async def _config(self, installation_id: int) -> _Config:
        memo = self._memo.get(installation_id)
        if memo is not None:
            return memo
        row = await self._one(select(SETTINGS).where(SETTINGS.c.installation_id == installation_id))
        version = row["config_version"] if row is not None else None
        cached = self._cache.get(installation_id)
        if cached is not None and version is not None and cached[0] == version:
            config = cached[1]
        else:
            stages = await self._all(
                select(STAGES).where(STAGES.c.installation_id == installation_id).order_by(STAGES.c.position))
            rules = await self._all(select(RULES).where(RULES.c.installation_id == installation_id,
                                                        RULES.c.workflow_key.is_(None))  # workflow steps: no rules
                                    .order_by(RULES.c.position, RULES.c.id))
            triggers = await self._all(select(TRIGGERS).where(TRIGGERS.c.installation_id == installation_id)
                                       .order_by(TRIGGERS.c.position, TRIGGERS.c.id))
            config = _Config(settings_from_row(row), Pipeline(tuple(stage_from_row(r) for r in stages)),
                             tuple(rule_from_row(r) for r in rules), tuple(trigger_from_row(r) for r in triggers))
            if version is not None:
                self._cache[installation_id] = (version, config)
        self._memo[installation_id] = config
        return config

    async def _changed(self, installation_id: int) -> None:
        """A configuration write: bump the version (creating the settings row if need be), forget what was read."""
        self._memo.pop(installation_id, None)
        self._cache.pop(installation_id, None)
        bumped = await self._c.execute(
            update(SETTINGS).where(SETTINGS.c.installation_id == installation_id)
            .values(config_version=SETTINGS.c.config_version + 1).returning(SETTINGS.c.installation_id))
        if bumped.first() is None:
            await self._c.execute(insert(SETTINGS).values(installation_id=installation_id, paused=False,
                                                          time_zone="UTC", config_version=1,
                                                          updated_at=datetime.now(UTC)))

    async def _one(self, statement: Any) -> RowMapping | None:
        return (await self._c.execute(statement)).mappings().first()

    async def _all(self, statement: Any) -> Sequence[RowMapping]:
        return (await self._c.execute(statement)).mappings().all()

    async def settings(self, installation_id: int) -> AutomationSettings:
        return (await self._config(installation_id)).settings

    async def pipeline(self, installation_id: int) -> Pipeline:
        return (await self._config(installation_id)).pipeline

    async def rules(self, installation_id: int, stage_key: str) -> list[Rule]:
        return [rule for rule in (await self._config(installation_id)).rules if rule.stage_key == stage_key]

    async def rule(self, rule_id: int) -> Rule | None:
        row = await self._one(select(RULES).where(RULES.c.id == rule_id))
        return rule_from_row(row) if row is not None else None

    async def order(self, installation_id: int, order_id: str) -> OrderRecord | None:
        row = await self._one(
            select(ORDERS).where(ORDERS.c.installation_id == installation_id, ORDERS.c.order_id == order_id)
        )
        return order_from_row(row) if row is not None else None

    async def order_by_row(self, order_row_id: int) -> OrderRecord | None:
        row = await self._one(select(ORDERS).where(ORDERS.c.id == order_row_id))
        return order_from_row(row) if row is not None else None

    async def save_order(
        self, installation_id: int, order_id: str, snapshot: dict[str, Any], snapshot_at: datetime
    ) -> OrderRecord:
        builder = sqlite.insert if self._c.dialect.name == "sqlite" else postgresql.insert
        values = builder(ORDERS).values(installation_id=installation_id, order_id=order_id,
                                        number=snapshot.get("number"), snapshot=snapshot, snapshot_at=snapshot_at,
                                        first_seen_at=snapshot_at)
        upsert = values.on_conflict_do_update(
            index_elements=["installation_id", "order_id"],
            set_={"number": values.excluded.number, "snapshot": values.excluded.snapshot,
                  "snapshot_at": values.excluded.snapshot_at},
            where=ORDERS.c.snapshot_at <= values.excluded.snapshot_at,  # an older, slower read never wins
        ).returning(*ORDERS.c)
        row = (await self._c.execute(upsert)).mappings().first()
        if row is not None:
            return order_from_row(row)
        saved = await self.order(installation_id, order_id)
        assert saved is not None
        return saved

    async def set_order_stage(self, order_row_id: int, stage_key: str) -> None:
        await self._c.execute(update(ORDERS).where(ORDERS.c.id == order_row_id).values(stage_key=stage_key))

    async def open_entry(self, order_row_id: int) -> StageEntry | None:
        row = await self._one(
            select(ENTRIES).where(ENTRIES.c.order_row_id == order_row_id, ENTRIES.c.left_at.is_(None))
        )
        return entry_from_row(row) if row is not None else None

    async def entry(self, entry_id: int) -> StageEntry | None:
        row = await self._one(select(ENTRIES).where(ENTRIES.c.id == entry_id))
        return entry_from_row(row) if row is not None else None

    async def enter(
        self, installation_id: int, order_row_id: int, stage_key: str, at: datetime, *, adopted: bool, reason: str,
        leaving: int | None,
    ) -> StageEntry:
        if leaving is not None:
            await self._c.execute(update(ENTRIES).where(ENTRIES.c.id == leaving).values(left_at=at))
        result = await self._c.execute(
            insert(ENTRIES).values(installation_id=installation_id, order_row_id=order_row_id, stage_key=stage_key,
                                   entered_at=at, adopted=adopted, reason=reason[:500])
            .returning(ENTRIES.c.id)
        )
        entry_id = result.scalar_one()
        await self.set_order_stage(order_row_id, stage_key)
        return StageEntry(entry_id, order_row_id, stage_key, at, None, adopted)

    async def cancel_pending(self, entry_id: int, reason: str, now: datetime) -> list[int]:
        result = await self._c.execute(
            update(JOBS)
            .where(JOBS.c.entry_id == entry_id, JOBS.c.state.in_([state.value for state in PENDING]))
            .values(state=JobState.CANCELLED.value, reason=reason[:2000], updated_at=now, lease_until=None)
            .returning(JOBS.c.id)
        )
        return [row[0] for row in result]

    async def claim_order_jobs(self, order_row_id: int, now: datetime, lease: timedelta) -> list[int]:
        result = await self._c.execute(
            update(JOBS)
            .where(JOBS.c.order_row_id == order_row_id, JOBS.c.state.in_([state.value for state in CLAIMABLE]),
                   JOBS.c.due_at <= now)
            .values(state=JobState.RUNNING.value, lease_until=now + lease, attempts=JOBS.c.attempts + 1,
                    first_attempt_at=func.coalesce(JOBS.c.first_attempt_at, now), handed_over_at=None,
                    updated_at=now)
            .returning(JOBS.c.id)
        )
        return [row[0] for row in result]

    async def ran_once(self, order_row_id: int) -> set[str]:
        rows = await self._c.execute(
            select(JOBS.c.rule_key).where(
                JOBS.c.order_row_id == order_row_id, JOBS.c.state != JobState.CANCELLED.value
            ).distinct()
        )
        return {row[0] for row in rows}

    async def add_job(self, job: NewJob, now: datetime) -> int | None:
        builder = sqlite.insert if self._c.dialect.name == "sqlite" else postgresql.insert
        result = await self._c.execute(
            builder(JOBS)
            .values(installation_id=job.installation_id, order_row_id=job.order_row_id, entry_id=job.entry_id,
                    rule_id=job.rule_id, rule_key=job.rule_key, kind=job.kind, idempotency_key=job.idempotency_key,
                    state=job.state.value, due_at=job.due_at, predecessor_id=job.predecessor_id, attempts=0,
                    payload=job.payload,
                    reason="", created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(JOBS.c.id)
        )
        row = result.first()
        return row[0] if row is not None else None

    async def job(self, job_id: int) -> Job | None:
        row = await self._one(select(JOBS).where(JOBS.c.id == job_id))
        return job_from_row(row) if row is not None else None

    async def update_job(self, job_id: int, now: datetime, **changes: Any) -> None:
        if "state" in changes and isinstance(changes["state"], JobState):
            changes["state"] = changes["state"].value
        if "reason" in changes:
            changes["reason"] = str(changes["reason"])[:2000]
        await self._c.execute(update(JOBS).where(JOBS.c.id == job_id).values(updated_at=now, **changes))

    async def jobs_by_id(self, job_ids: Sequence[int]) -> dict[int, Job]:
        rows = await self._all(select(JOBS).where(JOBS.c.id.in_(list(job_ids))))
        return {row["id"]: job_from_row(row) for row in rows}

    async def latest_message(self, job_id: int) -> tuple[int, MessageState] | None:
        row = (await self._c.execute(select(MESSAGES.c.id, MESSAGES.c.state).where(MESSAGES.c.job_id == job_id)
                                     .order_by(MESSAGES.c.id.desc()).limit(1))).first()
        return (row[0], MessageState(row[1])) if row is not None else None

    async def finish_jobs(self, changes: Sequence[dict[str, Any]], now: datetime) -> None:
        """Many job updates in one statement; each dict has `job_id`, `state`, `reason`, and may have `due_at`."""
        with_due = [c for c in changes if "due_at" in c]
        without = [c for c in changes if "due_at" not in c]
        groups: list[tuple[list[dict[str, Any]], dict[str, Any]]] = [
            (with_due, {"due_at": bindparam("b_due_at")}), (without, {})]
        for group, extra in groups:
            if not group:
                continue
            statement = (
                update(JOBS).where(JOBS.c.id == bindparam("b_id"))
                .values(state=bindparam("b_state"), reason=bindparam("b_reason"), lease_until=None,
                        updated_at=now, **extra)
            )
            await self._c.execute(statement, [
                {"b_id": c["job_id"], "b_state": JobState(c["state"]).value, "b_reason": str(c["reason"])[:2000],
                 **({"b_due_at": c["due_at"]} if "due_at" in c else {})} for c in group])

    async def log_many(self, activities: Sequence[Activity], now: datetime) -> None:
        if not activities:
            return
        # A line about a job without its rule (a stage move cancels jobs by entry) still belongs to that rule:
        # the log filtered by rule must show why its job was cancelled.
        unnamed = {a.job_id for a in activities if a.job_id is not None and a.rule_key is None}
        rule_of: dict[int, str] = {}
        if unnamed:
            found = await self._c.execute(select(JOBS.c.id, JOBS.c.rule_key).where(JOBS.c.id.in_(sorted(unnamed))))
            rule_of = {row[0]: row[1] for row in found.all()}
        rows = []
        for a in activities:
            rule_key = a.rule_key or (rule_of.get(a.job_id) if a.job_id is not None else None)
            rows.append({"installation_id": a.installation_id, "order_row_id": a.order_row_id, "job_id": a.job_id,
                         "kind": a.kind, "state": a.state, "message": a.message[:2000], "at": now,
                         "stage_key": a.stage_key, "rule_key": rule_key,
                         "trigger_key": a.trigger_key or _trigger_of(rule_key)})
        await self._c.execute(insert(ACTIVITY), rows)

    async def waiting_successors(self, job_ids: Sequence[int]) -> list[Job]:
        rows = await self._all(
            select(JOBS).where(JOBS.c.predecessor_id.in_(list(job_ids)), JOBS.c.state == JobState.WAITING.value)
        )
        return [job_from_row(row) for row in rows]

    async def successors(self, job_id: int) -> list[Job]:
        rows = await self._all(select(JOBS).where(JOBS.c.predecessor_id == job_id).order_by(JOBS.c.id))
        return [job_from_row(row) for row in rows]

    async def pending_jobs_of_rule(self, rule_id: int) -> list[Job]:
        rows = await self._all(
            select(JOBS).where(JOBS.c.rule_id == rule_id, JOBS.c.state.in_([s.value for s in PENDING]))
        )
        return [job_from_row(row) for row in rows]

    async def log(self, activity: Activity, now: datetime) -> None:
        await self.log_many([activity], now)

    async def rule_by_key(self, installation_id: int, key: str) -> Rule | None:
        row = await self._one(select(RULES).where(RULES.c.installation_id == installation_id, RULES.c.key == key))
        return rule_from_row(row) if row is not None else None

    async def save_rule(self, installation_id: int, spec: RuleSpec, now: datetime) -> Rule:
        values = {
            "stage_key": spec.stage, "event": spec.event, "event_params": dict(spec.event_params) or None,
            "cancel_on_move": spec.cancel_on_move, "name": spec.name, "kind": spec.kind, "config": dict(spec.config),
            "enabled": spec.enabled, "delay_seconds": spec.delay_seconds,
            "at_time": spec.at.strftime("%H:%M") if spec.at else None, "after_previous": spec.after_previous,
            "repeat": spec.repeat.value,
            "condition": spec.condition.model_dump(mode="json") if spec.condition else None,
            "max_age_seconds": spec.max_age_seconds, "updated_at": now,
        }
        existing = await self.rule_by_key(installation_id, spec.key)
        if existing is None:
            position = (
                await self._c.execute(
                    select(func.coalesce(func.max(RULES.c.position), -1))
                    .where(RULES.c.installation_id == installation_id,
                           RULES.c.stage_key == spec.stage if spec.stage is not None else RULES.c.event == spec.event)
                )
            ).scalar_one() + 1
            await self._c.execute(insert(RULES).values(installation_id=installation_id, key=spec.key,
                                                       position=position, **values))
        else:
            await self._c.execute(update(RULES).where(RULES.c.id == existing.id).values(**values))
        await self._changed(installation_id)
        saved = await self.rule_by_key(installation_id, spec.key)
        assert saved is not None
        return saved

    async def delete_rule(self, rule_id: int) -> None:
        deleted = await self._c.execute(RULES.delete().where(RULES.c.id == rule_id).returning(RULES.c.installation_id))
        for (installation_id,) in deleted.all():
            await self._changed(installation_id)

    async def event_rules(self, installation_id: int, events: Sequence[str]) -> list[Rule]:
        wanted = set(events)
        chosen = [rule for rule in (await self._config(installation_id)).rules if rule.event in wanted]
        return sorted(chosen, key=lambda rule: (rule.event or "", rule.position, rule.id))

    async def all_rules(self, installation_id: int) -> list[Rule]:
        return list((await self._config(installation_id)).rules)

    async def triggers(self, installation_id: int) -> list[Trigger]:
        return list((await self._config(installation_id)).triggers)

    async def trigger_by_key(self, installation_id: int, key: str) -> Trigger | None:
        row = await self._one(select(TRIGGERS).where(TRIGGERS.c.installation_id == installation_id,
                                                     TRIGGERS.c.key == key))
        return trigger_from_row(row) if row is not None else None

    async def activity(self, installation_id: int, where: ActivityFilter) -> list[LoggedActivity]:
        """Newest first; with `after_id`, the oldest `limit` entries after it (still returned newest first), so a
        poller that fell behind catches up page by page and misses nothing. Each entry carries its job's state
        now and the job's latest send, read in one more query for the whole page."""
        newer = where.after_id is not None
        statement = (
            select(ACTIVITY, ORDERS.c.order_id, ORDERS.c.number, JOBS.c.state.label("job_state"),
                   JOBS.c.reason.label("job_reason"), JOBS.c.kind.label("job_kind"))
            .outerjoin(ORDERS, ORDERS.c.id == ACTIVITY.c.order_row_id)
            .outerjoin(JOBS, JOBS.c.id == ACTIVITY.c.job_id)
            .where(ACTIVITY.c.installation_id == installation_id)
            .order_by(ACTIVITY.c.id.asc() if newer else ACTIVITY.c.id.desc())
            .limit(max(1, min(where.limit, 1000)))
        )
        for column, value in ((ACTIVITY.c.order_row_id, where.order_row_id), (ACTIVITY.c.stage_key, where.stage_key),
                              (ACTIVITY.c.rule_key, where.rule_key), (ACTIVITY.c.trigger_key, where.trigger_key)):
            if value is not None:
                statement = statement.where(column == value)
        states = sorted({*where.states, *([where.state] if where.state else [])})
        if states:
            statement = statement.where(ACTIVITY.c.state.in_(states))
        if where.since is not None:
            statement = statement.where(ACTIVITY.c.at >= where.since)
        if where.until is not None:
            statement = statement.where(ACTIVITY.c.at < where.until)
        if where.before_id is not None:
            statement = statement.where(ACTIVITY.c.id < where.before_id)
        if where.after_id is not None:
            statement = statement.where(ACTIVITY.c.id > where.after_id)
        rows = await self._all(statement)
        if newer:
            rows = rows[::-1]
        sends = await self._latest_sends(installation_id, {row["job_id"] for row in rows if row["job_id"]})
        return [LoggedActivity(id=row["id"], at=_must(row["at"]), kind=row["kind"], message=row["message"],
                               state=row["state"], order_id=row["order_id"], order_number=row["number"],
                               job_id=row["job_id"], stage_key=row["stage_key"], rule_key=row["rule_key"],
                               trigger_key=row["trigger_key"], job_state=row["job_state"],
                               job_reason=row["job_reason"], job_kind=row["job_kind"],
                               delivery=sends.get(row["job_id"])) for row in rows]

    async def _latest_sends(self, installation_id: int, job_ids: Collection[int]) -> dict[int, ActivityDelivery]:
        if not job_ids:
            return {}
        rows = await self._all(select(MESSAGES).where(MESSAGES.c.installation_id == installation_id,
                                                      MESSAGES.c.job_id.in_(sorted(job_ids)))
                               .order_by(MESSAGES.c.id))
        return {row["job_id"]: ActivityDelivery(
            channel=row["channel"], sender=row["sender"], recipient=row["recipient"],
            provider_message_id=row["provider_message_id"], state=row["state"], reason=row["reason"],
            last_event=row["last_event"], last_event_at=aware(row["last_event_at"]), excerpt=row["excerpt"],
        ) for row in rows}  # ascending ids: the latest send of a job wins

    async def newest_activity_id(self, installation_id: int) -> int:
        """Where a poller continues from, whatever its filters (ix_activity_installation: one index step)."""
        return int((await self._c.execute(select(func.coalesce(func.max(ACTIVITY.c.id), 0))
                                          .where(ACTIVITY.c.installation_id == installation_id))).scalar_one())

    async def job_changes(self, installation_id: int, after_id: int, limit: int = 500) -> list[JobChange]:
        """The current state of every job the log mentions after `after_id`, whatever a view is filtered to: rows
        already shown (a failed job, then replayed) are brought up to date by the same poll."""
        touched = (select(ACTIVITY.c.job_id).where(ACTIVITY.c.installation_id == installation_id,
                                                   ACTIVITY.c.id > after_id, ACTIVITY.c.job_id.is_not(None))
                   .order_by(ACTIVITY.c.id).limit(limit))
        rows = await self._all(select(JOBS.c.id, JOBS.c.state, JOBS.c.reason)
                               .where(JOBS.c.id.in_(touched.scalar_subquery())).order_by(JOBS.c.id))
        return [JobChange(job_id=row["id"], state=row["state"], reason=row["reason"]) for row in rows]

    async def trigger_by_id(self, trigger_id: int) -> Trigger | None:
        row = await self._one(select(TRIGGERS).where(TRIGGERS.c.id == trigger_id))
        return trigger_from_row(row) if row is not None else None

    async def order_by_number(self, installation_id: int, number: str) -> OrderRecord | None:
        row = await self._one(select(ORDERS).where(ORDERS.c.installation_id == installation_id,
                                                   ORDERS.c.number == number))
        return order_from_row(row) if row is not None else None

    async def trigger_secret(self, trigger_id: int) -> str | None:
        return cast(str | None, (await self._c.execute(
            select(TRIGGERS.c.secret_encrypted).where(TRIGGERS.c.id == trigger_id))).scalar_one_or_none())

    async def save_trigger(self, installation_id: int, spec: TriggerSpec, now: datetime,
                           secret_encrypted: str | None = None) -> Trigger:
        values: dict[str, Any] = {
            "stage_key": spec.stage, "name": spec.name or spec.key, "event": spec.event, "params": dict(spec.params),
            "condition": spec.condition.model_dump(mode="json") if spec.condition else None,
            "allow_back": spec.allow_back, "enabled": spec.enabled, "updated_at": now,
        }
        if secret_encrypted is not None:
            values["secret_encrypted"] = secret_encrypted
        existing = await self.trigger_by_key(installation_id, spec.key)
        if existing is None:
            position = (await self._c.execute(
                select(func.coalesce(func.max(TRIGGERS.c.position), -1))
                .where(TRIGGERS.c.installation_id == installation_id))).scalar_one() + 1
            await self._c.execute(insert(TRIGGERS).values(installation_id=installation_id, key=spec.key,
                                                          position=position, **values))
        else:
            await self._c.execute(update(TRIGGERS).where(TRIGGERS.c.id == existing.id).values(**values))
        await self._changed(installation_id)
        saved = await self.trigger_by_key(installation_id, spec.key)
        assert saved is not None
        return saved

    async def delete_trigger(self, trigger_id: int) -> None:
        deleted = await self._c.execute(
            TRIGGERS.delete().where(TRIGGERS.c.id == trigger_id).returning(TRIGGERS.c.installation_id))
        for (installation_id,) in deleted.all():
            await self._changed(installation_id)

    async def set_moving(self, order_row_id: int, stage_key: str | None, now: datetime) -> None:
        await self._c.execute(update(ORDERS).where(ORDERS.c.id == order_row_id).values(
            moving_to=stage_key, moving_since=now if stage_key is not None else None))

    async def claim_mirror(self, order_row_id: int, expected: MirrorRecord, record: MirrorRecord) -> bool:
        """Compare and set: concurrent writers (rounds, their follow-ups, Celery workers) read the same record;
        only the one that finds it unchanged may act on its decision."""
        changed = await self._c.execute(update(ORDERS).where(
            ORDERS.c.id == order_row_id,
            ORDERS.c.mirror_entry_id.is_not_distinct_from(expected.entry_id),
            ORDERS.c.mirror_value.is_not_distinct_from(expected.value),
            ORDERS.c.mirror_pending_since.is_not_distinct_from(expected.pending_since),
        ).values(mirror_value=record.value, mirror_entry_id=record.entry_id,
                 mirror_pending_since=record.pending_since))
        return bool(changed.rowcount)

    async def entries_since(self, order_row_id: int, since: datetime) -> int:
        return int((await self._c.execute(
            select(func.count()).select_from(ENTRIES)
            .where(ENTRIES.c.order_row_id == order_row_id, ENTRIES.c.entered_at >= since))).scalar_one())

    async def save_settings(self, installation_id: int, settings: AutomationSettings, now: datetime) -> None:
        values = {
            "paused": settings.paused, "time_zone": settings.time_zone,
            "quiet_start": settings.quiet_hours.start.strftime("%H:%M") if settings.quiet_hours else None,
            "quiet_end": settings.quiet_hours.end.strftime("%H:%M") if settings.quiet_hours else None,
            "updated_at": now,
        }
        builder = sqlite.insert if self._c.dialect.name == "sqlite" else postgresql.insert
        statement = builder(SETTINGS).values(installation_id=installation_id, **values)
        await self._c.execute(statement.on_conflict_do_update(index_elements=["installation_id"], set_=values))
        await self._changed(installation_id)

    async def add_stage(self, installation_id: int, stage: Stage) -> None:
        last = select(func.coalesce(func.max(STAGES.c.position), -1)).where(STAGES.c.installation_id == installation_id)
        position = (await self._c.execute(last)).scalar_one() + 1
        await self._c.execute(insert(STAGES).values(installation_id=installation_id, key=stage.key, name=stage.name,
                                                    position=position, match=match_to_json(stage.match),
                                                    has_plan=stage.has_plan))
        await self._changed(installation_id)

    async def save_stage(self, installation_id: int, stage: Stage, position: int | None) -> None:
        """Insert or update the stage with that key; position None keeps a stored stage's place or appends."""
        values: dict[str, Any] = {"name": stage.name, "match": match_to_json(stage.match), "has_plan": stage.has_plan}
        await self._changed(installation_id)
        if position is not None:
            values["position"] = position
        updated = await self._c.execute(
            update(STAGES).where(STAGES.c.installation_id == installation_id, STAGES.c.key == stage.key)
            .values(**values).returning(STAGES.c.id))
        if updated.first() is not None:
            return
        if position is None:
            last = select(func.coalesce(func.max(STAGES.c.position), -1)).where(
                STAGES.c.installation_id == installation_id)
            values["position"] = (await self._c.execute(last)).scalar_one() + 1
        await self._c.execute(insert(STAGES).values(installation_id=installation_id, key=stage.key, **values))

    async def delete_stage(self, installation_id: int, key: str) -> None:
        await self._c.execute(STAGES.delete().where(STAGES.c.installation_id == installation_id, STAGES.c.key == key))
        await self._changed(installation_id)

    async def orders_in_stage(self, installation_id: int, key: str) -> int:
        """Orders in the stage now, or on their way into it (a write-back plan under way)."""
        return int((await self._c.execute(
            select(func.count()).select_from(ORDERS).where(
                ORDERS.c.installation_id == installation_id, or_(ORDERS.c.stage_key == key, ORDERS.c.moving_to == key))
        )).scalar_one())

    async def set_rule_position(self, rule_id: int, position: int, now: datetime) -> None:
        changed = await self._c.execute(update(RULES).where(RULES.c.id == rule_id)
                                        .values(position=position, updated_at=now).returning(RULES.c.installation_id))
        for (installation_id,) in changed.all():
            await self._changed(installation_id)

    async def set_trigger_position(self, trigger_id: int, position: int, now: datetime) -> None:
        changed = await self._c.execute(update(TRIGGERS).where(TRIGGERS.c.id == trigger_id)
                                        .values(position=position, updated_at=now)
                                        .returning(TRIGGERS.c.installation_id))
        for (installation_id,) in changed.all():
            await self._changed(installation_id)

    async def pending_jobs(self, installation_id: int) -> list[Job]:
        rows = await self._all(
            select(JOBS).where(JOBS.c.installation_id == installation_id, JOBS.c.state.in_([s.value for s in PENDING]))
        )
        return [job_from_row(row) for row in rows]

    def _in_stage(self, installation_id: int, stage_key: str) -> Any:
        # From the orders side: (installation_id, order_id) is indexed, and each order has one open entry.
        return (ENTRIES.join(ORDERS, ORDERS.c.id == ENTRIES.c.order_row_id), and_(
            ORDERS.c.installation_id == installation_id, ORDERS.c.stage_key == stage_key,
            ENTRIES.c.stage_key == stage_key, ENTRIES.c.left_at.is_(None)))

    async def open_entries(self, installation_id: int, stage_key: str, *, limit: int,
                           after_entry_id: int = 0) -> list[tuple[StageEntry, OrderRecord]]:
        joined, in_stage = self._in_stage(installation_id, stage_key)
        rows = (await self._c.execute(
            select(ENTRIES, ORDERS).select_from(joined).where(in_stage, ENTRIES.c.id > after_entry_id)
            .order_by(ENTRIES.c.id).limit(limit))).all()
        pairs: list[tuple[StageEntry, OrderRecord]] = []
        for row in rows:
            entry, order = _columns(row, ENTRIES), _columns(row, ORDERS)
            assert entry is not None and order is not None
            pairs.append((entry_from_row(entry), order_from_row(order)))
        return pairs

    async def count_open_entries(self, installation_id: int, stage_key: str) -> int:
        joined, in_stage = self._in_stage(installation_id, stage_key)
        return int((await self._c.execute(select(func.count()).select_from(joined).where(in_stage))).scalar_one())

    async def jobs_by_keys(self, keys: Sequence[str]) -> dict[str, Job]:
        rows = await self._all(select(JOBS).where(JOBS.c.idempotency_key.in_(list(keys)))) if keys else []
        return {row["idempotency_key"]: job_from_row(row) for row in rows}

    async def orders_with_rule_jobs(self, installation_id: int, rule_key: str) -> set[int]:
        rows = await self._c.execute(
            select(JOBS.c.order_row_id).where(JOBS.c.installation_id == installation_id, JOBS.c.rule_key == rule_key,
                                              JOBS.c.state != JobState.CANCELLED.value).distinct())
        return {row[0] for row in rows}

    async def order_history(self, order_row_id: int, limit: int = 50) -> list[tuple[StageEntry, str]]:
        rows = await self._all(select(ENTRIES).where(ENTRIES.c.order_row_id == order_row_id)
                               .order_by(ENTRIES.c.id.desc()).limit(limit))
        return [(entry_from_row(row), row["reason"] or "") for row in rows]

    async def order_jobs(self, order_row_id: int, states: Collection[JobState]) -> list[Job]:
        rows = await self._all(select(JOBS).where(JOBS.c.order_row_id == order_row_id,
                                                  JOBS.c.state.in_([state.value for state in states]))
                               .order_by(JOBS.c.id))
        return [job_from_row(row) for row in rows]

    async def finish_inbox(self, ids: Sequence[int], now: datetime, state: str = "processed") -> None:
        if ids:
            await self._c.execute(
                update(INBOX).where(INBOX.c.id.in_(list(ids))).values(state=state, processed_at=now)
            )


class SqlAutomationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # SQLite takes one writer at a time and makes the others sleep in its busy handler (1, 2, 5, 10 … 100 ms):
        # queueing this process's write transactions here instead keeps each one short and the latency low.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._config_cache: ConfigCache = {}

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        if self._write_lock is None:
            async with self._engine.begin() as connection:
                yield connection
            return
        async with self._write_lock, self._engine.connect() as connection:
            await connection.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock now, not on first write
            try:
                yield connection
            except BaseException:
                await connection.rollback()
                raise
            await connection.commit()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlAutomationTransaction]:
        async with self._begin() as connection:
            yield SqlAutomationTransaction(connection, self._config_cache)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[SqlAutomationTransaction]:
        async with self._engine.connect() as connection:
            yield SqlAutomationTransaction(connection, self._config_cache)

    async def load_for_execution(self, job_ids: Sequence[int]) -> list[ExecutionInput]:
        """Everything the executor checks before a side effect, for many jobs, in ONE read (no write lock):
        each statement costs SQLite's driver a thread round trip, and this is on every job's critical path."""
        statement = (
            select(JOBS, RULES, ENTRIES, ORDERS, SETTINGS)
            .outerjoin(RULES, RULES.c.id == JOBS.c.rule_id)
            .outerjoin(ENTRIES, ENTRIES.c.id == JOBS.c.entry_id)
            .outerjoin(ORDERS, ORDERS.c.id == JOBS.c.order_row_id)
            .outerjoin(SETTINGS, SETTINGS.c.installation_id == JOBS.c.installation_id)
            .where(JOBS.c.id.in_(list(job_ids)))
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        found: dict[int, ExecutionInput] = {}
        for row in rows:
            job, rule, entry, order, settings = (_columns(row, table) for table in (JOBS, RULES, ENTRIES, ORDERS,
                                                                                    SETTINGS))
            assert job is not None
            found[job["id"]] = ExecutionInput(
                job_from_row(job),
                rule_from_row(rule) if rule is not None else None,
                entry_from_row(entry) if entry is not None else None,
                order_from_row(order) if order is not None else None,
                settings_from_row(settings),
            )
        return [found[job_id] for job_id in job_ids if job_id in found]

    async def pending_inbox(self, limit: int, *, skip_orders: Collection[str] = ()) -> list[InboxItem]:
        statement = (
            select(INBOX.c.id, INBOX.c.installation_id, INBOX.c.event, INBOX.c.order_id, INBOX.c.self_caused,
                   INBOX.c.parse_error)
            .join(INSTALLATIONS, INSTALLATIONS.c.id == INBOX.c.installation_id)
            # A deactivated installation's deliveries wait (its token does not work) without holding up the rest.
            .where(INBOX.c.state == "pending", INSTALLATIONS.c.status != InstallationStatus.INACTIVE.value)
            .order_by(INBOX.c.id).limit(limit)
        )
        if skip_orders:
            statement = statement.where(or_(INBOX.c.order_id.is_(None), INBOX.c.order_id.not_in(list(skip_orders))))
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [InboxItem(r["id"], r["installation_id"], r["event"], r["order_id"], bool(r["self_caused"]),
                          r["parse_error"]) for r in rows]

    async def has_pending_inbox(self, installation_id: int, order_id: str) -> bool:
        statement = select(INBOX.c.id).where(INBOX.c.state == "pending", INBOX.c.installation_id == installation_id,
                                             INBOX.c.order_id == order_id).limit(1)
        async with self._engine.connect() as connection:
            return (await connection.execute(statement)).first() is not None

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[int]:
        candidates = (
            select(JOBS.c.id)
            .join(INSTALLATIONS, INSTALLATIONS.c.id == JOBS.c.installation_id)
            .outerjoin(SETTINGS, SETTINGS.c.installation_id == JOBS.c.installation_id)
            .where(
                JOBS.c.state.in_([state.value for state in CLAIMABLE]),
                JOBS.c.due_at <= now,
                INSTALLATIONS.c.status == InstallationStatus.ACTIVE.value,
                or_(SETTINGS.c.paused.is_(None), SETTINGS.c.paused.is_(False)),
            )
            .order_by(JOBS.c.due_at)
            .limit(limit)
        )
        if self._engine.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True, of=JOBS)
        statement = (
            update(JOBS)
            .where(JOBS.c.id.in_(candidates.scalar_subquery()))
            .values(state=JobState.RUNNING.value, lease_until=now + lease, attempts=JOBS.c.attempts + 1,
                    first_attempt_at=func.coalesce(JOBS.c.first_attempt_at, now), handed_over_at=None,
                    updated_at=now)
            .returning(JOBS.c.id)
        )
        async with self._begin() as connection:
            return [row[0] for row in await connection.execute(statement)]

    async def expired_leases(self, now: datetime) -> list[Job]:
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(JOBS).where(and_(JOBS.c.state == JobState.RUNNING.value, JOBS.c.lease_until < now))
                )
            ).mappings().all()
        return [job_from_row(row) for row in rows]

    async def hand_over(self, job_id: int, attempt: int, now: datetime) -> bool:
        async with self._begin() as connection:
            return await mark_handed_over(connection, job_id, attempt, now)

    async def next_due_at(self) -> datetime | None:
        async with self._engine.connect() as connection:
            value = (
                await connection.execute(
                    select(func.min(JOBS.c.due_at)).where(JOBS.c.state.in_([s.value for s in CLAIMABLE]))
                )
            ).scalar()
        return aware(value)

    async def seed_pipeline(self, installation_id: int, pipeline: Pipeline, now: datetime) -> bool:
        async with self._begin() as connection:
            exists = (
                await connection.execute(select(func.count()).where(STAGES.c.installation_id == installation_id))
            ).scalar_one()
            if exists:
                return False
            await connection.execute(
                insert(STAGES),
                [
                    {"installation_id": installation_id, "key": stage.key, "name": stage.name, "position": index,
                     "match": match_to_json(stage.match), "has_plan": stage.has_plan}
                    for index, stage in enumerate(pipeline.stages)
                ],
            )
            builder = sqlite.insert if connection.dialect.name == "sqlite" else postgresql.insert
            await connection.execute(
                builder(SETTINGS).values(installation_id=installation_id, paused=False, time_zone="UTC",
                                         updated_at=now).on_conflict_do_nothing(index_elements=["installation_id"])
            )
            await connection.execute(update(SETTINGS).where(SETTINGS.c.installation_id == installation_id)
                                     .values(config_version=SETTINGS.c.config_version + 1))
            self._config_cache.pop(installation_id, None)
        return True
