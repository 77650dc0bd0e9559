"""The fake Saleor's records: apps, webhooks, orders and their parts, settings, and who is calling.

Ids are Saleor's global ids: base64 `Type:pk`, with UUID pks for orders, lines and transactions.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

VERSION = "3.23.28"
SCHEMA_VERSION = "3.23"
STAFF_EMAIL = "admin@example.com"
STAFF_USER_PK = 21
COUNTRIES = {"US": "United States of America", "GB": "United Kingdom", "DE": "Germany", "PL": "Poland",
             "FR": "France", "NL": "Netherlands"}

# Event enum (manifest asyncEvents, Saleor-Event upper-cased) → its subscription type.
EVENT_TYPENAMES = {
    "ORDER_CREATED": "OrderCreated", "ORDER_CONFIRMED": "OrderConfirmed", "ORDER_UPDATED": "OrderUpdated",
    "ORDER_PAID": "OrderPaid", "ORDER_FULLY_PAID": "OrderFullyPaid", "ORDER_REFUNDED": "OrderRefunded",
    "ORDER_FULLY_REFUNDED": "OrderFullyRefunded", "ORDER_FULFILLED": "OrderFulfilled",
    "ORDER_CANCELLED": "OrderCancelled", "ORDER_EXPIRED": "OrderExpired",
    "ORDER_METADATA_UPDATED": "OrderMetadataUpdated", "FULFILLMENT_CREATED": "FulfillmentCreated",
    "FULFILLMENT_APPROVED": "FulfillmentApproved",
    "FULFILLMENT_TRACKING_NUMBER_UPDATED": "FulfillmentTrackingNumberUpdated",
    "DRAFT_ORDER_CREATED": "DraftOrderCreated", "DRAFT_ORDER_UPDATED": "DraftOrderUpdated",
    "APP_INSTALLED": "AppInstalled", "APP_DELETED": "AppDeleted", "APP_STATUS_CHANGED": "AppStatusChanged",
}


def gid(kind: str, pk: object) -> str:
    return base64.b64encode(f"{kind}:{pk}".encode()).decode()


def decode_gid(value: object) -> tuple[str, str] | None:
    if not isinstance(value, str):
        return None
    try:
        kind, _, pk = base64.b64decode(value, validate=True).decode().partition(":")
    except ValueError:  # binascii.Error, UnicodeDecodeError, and a str with non-ASCII characters: Saleor answers
        return None  # "Couldn't resolve id", never a 500
    return (kind, pk) if kind and pk else None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class LineSpec:
    """One order line for `FakeSaleor.create_order`."""

    product_name: str
    variant_name: str
    sku: str | None
    quantity: int
    unit_price: float
    preorder: bool = False
    is_shipping_required: bool = True


DEFAULT_LINES = (
    LineSpec("Darko Polo", "S", "111223580", 2, 40.5),
    LineSpec("Paul's Balance 420", "39", "118223581", 1, 50.0),
)


@dataclass
class ShopSettings:
    fulfillment_auto_approve: bool = True
    fulfillment_allow_unpaid: bool = False  # as in the captured shop (orderFulfill-error-unpaid-order.json)


@dataclass
class ChannelSettings:
    slug: str = "default-channel"
    name: str = "Channel-USD"
    currency: str = "USD"
    auto_confirm: bool = True  # automaticallyConfirmAllNewOrders
    expire_orders_after: int | None = None
    mark_as_paid_strategy: str = "TRANSACTION_FLOW"
    allow_unpaid_orders: bool = False


@dataclass
class Webhook:
    pk: int
    name: str
    target_url: str
    async_events: list[str]
    query: str
    is_active: bool = True
    identifier: str | None = None
    custom_headers: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return gid("Webhook", self.pk)


@dataclass
class App:
    pk: int
    identifier: str
    name: str
    permissions: list[str]
    token: str
    is_active: bool
    manifest_url: str
    version: str | None = None
    webhooks: list[Webhook] = field(default_factory=list)
    is_installed: bool = False
    deleted: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    private_metadata: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return gid("App", self.pk)


@dataclass
class Customer:
    pk: int
    email: str
    first_name: str
    last_name: str
    date_joined: str
    default_address: dict[str, Any]


@dataclass
class OrderLine:
    uuid: str
    spec: LineSpec
    variant_pk: int
    quantity_fulfilled: int = 0

    @property
    def id(self) -> str:
        return gid("OrderLine", self.uuid)

    @property
    def quantity_to_fulfill(self) -> int:
        return self.spec.quantity - self.quantity_fulfilled


@dataclass
class Fulfillment:
    pk: int
    fulfillment_order: int
    status: str
    tracking_number: str
    created: str
    warehouse: dict[str, Any]
    lines: list[tuple[int, OrderLine, int]]  # (FulfillmentLine pk, order line, quantity)

    @property
    def id(self) -> str:
        return gid("Fulfillment", self.pk)


@dataclass
class Transaction:
    uuid: str
    name: str
    psp_reference: str | None
    charged: float
    refunded: float
    created_at: str
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Note:
    pk: int
    type: str
    message: str
    date: str
    by_staff: bool
    app: App | None


@dataclass
class Order:
    uuid: str
    number: int
    status: str
    created: str
    updated_at: str
    user_email: str
    customer: Customer | None
    billing_address: dict[str, Any] | None
    shipping_address: dict[str, Any] | None
    lines: list[OrderLine]
    shipping_price: float
    customer_note: str = ""
    external_reference: str | None = None
    language_code: str = "EN"
    origin: str = "DRAFT"
    metadata: dict[str, str] = field(default_factory=dict)
    private_metadata: dict[str, str] = field(default_factory=dict)
    fulfillments: list[Fulfillment] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def id(self) -> str:
        return gid("Order", self.uuid)

    @property
    def subtotal(self) -> float:
        return sum(line.spec.unit_price * line.spec.quantity for line in self.lines)

    @property
    def total(self) -> float:
        return round(self.subtotal + self.shipping_price, 2)

    @property
    def charged(self) -> float:
        return round(sum(t.charged for t in self.transactions), 2)

    @property
    def refunded(self) -> float:
        return round(sum(t.refunded for t in self.transactions), 2)

    @property
    def charge_status(self) -> str:
        if self.charged <= 0:
            return "NONE"
        if self.charged < self.total:
            return "PARTIAL"
        return "FULL" if self.charged == self.total else "OVERCHARGED"

    @property
    def authorize_status(self) -> str:
        return {"NONE": "NONE", "PARTIAL": "PARTIAL"}.get(self.charge_status, "FULL")

    @property
    def payment_status(self) -> str:
        return {"NONE": "NOT_CHARGED", "PARTIAL": "PARTIALLY_CHARGED"}.get(self.charge_status, "FULLY_CHARGED")

    @property
    def is_fully_paid(self) -> bool:
        return self.charged >= self.total


@dataclass(frozen=True)
class Caller:
    """Who sent a request or caused an action: the issuingPrincipal of what it emits."""

    kind: Literal["staff", "app", "anonymous", "system"]
    app: App | None = None
    user_id: str | None = None  # a staff caller by Dashboard token: which staff user (default: the admin)

    @property
    def permissions(self) -> frozenset[str]:
        if self.kind == "staff":
            return frozenset({"MANAGE_ORDERS", "MANAGE_APPS", "MANAGE_STAFF", "AUTHENTICATED_STAFF_USER"})
        if self.kind == "app" and self.app is not None:
            return frozenset({*self.app.permissions, "AUTHENTICATED_APP"})
        return frozenset()


STAFF = Caller("staff")
SYSTEM = Caller("system")
ANONYMOUS = Caller("anonymous")
