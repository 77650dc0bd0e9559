"""Failure alerts: which jobs count (dead or unknown in the last 24 hours), when the daily digest is due, what it
says, and when Saleor's app problems are reported or dismissed. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from saleor_app.domain.jobs import JobState

WINDOW = timedelta(hours=24)
NEWEST = 5  # the newest failures the API and the banner show
DIGEST_LIMIT = 50  # failures listed in one digest e-mail; the rest are counted
DEAD_KEY = "dead-jobs"
UNKNOWN_KEY = "unknown-jobs"
PROBLEM_KEYS = {JobState.DEAD: DEAD_KEY, JobState.UNKNOWN: UNKNOWN_KEY}
# Saleor merges appProblemCreate calls with the same key into one problem while the last one is younger than
# `aggregationPeriod` minutes (count + 1, message replaced); after that it opens another problem under the key.
# A day matches the window: a changed count updates the one problem, an unchanged count is not sent again
# within the day, and after a day the key is dismissed and reported afresh, so no stale twin is left listed.
AGGREGATION_MINUTES = 24 * 60
WHAT_TO_DO = "Open Order Automation → Activity to replay or resolve them."


@dataclass(frozen=True, slots=True)
class FailedJob:
    job_id: int
    state: JobState
    rule_key: str
    rule_name: str | None
    order_id: str | None
    order_number: str | None
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class FailureSummary:
    """Dead and unknown jobs of one installation that reached that state in [since, until]; each job once, in
    its current state."""

    since: datetime
    until: datetime
    dead: int
    unknown: int
    newest: tuple[FailedJob, ...] = ()

    @property
    def total(self) -> int:
        return self.dead + self.unknown

    @property
    def newest_id(self) -> int | None:
        return max((job.job_id for job in self.newest), default=None)

    def count(self, state: JobState) -> int:
        return self.dead if state is JobState.DEAD else self.unknown if state is JobState.UNKNOWN else 0


def window(now: datetime) -> tuple[datetime, datetime]:
    return now - WINDOW, now


def headline(summary: FailureSummary) -> str:
    """"2 jobs failed for good and 1 may not have been sent in the last 24 hours"."""
    parts = []
    if summary.dead:
        parts.append(f"{_jobs(summary.dead)} failed for good")
    if summary.unknown:
        parts.append(f"{_jobs(summary.unknown) if not parts else summary.unknown} may not have been sent")
    if not parts:
        return "No job failed in the last 24 hours"
    return " and ".join(parts) + " in the last 24 hours"


def _jobs(count: int) -> str:
    return f"{count} job" if count == 1 else f"{count} jobs"


# -- settings ---------------------------------------------------------------------------------------------------


class AlertSettings(BaseModel):
    """Per installation: the daily digest (on or off, to whom, from which hour in the shop's time zone)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    digest_enabled: bool = False
    recipients: tuple[str, ...] = Field(default=(), max_length=50, description="team member keys")
    digest_hour: int = Field(default=8, ge=0, le=23, description="hour of day in the shop's time zone")
    dashboard_url: str | None = Field(default=None, max_length=500,
                                      description="the Saleor Dashboard's address, for the digest's link")

    @field_validator("recipients")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(key.strip() for key in value if key.strip()))

    @field_validator("dashboard_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
            raise ValueError("must be the Dashboard's address, like https://shop.saleor.cloud/dashboard/")
        return value.rstrip("/")


def default_dashboard_url(saleor_api_url: str) -> str:
    """Saleor Cloud serves the Dashboard at /dashboard/ beside the API; a self-hosted one is set in the settings."""
    parts = urlsplit(saleor_api_url)
    return f"{parts.scheme}://{parts.netloc}/dashboard"


def app_link(dashboard_url: str, app_id: str) -> str:
    """The app's Activity view inside the Dashboard (the Dashboard mounts the app at /extensions/app/<id>)."""
    return f"{dashboard_url.rstrip('/')}/extensions/app/{quote(app_id, safe='')}/activity"


# -- the digest -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestState:
    day: date | None = None  # the shop's local day of the last digest claimed (sent or failed)
    at: datetime | None = None
    outcome: str = ""
    failed: bool = False


def digest_day(now: datetime, zone: ZoneInfo, hour: int, last: date | None) -> date | None:
    """The shop's local day a digest is due for now (at or after `hour`, and not yet sent that day), or None."""
    local = now.astimezone(zone)
    if local.hour < hour or last == local.date():
        return None
    return local.date()


def digest_email(summary: FailureSummary, failures: Sequence[FailedJob], zone: ZoneInfo, link: str,
                 *, test: bool = False) -> tuple[str, str]:
    """The digest's subject and plain text: every failure (up to DIGEST_LIMIT) with its order, rule, reason."""
    subject = f"Order Automation: {headline(summary).lower()}" if summary.total else \
        "Order Automation: no failed jobs in the last 24 hours"
    if test:
        subject = f"[Test] {subject}"
    lines = [headline(summary) + ".", ""]
    for state, title in ((JobState.DEAD, "Failed for good (retries exhausted)"),
                         (JobState.UNKNOWN, "May not have been sent (outcome unknown)")):
        chosen = [job for job in failures if job.state is state]
        if not chosen:
            continue
        lines.append(f"{title}:")
        for job in chosen:
            order = f"order #{job.order_number}" if job.order_number else f"order {job.order_id or '?'}"
            when = job.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            lines.append(f"- {when} {order}, rule {job.rule_name or job.rule_key}: {job.reason or 'no reason given'}")
        lines.append("")
    left = summary.total - len(failures)
    if left > 0:
        lines += [f"… and {left} more.", ""]
    lines += [WHAT_TO_DO, link]
    if test:
        lines += ["", "This is a test digest, sent to you only."]
    return subject, "\n".join(lines) + "\n"


# -- app problems in Saleor ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reported:
    count: int
    at: datetime


@dataclass(frozen=True, slots=True)
class ProblemState:
    reported: Mapping[str, Reported] = field(default_factory=dict)  # key → what Saleor was told last
    at: datetime | None = None  # the last report or dismissal that Saleor accepted
    error: str = ""  # the last refusal or outage, until a call succeeds


@dataclass(frozen=True, slots=True)
class ProblemPlan:
    report: tuple[tuple[str, int, str], ...]  # (key, count, message)
    refresh: tuple[str, ...]  # keys to dismiss first: their problem in Saleor is older than the aggregation period
    dismiss: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.report and not self.dismiss


def problem_message(state: JobState, count: int) -> str:
    if state is JobState.DEAD:
        what = f"{_jobs(count)} failed for good (retries exhausted) in the last 24 hours."
    else:
        what = f"{_jobs(count)} may not have been sent (the outcome is unknown) in the last 24 hours."
    return f"{what} {WHAT_TO_DO}"


def plan_problems(summary: FailureSummary, state: ProblemState, now: datetime) -> ProblemPlan:
    """Report a kind when its count changed or its problem is older than the aggregation period; dismiss the
    keys of kinds whose window is clean again."""
    period = timedelta(minutes=AGGREGATION_MINUTES)
    report: list[tuple[str, int, str]] = []
    refresh: list[str] = []
    dismiss: list[str] = []
    for job_state, key in PROBLEM_KEYS.items():
        count = summary.count(job_state)
        last = state.reported.get(key)
        if count == 0:
            if last is not None:
                dismiss.append(key)
            continue
        stale = last is not None and now - last.at >= period
        if last is None or last.count != count or stale:
            report.append((key, count, problem_message(job_state, count)))
            if stale:
                refresh.append(key)
    return ProblemPlan(tuple(report), tuple(refresh), tuple(dismiss))


class AppProblems(Protocol):
    """Saleor's app problems of one installation, called with the app token (appProblemCreate/Dismiss)."""

    async def report(self, key: str, message: str, *, aggregation_minutes: int) -> None: ...

    async def dismiss(self, keys: Sequence[str]) -> None: ...
