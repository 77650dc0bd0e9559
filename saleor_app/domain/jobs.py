"""Jobs: one scheduled run of one rule for one stage entry — states, chains and the retry policy."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class JobState(StrEnum):
    WAITING = "waiting"  # for its predecessor in an after-previous chain
    SCHEDULED = "scheduled"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    FAILED = "failed"
    RETRYING = "retrying"
    DEAD = "dead"  # retries exhausted; can be replayed
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # crashed mid-send: whether it happened is not known; never re-sent blindly


PENDING = frozenset({JobState.WAITING, JobState.SCHEDULED, JobState.RETRYING})  # not started: cancellable
CLAIMABLE = frozenset({JobState.SCHEDULED, JobState.RETRYING})
MOVE_JOB = "move"  # a system job with no rule: a trigger's move into a stage with Saleor work to do (payload)
FINAL = frozenset({JobState.SUCCEEDED, JobState.SKIPPED, JobState.FAILED, JobState.DEAD, JobState.CANCELLED})


class Chain(StrEnum):
    """What a finished (or stuck) predecessor means for the job waiting on it."""

    RELEASE = "release"
    CANCEL = "cancel"
    HOLD = "hold"


def successor_fate(predecessor: JobState) -> Chain:
    if predecessor in (JobState.SUCCEEDED, JobState.SKIPPED):
        return Chain.RELEASE
    if predecessor in (JobState.FAILED, JobState.DEAD, JobState.CANCELLED):
        return Chain.CANCEL
    return Chain.HOLD  # scheduled, running, retrying, unknown: keep waiting


RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
RETRY_WINDOW = timedelta(hours=24)


def next_retry(attempt: int, first_attempt_at: datetime, now: datetime, rng: random.Random) -> datetime | None:
    """When to try again after failed attempt number `attempt` (1-based), or None when the job is dead.

    Exponential backoff with full jitter, capped at an hour, for at least 24 hours after the first attempt:
    a provider outage of a day loses nothing.
    """
    if now - first_attempt_at >= RETRY_WINDOW:
        return None
    ceiling = min(RETRY_CAP, RETRY_BASE * (2 ** min(attempt - 1, 20)))
    delay = timedelta(seconds=rng.uniform(ceiling.total_seconds() / 2, ceiling.total_seconds()))
    return now + delay


@dataclass(frozen=True, slots=True)
class JobAttempt:
    """One run of a job: the attempt it started. Only the run that still holds that attempt may hand anything to a
    provider (store/hand_over.py)."""

    job_id: int
    attempt: int
