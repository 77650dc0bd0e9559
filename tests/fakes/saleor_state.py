"""SaleorState: everything the fake stores, plus the dict views GraphQL and webhooks project from.

Views are shaped like Saleor 3.23's objects as captured in ../shared/saleor/samples: money amounts are floats,
an absent phone is "", cities are upper-cased, `customerNote` is "" and `externalReference` null when absent,
guests have `user: null`, metadata is sorted by key.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests.fakes.saleor_model import (
    COUNTRIES,
    STAFF_EMAIL,
    STAFF_USER_PK,
    App,
    Caller,
    ChannelSettings,
    Customer,
    Fulfillment,
    Note,
    Order,
    OrderLine,
    ShopSettings,
    Transaction,
    Webhook,
    decode_gid,
    gid,
    iso,
)


def money(amount: float, currency: str) -> dict[str, Any]:
    return {"__typename": "Money", "amount": float(round(amount, 2)), "currency": currency}


def taxed(amount: float, currency: str) -> dict[str, Any]:
    # The fake has no taxes: net equals gross.
    return {"__typename": "TaxedMoney", "gross": money(amount, currency), "net": money(amount, currency),
            "tax": money(0.0, currency), "currency": currency}


def metadata_items(values: dict[str, str]) -> list[dict[str, Any]]:
    # Saleor sorts metadata by key (samples/mutations/updatePrivateMetadata-ok-app.json).
    return [{"__typename": "MetadataItem", "key": k, "value": values[k]} for k in sorted(values)]


def _metafield(values: dict[str, str]) -> Callable[[dict[str, Any]], str | None]:
    return lambda args: values.get(args.get("key", ""))


class SaleorState:
    """Everything the fake Saleor stores, with pk counters and an injected clock."""

    def __init__(self, clock: Callable[[], datetime], *, first_order_number: int = 1) -> None:
        self.clock = clock
        self.shop = ShopSettings()
        self.channel = ChannelSettings()
        self.apps: dict[int, App] = {}
        self.orders: dict[str, Order] = {}
        # Orders Saleor itself cannot serialise (seen: seed data with origin ''): reading them is a GraphQL error.
        self.unreadable: set[str] = set()
        self.customers: dict[str, Customer] = {}
        self.warehouse = {"__typename": "Warehouse", "id": gid("Warehouse", uuid.uuid4()), "name": "Main warehouse",
                          "metadata": [], "privateMetadata": []}
        self._counters: dict[str, itertools.count[int]] = {}
        self._first = {"order": first_order_number, "customer": 100}
        # Staff users by global id (`me`, `staffUsers`); the admin is the staff token's and the default JWT's user.
        self.staff_users: dict[str, dict[str, Any]] = {gid("User", STAFF_USER_PK): self.staff_view()}
        self.app_problems: list[Any] = []  # tests/fakes/saleor_problems.py: appProblemCreate / appProblemDismiss

    def add_staff(self, email: str, first_name: str = "", last_name: str = "", *, active: bool = True) -> str:
        user_id = gid("User", 1000 + len(self.staff_users))
        self.staff_users[user_id] = {"__typename": "User", "id": user_id, "email": email, "firstName": first_name,
                                     "lastName": last_name, "isStaff": True, "isActive": active}
        return user_id

    def now(self) -> str:
        return iso(self.clock())

    def next_pk(self, kind: str) -> int:
        counter = self._counters.setdefault(kind, itertools.count(self._first.get(kind, 1)))
        return next(counter)

    def live_apps(self) -> list[App]:
        return [app for app in self.apps.values() if not app.deleted]

    def app_by_token(self, token: str) -> App | None:
        return next((a for a in self.live_apps() if a.token == token and a.is_active), None)

    def order(self, global_id: object) -> Order | None:
        decoded = decode_gid(global_id)
        return self.orders.get(decoded[1]) if decoded and decoded[0] == "Order" else None

    def customer(self, email: str, first_name: str, last_name: str) -> Customer:
        if email not in self.customers:
            # The captured customer's default addresses carry no phone: `"phone": ""`.
            default = self.address(first_name, last_name, "")
            self.customers[email] = Customer(self.next_pk("customer"), email, first_name, last_name, self.now(),
                                             default)
        return self.customers[email]

    def address(self, first_name: str, last_name: str, phone: str, **overrides: Any) -> dict[str, Any]:
        country = overrides.pop("country", "US")
        address: dict[str, Any] = {"__typename": "Address", "id": gid("Address", self.next_pk("address")),
                   "firstName": first_name, "lastName": last_name, "companyName": "",
                   "streetAddress1": "4666 Frank Crossroad Apt. 450", "streetAddress2": "",
                   "city": "South Robertfort", "cityArea": "", "postalCode": "15669", "countryArea": "PA",
                   "phone": phone or "", "metadata": [], "privateMetadata": []}
        address.update(overrides)
        address["city"] = str(address["city"]).upper()  # Saleor's address normalisation
        address["country"] = {"__typename": "CountryDisplay", "code": country,
                              "country": COUNTRIES.get(country, country)}
        return address

    # -- views ---------------------------------------------------------------------------------------------------

    def staff_view(self) -> dict[str, Any]:
        return {"__typename": "User", "id": gid("User", STAFF_USER_PK), "email": STAFF_EMAIL, "firstName": "",
                "lastName": "", "isStaff": True, "isActive": True}

    def principal(self, caller: Caller) -> dict[str, Any] | None:
        if caller.kind == "staff":
            return self.staff_view()
        if caller.kind == "app" and caller.app is not None:
            return self.app_view(caller.app)
        return None

    def app_view(self, app: App) -> dict[str, Any]:
        return {
            "__typename": "App", "id": app.id, "name": app.name, "identifier": app.identifier,
            "isActive": app.is_active, "type": "THIRDPARTY", "version": app.version, "manifestUrl": app.manifest_url,
            "permissions": [{"__typename": "Permission", "code": p, "name": p.replace("_", " ").capitalize() + "."}
                            for p in app.permissions],
            "webhooks": [self.webhook_view(app, hook) for hook in app.webhooks],
            "metadata": metadata_items(app.metadata), "privateMetadata": metadata_items(app.private_metadata),
            "metafield": _metafield(app.metadata), "privateMetafield": _metafield(app.private_metadata),
        }

    def webhook_view(self, app: App, hook: Webhook) -> dict[str, Any]:
        return {
            "__typename": "Webhook", "id": hook.id, "name": hook.name, "identifier": hook.identifier,
            "targetUrl": hook.target_url, "isActive": hook.is_active, "subscriptionQuery": hook.query,
            "asyncEvents": [{"__typename": "WebhookEventAsync", "eventType": e, "name": e.replace("_", " ").title()}
                            for e in hook.async_events],
            "syncEvents": [], "secretKey": None, "customHeaders": json.dumps(hook.custom_headers),
            "app": lambda _args: self.app_view(app),
        }

    def channel_view(self) -> dict[str, Any]:
        c = self.channel
        return {"__typename": "Channel", "id": gid("Channel", 1), "slug": c.slug, "name": c.name,
                "currencyCode": c.currency, "isActive": True,
                "orderSettings": {"__typename": "OrderSettings",
                                  "automaticallyConfirmAllNewOrders": c.auto_confirm,
                                  "automaticallyFulfillNonShippableGiftCard": True,
                                  "expireOrdersAfter": c.expire_orders_after, "deleteExpiredOrdersAfter": 60,
                                  "markAsPaidStrategy": c.mark_as_paid_strategy,
                                  "allowUnpaidOrders": c.allow_unpaid_orders,
                                  "includeDraftOrderInVoucherUsage": False}}

    def customer_view(self, customer: Customer) -> dict[str, Any]:
        orders = [o for o in self.orders.values() if o.customer is customer and o.status != "DRAFT"]
        return {
            "__typename": "User", "id": gid("User", customer.pk), "email": customer.email,
            "firstName": customer.first_name, "lastName": customer.last_name, "dateJoined": customer.date_joined,
            "isStaff": False, "isActive": True, "languageCode": "EN",
            "defaultBillingAddress": customer.default_address,
            "defaultShippingAddress": customer.default_address,
            "orders": lambda _args: {"__typename": "OrderCountableConnection", "totalCount": len(orders)},
            "metadata": [], "privateMetadata": [],
        }

    def fulfillment_view(self, fulfillment: Fulfillment) -> dict[str, Any]:
        return {
            "__typename": "Fulfillment", "id": fulfillment.id, "fulfillmentOrder": fulfillment.fulfillment_order,
            "status": fulfillment.status, "trackingNumber": fulfillment.tracking_number,
            "created": fulfillment.created, "warehouse": fulfillment.warehouse, "metadata": [],
            "privateMetadata": [],
            "lines": [{"__typename": "FulfillmentLine", "id": gid("FulfillmentLine", pk), "quantity": quantity,
                       "orderLine": {"__typename": "OrderLine", "id": line.id}}
                      for pk, line, quantity in fulfillment.lines],
        }

    def note_view(self, note: Note) -> dict[str, Any]:
        return {"__typename": "OrderEvent", "id": gid("OrderEvent", note.pk), "type": note.type,
                "message": note.message, "date": note.date, "user": self.staff_view() if note.by_staff else None,
                "app": self.app_view(note.app) if note.app is not None else None, "amount": None, "email": None}

    def line_view(self, order: Order, line: OrderLine) -> dict[str, Any]:
        spec, currency = line.spec, self.channel.currency
        allocated = line.quantity_to_fulfill if order.status not in ("DRAFT", "CANCELED", "EXPIRED") else 0
        return {
            "__typename": "OrderLine", "id": line.id, "productName": spec.product_name,
            "variantName": spec.variant_name, "productSku": spec.sku, "quantity": spec.quantity,
            "quantityFulfilled": line.quantity_fulfilled, "quantityToFulfill": line.quantity_to_fulfill,
            "isShippingRequired": spec.is_shipping_required, "unitPrice": taxed(spec.unit_price, currency),
            "totalPrice": taxed(spec.unit_price * spec.quantity, currency), "thumbnail": None,
            "variant": {"__typename": "ProductVariant", "id": gid("ProductVariant", line.variant_pk),
                        "name": spec.variant_name, "sku": spec.sku,
                        "preorder": {"__typename": "PreorderData", "endDate": None, "globalThreshold": None,
                                     "globalSoldUnits": 0} if spec.preorder else None},
            "allocations": [{"__typename": "Allocation", "id": gid("Allocation", line.uuid), "quantity": allocated,
                             "warehouse": self.warehouse}] if allocated else [],
            "metadata": [], "privateMetadata": [],
        }

    def transaction_view(self, transaction: Transaction) -> dict[str, Any]:
        currency = self.channel.currency
        return {
            "__typename": "TransactionItem", "id": gid("TransactionItem", transaction.uuid),
            "name": transaction.name, "pspReference": transaction.psp_reference,
            "createdAt": transaction.created_at, "chargedAmount": money(transaction.charged, currency),
            "refundedAmount": money(transaction.refunded, currency), "authorizedAmount": money(0.0, currency),
            "events": [dict(event, amount=money(event["amount"], currency)) for event in transaction.events],
            "metadata": [], "privateMetadata": [],
        }

    def order_view(self, order: Order, *, updated_at: str | None = None) -> dict[str, Any]:
        currency = self.channel.currency
        return {
            "__typename": "Order", "id": order.id, "number": str(order.number), "created": order.created,
            "updatedAt": updated_at or order.updated_at, "status": order.status,
            "chargeStatus": order.charge_status, "authorizeStatus": order.authorize_status,
            "paymentStatus": order.payment_status, "isPaid": order.is_fully_paid and order.charged > 0,
            "origin": order.origin, "userEmail": order.user_email, "languageCodeEnum": order.language_code,
            "customerNote": order.customer_note, "externalReference": order.external_reference,
            "shippingMethodName": "DHL" if any(line.spec.is_shipping_required for line in order.lines) else None,
            "collectionPointName": None,
            "isShippingRequired": any(line.spec.is_shipping_required for line in order.lines),
            "channel": self.channel_view(),
            "user": self.customer_view(order.customer) if order.customer else None,
            "billingAddress": order.billing_address, "shippingAddress": order.shipping_address,
            "lines": [self.line_view(order, line) for line in order.lines],
            "subtotal": taxed(order.subtotal, currency), "shippingPrice": taxed(order.shipping_price, currency),
            "total": taxed(order.total, currency), "undiscountedTotal": taxed(order.total, currency),
            "totalCharged": money(order.charged, currency), "totalAuthorized": money(0.0, currency),
            "totalRefunded": money(order.refunded, currency), "totalCanceled": money(0.0, currency),
            "totalBalance": money(order.charged - order.total, currency),
            "fulfillments": [self.fulfillment_view(f) for f in order.fulfillments],
            "transactions": [self.transaction_view(t) for t in order.transactions],
            "events": [self.note_view(note) for note in order.notes],
            "metadata": metadata_items(order.metadata), "privateMetadata": metadata_items(order.private_metadata),
            "metafield": _metafield(order.metadata), "privateMetafield": _metafield(order.private_metadata),
            "discounts": [], "giftCards": [], "invoices": [], "grantedRefunds": [], "voucherCode": None,
            "checkoutId": None, "redirectUrl": None, "errors": [],
        }
