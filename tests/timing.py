"""How long tests wait: one multiplier for every timeout, and polling for an outcome instead of a fixed sleep.

A timeout in a test is a ceiling for something that should happen, never the verdict: on a loaded machine every
step takes longer, so each ceiling is `scaled()`. The multiplier is `TEST_TIMEOUT_SCALE` when set (CI sets it),
otherwise it follows the load average when the run starts (1 on a quiet machine, more when the cores are busy).

Timeouts that a test *wants* to fire (a provider that never answers) stay short and unscaled: the fake they time
out against holds its answer far longer than any ceiling, so a slow machine cannot make them pass or fail.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

_MAX_AUTO_SCALE = 8.0


def _scale_from_environment() -> float:
    configured = os.environ.get("TEST_TIMEOUT_SCALE", "").strip()
    if configured:
        try:
            value = float(configured)
        except ValueError as exc:
            raise RuntimeError(f"TEST_TIMEOUT_SCALE must be a number, not {configured!r}") from exc
        if value < 1:
            raise RuntimeError(f"TEST_TIMEOUT_SCALE must be 1 or more, not {configured!r}")
        return value
    try:
        busy_per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:  # no load average on this platform
        return 1.0
    # Two runnable processes per core already halve what each one gets; leave room for the suite's own workers.
    return min(_MAX_AUTO_SCALE, max(1.0, round(1 + 2 * busy_per_core, 1)))


SCALE = _scale_from_environment()


def scaled(seconds: float) -> float:
    """A ceiling for something that should happen, stretched for a loaded machine."""
    return seconds * SCALE


class NotYet(AssertionError):
    """An outcome a test waited for did not come within its ceiling."""


async def eventually(check: Callable[[], T | Awaitable[T]], *, within: float = 30.0, every: float = 0.02,
                     what: str = "") -> T:
    """Poll `check` (sync or async) until it returns something truthy, and return that.

    `within` seconds (scaled) is a generous ceiling, not an expectation: the usual case returns at the first or
    second look. Raises NotYet naming `what` (or the check) when it never came.
    """
    deadline = time.monotonic() + scaled(within)
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise NotYet(f"still not {what or getattr(check, '__name__', 'done')} after {scaled(within):.1f} s")
        await asyncio.sleep(every)


async def settles(read: Callable[[], T | Awaitable[T]], expected: T, *, within: float = 30.0,
                  every: float = 0.02, what: str = "") -> None:
    """Poll `read` until it returns `expected`; NotYet shows the last value read, so a failure says where it
    stopped (a job left `retrying`, not just "not done")."""
    deadline = time.monotonic() + scaled(within)
    while True:
        value = read()
        if inspect.isawaitable(value):
            value = await value
        if value == expected:
            return
        if time.monotonic() > deadline:
            name = what or getattr(read, "__name__", "<lambda>")
            raise NotYet(f"{'the value' if name == '<lambda>' else name} is still {value!r}, not {expected!r}, "
                         f"after {scaled(within):.1f} s")
        await asyncio.sleep(every)


def eventually_sync(check: Callable[[], T], *, within: float = 30.0, every: float = 0.02, what: str = "",
                    pause: Callable[[float], object] = time.sleep) -> T:
    """`eventually` for code without an event loop (threads, subprocesses, the browser tests, whose `pause` must
    be the page's own wait so that Playwright keeps taking events meanwhile)."""
    deadline = time.monotonic() + scaled(within)
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise NotYet(f"still not {what or getattr(check, '__name__', 'done')} after {scaled(within):.1f} s")
        pause(every)


def milliseconds(seconds: float) -> int:
    """A scaled ceiling in the milliseconds Playwright takes."""
    return int(scaled(seconds) * 1000)


# The ceiling of a test's own HTTP calls to the app and the fakes (httpx's default is 5 s).
HTTP_TIMEOUT = scaled(30)
