"""Catch-up after lost webhooks: when Saleor's view of an order differs from the app's, and what is stored then (pure).

Saleor retries a webhook for about five minutes, then drops it. The catch-up poller reads a light view of the
orders Saleor changed (and re-reads the app's unfinished ones, because an expiry or a new tracking number does not
bump `updatedAt`), compares it with the stored snapshot here, and for each difference stores a synthetic
delivery, "order X changed", which the engine handles like the webhook that was lost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import orjson

# Orders in these statuses are not re-checked: nothing that leaves `updatedAt` alone (expiry) happens to them.
FINISHED_STATUSES = frozenset({"FULFILLED", "RETURNED", "CANCELED", "EXPIRED", "DRAFT"})


@dataclass(frozen=True, slots=True)
class CatchUpState:
    """Where the poller of one installation got to; `updated_since` None means it never finished a scan."""

    installation_id: int
    updated_since: datetime | None
    last_run_at: datetime | None
    last_recheck_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class KnownOrder:
    """An order the app has a snapshot of."""

    row_id: int
    order_id: str
    snapshot: Mapping[str, Any]


class CatchUpStore(Protocol):
    async def state(self, installation_id: int) -> CatchUpState | None: ...

    async def save_scan(self, installation_id: int, updated_since: datetime, at: datetime) -> None:
        """A scan finished: the checkpoint moves to `updated_since` (never backwards) and the last error clears."""
        ...

    async def save_recheck(self, installation_id: int, at: datetime) -> None: ...

    async def record_error(self, installation_id: int, error: str, at: datetime) -> None:
        """A run failed: keep the checkpoint, remember why."""
        ...

    async def snapshots(self, installation_id: int, order_ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        """The stored snapshots of those orders the app knows, by Saleor order id."""
        ...

    async def unfinished_orders(self, installation_id: int, after_row_id: int, limit: int) -> list[KnownOrder]:
        """Known orders whose stored status is not in FINISHED_STATUSES, by row id, after `after_row_id`."""
        ...


def differences(stored: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[str]:
    """What differs between the app's snapshot of an order and Saleor's light view of it, by field; [] when nothing
    the engine acts on does. `stored` None (the app has never seen the order) differs in everything."""
    if stored is None:
        return ["unknown order"]
    found = [name for name, read in _COMPARED if read(stored) != read(current)]
    # The light view may leave metadata out; only what it carries can be compared.
    found += [name for name in ("metadata", "privateMetadata")
              if name in current and _metadata(stored.get(name)) != _metadata(current.get(name))]
    return found


def fingerprint(current: Mapping[str, Any]) -> str:
    """A short digest of what `differences` compares: the same state of an order always gives the same one."""
    state: list[list[object]] = [[name, str(read(current))] for name, read in _COMPARED]
    state += [[name, sorted(_metadata(current.get(name)).items())] for name in ("metadata", "privateMetadata")]
    return hashlib.sha256(orjson.dumps(state)).hexdigest()[:16]


def caught_up_body(current: Mapping[str, Any], *, recheck_at: datetime | None = None) -> bytes:
    """The body of the synthetic delivery for an order found changed: compact JSON, read like a webhook's.

    The inbox keeps one delivery per (installation, event, body digest), so the body names the order's state
    (finding the same state again stores nothing twice) and, for a re-check, the time of the re-check (an expiry
    leaves `updatedAt` as it was, and the same re-check finding must get through again after it was handled).
    """
    body: dict[str, Any] = {"order": {"id": current.get("id"), "updatedAt": current.get("updatedAt")},
                            "caughtUp": True, "fingerprint": fingerprint(current)}
    if recheck_at is not None:
        body["recheck"] = recheck_at.isoformat()
    return orjson.dumps(body)


def saleor_time(value: object) -> datetime | None:
    """A Saleor DateTime (ISO 8601 with an offset), or None when it is missing or not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _updated_at(snapshot: Mapping[str, Any]) -> object:
    value = snapshot.get("updatedAt")
    return saleor_time(value) or value  # the same moment may be written with another offset or precision


def _refunded(snapshot: Mapping[str, Any]) -> Decimal | None:
    money = snapshot.get("totalRefunded")
    amount = money.get("amount") if isinstance(money, Mapping) else None
    try:
        return Decimal(str(amount)) if amount is not None else None  # 10 and 10.0 are the same refund
    except InvalidOperation:
        return None


def _fulfillments(snapshot: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((str(f.get("id")), str(f.get("status")), str(f.get("trackingNumber") or ""))
                  for f in snapshot.get("fulfillments") or [] if isinstance(f, Mapping))


def _metadata(items: object) -> dict[str, str]:
    if not isinstance(items, list):
        return {}
    return {str(item["key"]): str(item.get("value") or "") for item in items
            if isinstance(item, Mapping) and "key" in item}


_COMPARED: tuple[tuple[str, Callable[[Mapping[str, Any]], object]], ...] = (
    ("updatedAt", _updated_at),
    ("status", lambda snapshot: snapshot.get("status")),
    ("chargeStatus", lambda snapshot: snapshot.get("chargeStatus")),
    ("totalRefunded", _refunded),
    ("fulfillments", _fulfillments),
)
