"""Failure alerts' pure rules: the headline, when the digest is due, and when Saleor is told or cleared."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from saleor_app.domain.alerts import (
    DEAD_KEY,
    UNKNOWN_KEY,
    FailureSummary,
    ProblemState,
    Reported,
    app_link,
    default_dashboard_url,
    digest_day,
    headline,
    plan_problems,
)

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def summary(dead: int, unknown: int) -> FailureSummary:
    return FailureSummary(NOW - timedelta(hours=24), NOW, dead, unknown)


def test_the_headline_reads_as_the_banner_says_it() -> None:
    assert headline(summary(2, 1)) == "2 jobs failed for good and 1 may not have been sent in the last 24 hours"
    assert headline(summary(1, 0)) == "1 job failed for good in the last 24 hours"
    assert headline(summary(0, 3)) == "3 jobs may not have been sent in the last 24 hours"


def test_the_digest_is_due_once_a_local_day_at_or_after_its_hour() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # NOW is 14:00 there
    assert digest_day(NOW, berlin, 14, None) == date(2026, 5, 4)
    assert digest_day(NOW, berlin, 15, None) is None
    assert digest_day(NOW, berlin, 9, date(2026, 5, 4)) is None
    assert digest_day(NOW, berlin, 9, date(2026, 5, 3)) == date(2026, 5, 4)
    late = datetime(2026, 5, 4, 22, 30, tzinfo=UTC)  # already the 5th in Berlin
    assert digest_day(late, berlin, 0, date(2026, 5, 4)) == date(2026, 5, 5)


def test_problems_are_reported_on_a_new_count_refreshed_after_a_day_and_dismissed_when_clean() -> None:
    first = plan_problems(summary(2, 0), ProblemState(), NOW)
    assert [(key, count) for key, count, _ in first.report] == [(DEAD_KEY, 2)] and first.dismiss == ()
    told = ProblemState(reported={DEAD_KEY: Reported(2, NOW - timedelta(hours=23))})
    assert plan_problems(summary(2, 0), told, NOW).empty  # same count within the aggregation period
    changed = plan_problems(summary(3, 0), told, NOW)
    assert [key for key, _, _ in changed.report] == [DEAD_KEY] and changed.refresh == ()
    stale = ProblemState(reported={DEAD_KEY: Reported(2, NOW - timedelta(hours=24))})
    refreshed = plan_problems(summary(2, 0), stale, NOW)
    assert refreshed.refresh == (DEAD_KEY,) and [key for key, _, _ in refreshed.report] == [DEAD_KEY]
    both = ProblemState(reported={DEAD_KEY: Reported(1, NOW), UNKNOWN_KEY: Reported(1, NOW)})
    clean = plan_problems(summary(0, 1), both, NOW)
    assert clean.dismiss == (DEAD_KEY,) and clean.report == ()


def test_the_digest_links_to_the_activity_view_inside_the_dashboard() -> None:
    base = default_dashboard_url("https://shop.eu.saleor.cloud/graphql/")
    assert base == "https://shop.eu.saleor.cloud/dashboard"
    assert app_link(base, "QXBwOjE=") == "https://shop.eu.saleor.cloud/dashboard/extensions/app/QXBwOjE%3D/activity"
