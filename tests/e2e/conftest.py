"""A failing end-to-end test's report carries what its Celery workers printed: they run in other processes, so
pytest's own capture never sees their output."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.e2e.celery_stack import forget_worker_logs, worker_output


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        output = worker_output()
        if output:
            report.sections.append((f"Celery workers ({report.when})", output))
    if report.when == "teardown":
        forget_worker_logs()
