"""A real Celery worker process for tests: the app's own worker, with the test's clock shared through a file.

Run as `python -m tests.fakes.celery_worker` with the app's settings in the environment and `TEST_CLOCK_FILE`
naming the file the test's SharedClock writes (the engine tests move time forward; the worker must see it).
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path


class FileClock:
    """Reads the time the test set; the real time when the file is absent."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def now(self) -> datetime:
        try:
            return datetime.fromisoformat(self._path.read_text())
        except (FileNotFoundError, ValueError):
            return datetime.now(UTC)


class SharedClock:
    """The test's side: a FakeClock whose time is written where the worker processes read it."""

    def __init__(self, path: Path, start: datetime | None = None) -> None:
        self._path = path
        self.value = start or datetime.now(UTC)

    @property
    def value(self) -> datetime:
        return self._value

    @value.setter
    def value(self, moment: datetime) -> None:
        self._value = moment
        scratch = self._path.with_suffix(".tmp")
        scratch.write_text(moment.isoformat())
        scratch.replace(self._path)  # atomic: a worker never reads half a timestamp

    def now(self) -> datetime:
        return self._value

    def advance(self, delta) -> None:  # type: ignore[no-untyped-def]
        self.value = self._value + delta


def main() -> None:
    from saleor_app.scale_out import worker_app, worker_argv
    from saleor_app.settings import Settings
    from saleor_app.wiring import build_container

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    clock_file = os.environ.get("TEST_CLOCK_FILE")
    clock = FileClock(Path(clock_file)) if clock_file else None
    app, _bridge = worker_app(settings, lambda: build_container(settings, clock=clock))
    pool = os.environ.get("TEST_WORKER_POOL", "solo")
    app.worker_main(worker_argv(None if pool == "solo" else 1, "WARNING", {"pool": pool}))


if __name__ == "__main__":
    sys.exit(main())
