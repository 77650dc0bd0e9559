"""SqlAlertStore: dead and unknown jobs of the last 24 hours, the alert settings, the day's digest claim and what
Saleor was last told as app problems.

The failure query spells its predicate as the partial index `ix_jobs_failed` does (literal states), so PostgreSQL
uses that small index even for a prepared statement's generic plan. The digest is claimed by a conditional
UPDATE of the installation's row: of several replicas ticking at once, exactly one moves `digest_day` to today.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from saleor_app.domain.alerts import AlertSettings, DigestState, FailedJob, FailureSummary, ProblemState, Reported
from saleor_app.domain.automation import Activity
from saleor_app.domain.jobs import JobState
from saleor_app.store.automation import SqlAutomationTransaction
from saleor_app.store.database import aware
from saleor_app.store.tables import JOBS_FAILED, FailureAlertRow, JobRow, OrderRow, RuleRow
from saleor_app.store.team import write_transaction

LOCK = "saleor-automation:alerts"
_LOCK_ID = "hashtext(current_schema() || ':' || :name)"  # per schema, as store/leader.py keys its lock
JOBS = JobRow.__table__  # type: ignore[attr-defined]
ORDERS = OrderRow.__table__  # type: ignore[attr-defined]
RULES = RuleRow.__table__  # type: ignore[attr-defined]
ALERTS = FailureAlertRow.__table__  # type: ignore[attr-defined]


def failed_jobs(installation_id: int, since: datetime) -> list[Any]:
    """The WHERE of the failure query (the tests EXPLAIN it on PostgreSQL)."""
    return [text(JOBS_FAILED), JOBS.c.installation_id == installation_id, JOBS.c.updated_at >= since]


def _reported(raw: Mapping[str, Any] | None) -> dict[str, Reported]:
    found: dict[str, Reported] = {}
    for key, value in (raw or {}).items():
        try:
            found[key] = Reported(int(value["count"]), datetime.fromisoformat(str(value["at"])))
        except (KeyError, TypeError, ValueError):
            continue  # an unreadable entry is as if never reported: reported again
    return found


class SqlAlertStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[bool]:
        """True for the one process whose turn it is (a session advisory lock held for the block, on its own
        connection, then released); SQLite serves one process, whose turn it always is."""
        if self._engine.dialect.name != "postgresql":
            yield True
            return
        key = {"name": LOCK}
        async with self._engine.connect() as connection:
            taken = bool((await connection.execute(text(f"SELECT pg_try_advisory_lock({_LOCK_ID})"), key)
                          ).scalar_one())
            await connection.commit()  # a session lock: it outlives the transaction, which must not stay open
            try:
                yield taken
            finally:
                if taken:
                    await connection.execute(text(f"SELECT pg_advisory_unlock({_LOCK_ID})"), key)
                    await connection.commit()

    async def failures(self, installation_id: int, since: datetime, until: datetime, *, newest: int
                       ) -> tuple[FailureSummary, list[FailedJob]]:
        """Counts by state and the `newest` failures (latest first)."""
        async with self._engine.connect() as connection:
            counts: dict[str, int] = dict((await connection.execute(
                select(JOBS.c.state, func.count()).where(*failed_jobs(installation_id, since)).group_by(JOBS.c.state)
            )).all())
            rows = (await connection.execute(
                select(JOBS.c.id, JOBS.c.state, JOBS.c.rule_key, JOBS.c.reason, JOBS.c.updated_at,
                       RULES.c.name.label("rule_name"), ORDERS.c.order_id, ORDERS.c.number)
                .outerjoin(RULES, RULES.c.id == JOBS.c.rule_id)
                .outerjoin(ORDERS, ORDERS.c.id == JOBS.c.order_row_id)
                .where(*failed_jobs(installation_id, since))
                .order_by(JOBS.c.updated_at.desc(), JOBS.c.id.desc())
                .limit(max(newest, 1))
            )).mappings().all()
        failed = [FailedJob(job_id=row["id"], state=JobState(row["state"]), rule_key=row["rule_key"],
                            rule_name=row["rule_name"], order_id=row["order_id"], order_number=row["number"],
                            reason=row["reason"], at=aware(row["updated_at"]) or until) for row in rows]
        summary = FailureSummary(since=since, until=until, dead=int(counts.get(JobState.DEAD.value, 0)),
                                 unknown=int(counts.get(JobState.UNKNOWN.value, 0)), newest=tuple(failed[:newest]))
        return summary, failed

    # -- settings and state -------------------------------------------------------------------------------------

    async def settings(self, installation_id: int) -> AlertSettings:
        row = await self._row(installation_id)
        if row is None:
            return AlertSettings()
        return AlertSettings(digest_enabled=row["digest_enabled"], recipients=tuple(row["recipients"] or ()),
                             digest_hour=row["digest_hour"], dashboard_url=row["dashboard_url"])

    async def save_settings(self, installation_id: int, settings: AlertSettings, now: datetime) -> None:
        async with write_transaction(self._engine) as connection:
            await self._ensure(connection, installation_id, now)
            await connection.execute(update(ALERTS).where(ALERTS.c.installation_id == installation_id).values(
                digest_enabled=settings.digest_enabled, recipients=list(settings.recipients),
                digest_hour=settings.digest_hour, dashboard_url=settings.dashboard_url, updated_at=now))

    async def digest_state(self, installation_id: int) -> DigestState:
        row = await self._row(installation_id)
        if row is None or row["digest_at"] is None:
            return DigestState()
        day = date.fromisoformat(row["digest_day"]) if row["digest_day"] else None  # None: the first is retrying
        return DigestState(day=day, at=aware(row["digest_at"]), outcome=row["digest_outcome"],
                           failed=row["digest_failed"])

    async def claim_digest(self, installation_id: int, day: date, now: datetime) -> bool:
        """True for the one caller that moves the installation's digest day to `day` (nobody else sends it)."""
        async with write_transaction(self._engine) as connection:
            await self._ensure(connection, installation_id, now)
            claimed = await connection.execute(
                update(ALERTS).where(ALERTS.c.installation_id == installation_id,
                                     or_(ALERTS.c.digest_day.is_(None), ALERTS.c.digest_day != day.isoformat()))
                .values(digest_day=day.isoformat(), digest_at=now, digest_outcome="sending", digest_failed=False))
        return bool(claimed.rowcount)

    async def release_digest(self, installation_id: int, day: date | None, outcome: str, now: datetime) -> None:
        """Give a claimed day back (its digest could not go out yet): the next claim for it succeeds."""
        async with write_transaction(self._engine) as connection:
            await connection.execute(update(ALERTS).where(ALERTS.c.installation_id == installation_id).values(
                digest_day=day.isoformat() if day else None, digest_outcome=outcome[:1000], digest_failed=True,
                digest_at=now))

    async def finish_digest(self, installation_id: int, outcome: str, failed: bool, activity: Activity,
                            now: datetime) -> None:
        """The digest's outcome on its row and in the activity log, together."""
        async with write_transaction(self._engine) as connection:
            await connection.execute(update(ALERTS).where(ALERTS.c.installation_id == installation_id).values(
                digest_outcome=outcome[:1000], digest_failed=failed, digest_at=now))
            await SqlAutomationTransaction(connection).log(activity, now)

    async def problem_state(self, installation_id: int) -> ProblemState:
        row = await self._row(installation_id)
        if row is None:
            return ProblemState()
        return ProblemState(reported=_reported(row["problems"]), at=aware(row["problems_at"]),
                            error=row["problems_error"])

    async def save_problem_state(self, installation_id: int, reported: Mapping[str, Reported], *,
                                 at: datetime | None, error: str, now: datetime) -> None:
        values: dict[str, Any] = {
            "problems": {key: {"count": value.count, "at": value.at.isoformat()} for key, value in reported.items()},
            "problems_error": error[:1000]}
        if at is not None:
            values["problems_at"] = at
        async with write_transaction(self._engine) as connection:
            await self._ensure(connection, installation_id, now)
            await connection.execute(update(ALERTS).where(ALERTS.c.installation_id == installation_id).values(**values))

    async def _row(self, installation_id: int) -> Mapping[Any, Any] | None:
        async with self._engine.connect() as connection:
            return (await connection.execute(select(ALERTS).where(ALERTS.c.installation_id == installation_id))
                    ).mappings().first()

    @staticmethod
    async def _ensure(connection: AsyncConnection, installation_id: int, now: datetime) -> None:
        """The installation's row, created once (replicas racing to create it: one insert wins, none fails)."""
        values = {"installation_id": installation_id, "digest_enabled": False, "recipients": [], "digest_hour": 8,
                  "digest_outcome": "", "digest_failed": False, "problems": {}, "problems_error": "",
                  "updated_at": now}
        dialect = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
        await connection.execute(dialect(ALERTS).values(**values).on_conflict_do_nothing(
            index_elements=[ALERTS.c.installation_id]))
