"""`Query.orders` of the fake Saleor: filtering, sorting and cursor pages the way Saleor 3.23 does them.

Modelled on saleor/graphql/core/connection.py and order/sorters.py: drafts are never listed; `filter` and `where`
exclude each other; `sortBy` orders by the enum's model fields (LAST_MODIFIED_AT = updated_at, status, pk) and
without it by the model's default ordering (-number); a cursor is base64 of the JSON list of the last row's sort
values as strings, and the next page holds the rows after it in that order (keyset pagination: a row that changes
while a client pages moves and is met again, never skipped); `first` is required and at most 100.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests.fakes.graphql_exec import FieldError, NotModelled
from tests.fakes.saleor_model import Order, decode_gid
from tests.fakes.saleor_state import SaleorState

PAGINATION_LIMIT = 100  # GRAPHQL_PAGINATION_LIMIT
# OrderSortField → the model fields it sorts by (saleor/graphql/order/sorters.py).
SORT_FIELDS = {
    "NUMBER": ("number",),
    "CREATION_DATE": ("created_at", "status", "pk"),
    "CREATED_AT": ("created_at", "status", "pk"),
    "LAST_MODIFIED_AT": ("updated_at", "status", "pk"),
}
_VALUES: dict[str, Callable[[Order], Any]] = {
    "number": lambda order: order.number,
    "created_at": lambda order: datetime.fromisoformat(order.created),
    "updated_at": lambda order: datetime.fromisoformat(order.updated_at),
    "status": lambda order: order.status,
    "pk": lambda order: order.uuid,
}
_PARSE: dict[str, Callable[[str], Any]] = {
    "number": int, "created_at": datetime.fromisoformat, "updated_at": datetime.fromisoformat,
    "status": str, "pk": str,
}


def _node(state: SaleorState, order: Order) -> dict[str, Any]:
    view = state.order_view(order)
    if order.uuid in state.unreadable:  # Saleor cannot serialise it: the page fails when `origin` is asked for

        def origin(_args: dict[str, Any]) -> Any:
            raise FieldError('Expected a value of type "OrderOriginEnum" but received: ', propagate=True)

        view["origin"] = origin
    return view


def resolve_orders(state: SaleorState, args: dict[str, Any]) -> dict[str, Any]:
    unmodelled = set(args) - {"first", "after", "filter", "where", "sortBy"}
    if unmodelled:
        raise NotModelled(f"the fake Saleor does not model orders({', '.join(sorted(unmodelled))})")
    if args.get("filter") and args.get("where"):
        raise FieldError("Only one filtering argument (filter or where) can be specified.")
    orders = [o for o in state.orders.values() if o.status != "DRAFT"]  # Order.objects.non_draft()
    if args.get("where"):
        orders = [o for o in orders if _matches_where(o, args["where"])]
    elif args.get("filter"):
        orders = [o for o in orders if _matches_filter(o, args["filter"])]
    fields, descending = _sorting(args.get("sortBy"))
    orders.sort(key=lambda o: tuple(_VALUES[name](o) for name in fields), reverse=descending)
    total = len(orders)
    first = args.get("first")
    if first and (not isinstance(first, int) or first <= 0):
        raise FieldError("Argument `first` must be a non-negative integer.")
    if first is not None and first > PAGINATION_LIMIT:
        raise FieldError(f"Requesting {first} records on the `orders` connection exceeds the `first` limit of "
                         f"{PAGINATION_LIMIT} records.")
    after = args.get("after")
    if after:
        cursor = _cursor_values(after, fields)
        orders = [o for o in orders if _beyond(tuple(_VALUES[name](o) for name in fields), cursor, descending)]
    page = orders[:first] if first else []
    edges = [{"__typename": "OrderCountableEdge", "cursor": _cursor(o, fields), "node": _node(state, o)}
             for o in page]

    def edges_or_error(_args: dict[str, Any]) -> list[dict[str, Any]]:
        if not first:  # Saleor checks this only when `edges` is asked for; `edges` is non-null, so it nulls `orders`
            raise FieldError("You must provide a `first` or `last` value to properly paginate the `orders` "
                             "connection.", propagate=True)
        return edges

    return {"__typename": "OrderCountableConnection", "totalCount": total, "edges": edges_or_error,
            "pageInfo": {"__typename": "PageInfo", "hasNextPage": bool(first) and len(orders) > len(page),
                         "hasPreviousPage": bool(after), "startCursor": edges[0]["cursor"] if edges else None,
                         "endCursor": edges[-1]["cursor"] if edges else None}}


def _sorting(sort_by: dict[str, Any] | None) -> tuple[tuple[str, ...], bool]:
    if not sort_by:
        return ("number",), True  # Order.Meta.ordering = ("-number",)
    field = sort_by.get("field")
    if field not in SORT_FIELDS:
        raise NotModelled(f"the fake Saleor does not model orders(sortBy: {field})")
    return SORT_FIELDS[field], sort_by.get("direction") == "DESC"


def _cursor(order: Order, fields: tuple[str, ...]) -> str:
    values = [str(_VALUES[name](order)) for name in fields]  # to_global_cursor: str() of each value
    return base64.b64encode(json.dumps(values).encode()).decode()


def _cursor_values(cursor: str, fields: tuple[str, ...]) -> tuple[Any, ...]:
    try:
        values = json.loads(base64.b64decode(cursor, validate=True))
        if not isinstance(values, list) or len(values) != len(fields):
            raise ValueError("wrong length")
        return tuple(_PARSE[name](value) for name, value in zip(fields, values, strict=True))
    except (ValueError, TypeError, binascii.Error):
        raise FieldError("Received cursor is invalid.") from None


def _beyond(values: tuple[Any, ...], cursor: tuple[Any, ...], descending: bool) -> bool:
    return values < cursor if descending else values > cursor


def _matches_where(order: Order, where: dict[str, Any]) -> bool:
    unmodelled = set(where) - {"ids", "updatedAt", "createdAt"}
    if unmodelled:
        raise NotModelled(f"the fake Saleor does not model orders(where: {{{', '.join(sorted(unmodelled))}}})")
    return _matches_common(order, where.get("ids"), where.get("updatedAt"), where.get("createdAt"))


def _matches_filter(order: Order, filter_: dict[str, Any]) -> bool:
    unmodelled = set(filter_) - {"ids", "updatedAt", "numbers"}
    if unmodelled:
        raise NotModelled(f"the fake Saleor does not model orders(filter: {{{', '.join(sorted(unmodelled))}}})")
    numbers = filter_.get("numbers")
    if numbers is not None and str(order.number) not in {str(number).strip() for number in numbers}:
        return False
    return _matches_common(order, filter_.get("ids"), filter_.get("updatedAt"), None)


def _matches_common(order: Order, ids: list[str] | None, updated: dict[str, Any] | None,
                    created: dict[str, Any] | None) -> bool:
    if ids is not None and order.uuid not in _order_pks(ids):
        return False
    return _in_range(order.updated_at, updated) and _in_range(order.created, created)


def _order_pks(ids: list[str]) -> set[str]:
    """filter_order_by_id → resolve_global_ids_to_primary_keys(ids, "Order"): ids of another type are skipped,
    ids that are no global id at all fail the whole query."""
    decoded = [(value, decode_gid(value)) for value in ids]
    invalid = [value for value, node in decoded if node is None]
    if invalid:
        raise FieldError(f"Could not resolve to a node with the global id list of '{invalid}'.")
    return {node[1] for _, node in decoded if node is not None and node[0] == "Order"}


def _in_range(moment: str, bounds: dict[str, Any] | None) -> bool:
    """DateTimeRangeInput: `gte` and `lte`, both inclusive."""
    if not bounds:
        return True
    value = datetime.fromisoformat(moment)
    gte, lte = bounds.get("gte"), bounds.get("lte")
    if gte is not None and value < _moment(gte):
        return False
    return not (lte is not None and value > _moment(lte))


def _moment(value: object) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise FieldError(f"Invalid DateTime: {value}") from None
    if parsed.tzinfo is None:
        raise NotModelled(f"the fake Saleor does not model naive DateTime input {value}")
    return parsed
