"""When a job is due: delays, the next time of day in the merchant's time zone, quiet hours. DST-aware."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window [start, end) in local time; it may cross midnight (22:00–08:00)."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def next_local_time(after: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first moment at or after `after` when the wall clock in `zone` shows `at`.

    On the spring-forward day a wall time that does not exist (02:30 in Berlin) runs as far past the gap as it
    was into it (03:30, like adding the hour the clocks skipped); on the fall-back day an ambiguous one runs at its
    first occurrence.
    """
    local_after = after.astimezone(zone)
    for day_offset in range(0, 3):
        day = local_after.date() + timedelta(days=day_offset)
        candidate = _wall_clock(day, at, zone)
        if candidate >= after:
            return candidate
    raise AssertionError("a wall-clock time recurs within three days")


def _wall_clock(day: date, at: time, zone: ZoneInfo) -> datetime:
    # fold=0 is the first of two ambiguous times and, for a time inside a gap, the offset from before it.
    return datetime.combine(day, at).replace(tzinfo=zone, fold=0).astimezone(UTC)


def due_at(start: datetime, *, delay: timedelta, at: time | None, zone: ZoneInfo) -> datetime:
    moment = start + delay
    return next_local_time(moment, at, zone) if at is not None else moment


def after_quiet_hours(when: datetime, quiet: QuietHours | None, zone: ZoneInfo) -> datetime:
    """`when`, or the end of the quiet window it falls in (never dropped, only deferred)."""
    if quiet is None or not quiet.contains(when.astimezone(zone).time()):
        return when
    return next_local_time(when, quiet.end, zone)
