"""When the stored webhooks of an order are re-read, and how hard one installation's Saleor is asked.

- Settling: Saleor sends a mutation's webhooks one after another (about 13 for a payment), so an order is re-read
  once its deliveries have been quiet for the settle window: one read answers the whole burst. A burst that never
  goes quiet is read anyway once it is ten windows old.
- Pace: at most `concurrency` re-reads of one installation's Saleor are in flight, so one shop's sale neither
  starves another's nor floods its own Saleor; a 429 stops that installation's re-reads for as long as Saleor asks.

Times are the event loop's (monotonic): the settle window is about real seconds, whatever clock the app runs on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

OrderKey = tuple[int, str]  # (installation id, Saleor order id)

LONGEST_BURST_WINDOWS = 10


@dataclass
class _Quiet:
    newest: int  # the newest pending delivery id seen for the order
    first_seen: float
    changed_at: float


class Settling:
    def __init__(self, window: float) -> None:
        self._window = window
        self._orders: dict[OrderKey, _Quiet] = {}

    def look(self, newest: Mapping[OrderKey, int], now: float) -> tuple[set[OrderKey], float | None]:
        """Which of these orders (by their newest pending delivery) are quiet now, and in how many seconds the
        next of the others will be (None: none is waiting). Orders not in `newest` are forgotten; quiet ones are
        remembered until `forget` (their re-read may have to wait for room)."""
        if self._window <= 0:
            self._orders.clear()
            return set(newest), None
        seen: dict[OrderKey, _Quiet] = {}
        ready: set[OrderKey] = set()
        wait: float | None = None
        for key, delivery in newest.items():
            quiet = self._orders.get(key)
            if quiet is None:
                quiet = _Quiet(delivery, now, now)
            elif quiet.newest != delivery:
                quiet = _Quiet(delivery, quiet.first_seen, now)
            due = min(quiet.changed_at + self._window, quiet.first_seen + self._window * LONGEST_BURST_WINDOWS)
            seen[key] = quiet
            if due <= now:
                ready.add(key)
            else:
                wait = due - now if wait is None else min(wait, due - now)
        self._orders = seen
        return ready, wait

    def forget(self, key: OrderKey) -> None:
        """The order's re-read started: its next deliveries are a new burst."""
        self._orders.pop(key, None)


class Pace:
    def __init__(self, concurrency: int) -> None:
        self._concurrency = concurrency
        self._in_flight: dict[int, int] = {}
        self._resumes_at: dict[int, float] = {}  # installations Saleor asked to slow down (429)

    def free(self, installation_id: int, now: float) -> int:
        if self._resumes_at.get(installation_id, 0.0) > now:
            return 0
        self._resumes_at.pop(installation_id, None)
        return self._concurrency - self._in_flight.get(installation_id, 0)

    def take(self, installation_id: int) -> None:
        self._in_flight[installation_id] = self._in_flight.get(installation_id, 0) + 1

    def give(self, installation_id: int) -> None:
        left = self._in_flight.get(installation_id, 0) - 1
        if left > 0:
            self._in_flight[installation_id] = left
        else:
            self._in_flight.pop(installation_id, None)

    def slow_down(self, installation_id: int, until: float) -> None:
        self._resumes_at[installation_id] = max(until, self._resumes_at.get(installation_id, 0.0))

    def resumes_at(self, installation_id: int) -> float | None:
        return self._resumes_at.get(installation_id)
