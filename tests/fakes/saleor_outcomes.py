"""What a fake Saleor action hands back: the events it raised (in order), its payload, or its refusal, plus
the error shapes and checks every action shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.fakes.graphql_exec import FieldError, permission_denied
from tests.fakes.saleor_model import App, Caller, Fulfillment, Order, decode_gid


@dataclass
class Emitted:
    """One event as the action raised it; the deliverer turns it into one request per subscribed webhook."""

    event_type: str
    issued_at: str
    principal: dict[str, Any] | None
    order: Order | None = None
    fulfillment: Fulfillment | None = None
    notify_customer: bool | None = None
    subject_app: App | None = None
    updated_at: str | None = None  # FULFILLMENT_CREATED shows the order's pre-mutation updatedAt (surprise 7)


@dataclass
class Outcome:
    payload: dict[str, Any]
    events: list[Emitted] = field(default_factory=list)


class Refusal(Exception):
    """A mutation-level refusal: HTTP 200, `errors` in the payload, every other payload field null."""

    def __init__(self, *errors: dict[str, Any]) -> None:
        super().__init__(errors[0]["message"])
        self.errors = list(errors)


def order_error(field_name: str | None, message: str, code: str, *, order_lines: list[str] | None = None,
                warehouse: str | None = None) -> dict[str, Any]:
    return {"__typename": "OrderError", "field": field_name, "message": message, "code": code,
            "warehouse": warehouse, "orderLines": order_lines, "variants": None, "addressType": None}


def simple_error(typename: str, field_name: str | None, message: str, code: str) -> dict[str, Any]:
    return {"__typename": typename, "field": field_name, "message": message, "code": code}


def require(caller: Caller, *permissions: str) -> None:
    if not caller.permissions & set(permissions):
        raise permission_denied(*permissions)


def node_pk(value: object, kind: str) -> str:
    """The pk inside a global id; malformed or wrong-type ids are top-level GraphQL errors, as in Saleor."""
    decoded = decode_gid(value)
    if decoded is None:
        raise FieldError(f"Couldn't resolve id: {value}.")
    if decoded[0] != kind:
        raise FieldError(f"Invalid ID: {value}. Expected: {kind}, received: {decoded[0]}.")
    return decoded[1]
