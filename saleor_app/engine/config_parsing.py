"""Configuration documents parsed and checked off the event loop, in a process of their own, one at a time.

Parsing and checking are pure Python (PyYAML's composer, pydantic, the template parser): a maximal document (the
1 MB cap of web/request_guard.py, documents.MAX_NODES values) takes seconds of CPU. On the event loop that stopped
every webhook and /health; in a thread it still took the GIL from them (every await waited up to the 5 ms switch
interval: /health p99 0.26–2.8 s); in a process the loop only unpickles the result. One process, one document
at a time, so a flood of imports queues here instead of taking every core (bench/hostile_import.py).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from saleor_app.domain.config_document import ConfigFileError, ConfigProblem
from saleor_app.domain.config_file import ParsedConfig, parse_config

MAX_PROBLEMS = 200  # listed in a refusal; a document with thousands of unknown keys would answer megabytes

Outcome = tuple[ParsedConfig | None, tuple[ConfigProblem, ...]]


def parse_reporting(text: str) -> Outcome:
    """parse_config in a form that crosses a process boundary (ConfigFileError does not pickle whole)."""
    try:
        return parse_config(text), ()
    except ConfigFileError as exc:
        problems = exc.problems
        if len(problems) > MAX_PROBLEMS:
            more = ConfigProblem((), f"… and {len(problems) - MAX_PROBLEMS} more problems")
            problems = (*problems[:MAX_PROBLEMS], more)
        return None, problems


def _lower_priority() -> None:
    # On a machine with few cores the parse still competes with the web process for CPU; the scheduler should
    # prefer webhooks and /health over an import that may take seconds anyway.
    os.nice(10)


def _process_pool() -> Executor:
    # spawn, not fork: the app's process has threads (the inbox writer, the runner) a fork would copy mid-lock.
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_lower_priority)


class ConfigParsing:
    def __init__(self, executor: Callable[[], Executor] = _process_pool,
                 parse: Callable[[str], Outcome] = parse_reporting) -> None:
        self._new_executor = executor
        self._executor: Executor | None = None
        self._parse = parse

    async def __call__(self, text: str) -> ParsedConfig:
        """parse_config(text) off the event loop: ConfigFileError with every problem located."""
        if self._executor is None:
            self._executor = self._new_executor()
        try:
            parsed, problems = await asyncio.get_running_loop().run_in_executor(self._executor, self._parse, text)
        except BrokenProcessPool:  # the parsing process died (killed, out of memory): a new one for the next
            self._executor = None
            raise
        if parsed is None:
            raise ConfigFileError(problems)
        return parsed

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
