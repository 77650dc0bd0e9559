"""The variables a merchant template sees: their catalogue, the context built from an order snapshot, a sample."""

from __future__ import annotations

import base64
import binascii
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# Kept on the order by the "generate a number" action, next to the stage key (pipeline.py).
PRIVATE_METADATA_NUMBER_KEY = "order-automation.number"
# Kept on the order by the "responsible person" action: the member's key, name and e-mail.
PRIVATE_METADATA_RESPONSIBLE_KEY = "order-automation.responsible"
PRIVATE_METADATA_RESPONSIBLE_NAME = "order-automation.responsible-name"
PRIVATE_METADATA_RESPONSIBLE_EMAIL = "order-automation.responsible-email"


@dataclass(frozen=True, slots=True)
class TemplateField:
    """One variable a template may use. `[]` in a path stands for any item of a list (`.first`, `[0]`, a loop)."""

    path: str
    type: str  # string | integer | boolean | datetime | money | list | dict
    description: str
    example: str


def _address_fields(root: str, label: str) -> tuple[TemplateField, ...]:
    parts = (
        ("first_name", "first name", "Ashley"), ("last_name", "last name", "Cook"),
        ("company_name", "company", "Cook & Co"), ("street_address_1", "street, first line", "17 Elm Street"),
        ("street_address_2", "street, second line", "Apt. 4"), ("city", "city", "SOUTH ROBERTFORT"),
        ("city_area", "city area / district", ""), ("postal_code", "postal code", "15669"),
        ("country_area", "state / province code", "PA"), ("country_code", "ISO country code", "US"),
        ("country", "country name", "United States of America"),
        ("phone", "phone (E.164), empty if none", "+12025550143"),
    )
    return tuple(TemplateField(f"{root}.{key}", "string", f"{label}: {text}", ex) for key, text, ex in parts)


FIELDS: tuple[TemplateField, ...] = (
    TemplateField("order.number", "string", "Order number shown to the customer", "22"),
    TemplateField("order.status", "string", "Saleor status (UNCONFIRMED, UNFULFILLED, FULFILLED, CANCELED, …)",
                  "UNFULFILLED"),
    TemplateField("order.created", "datetime", "When the order was placed (ISO 8601, UTC); format with `date`",
                  "2026-11-24T01:20:42.244915+00:00"),
    TemplateField("order.total", "money", "Order total, gross; `.amount` and `.currency`, format with `money`",
                  "140.99 USD"),
    TemplateField("order.subtotal", "money", "Sum of the lines, gross", "131.00 USD"),
    TemplateField("order.shipping_price", "money", "Shipping price, gross", "9.99 USD"),
    TemplateField("order.currency", "string", "ISO 4217 currency code", "USD"),
    TemplateField("order.channel.name", "string", "Sales channel name", "Channel-USD"),
    TemplateField("order.channel.slug", "string", "Sales channel slug", "default-channel"),
    TemplateField("order.email", "string", "E-mail address on the order", "ashley.cook@example.com"),
    TemplateField("order.customer_note", "string", "Note the customer left at checkout", "Please leave at the door"),
    TemplateField("order.external_reference", "string", "External reference", "EXT-A-1001"),
    TemplateField("order.shipping_method", "string", "Shipping method or pick-up point name", "DHL Express"),
    TemplateField("order.lines", "list", "Order lines (loop: `{% for line in order.lines %}`)", "2 lines"),
    TemplateField("order.lines[].product_name", "string", "Product name", "Darko Polo"),
    TemplateField("order.lines[].variant_name", "string", "Variant name, empty if the variant has none", "S"),
    TemplateField("order.lines[].sku", "string", "SKU, empty if none", "111223580"),
    TemplateField("order.lines[].quantity", "integer", "Quantity ordered", "2"),
    TemplateField("order.lines[].unit_price", "money", "Price of one unit, gross", "40.50 USD"),
    TemplateField("order.lines[].total_price", "money", "Price of the line, gross", "81.00 USD"),
    TemplateField("order.item_count", "integer", "Number of items (sum of line quantities)", "3"),
    TemplateField("order.tracking_numbers", "list", "Tracking numbers of the shipments (non-empty ones)",
                  "TRACK-A-1"),
    TemplateField("order.metadata", "dict", "Public metadata: `order.metadata.gift_message`",
                  "Happy birthday!"),
    TemplateField("customer.first_name", "string", "First name (account, else billing address)", "Ashley"),
    TemplateField("customer.last_name", "string", "Last name (account, else billing address)", "Cook"),
    TemplateField("customer.full_name", "string", "First and last name", "Ashley Cook"),
    TemplateField("customer.email", "string", "Account e-mail, else the order's e-mail", "ashley.cook@example.com"),
    TemplateField("customer.is_guest", "boolean", "True when the order has no customer account", "false"),
    *_address_fields("billing_address", "Billing address"),
    *_address_fields("shipping_address", "Shipping address"),
    TemplateField("shop.name", "string", "Your shop's name", "Acme Apparel"),
    TemplateField("stage.name", "string", "Name of the order's stage", "Ready to ship"),
    TemplateField("stage.key", "string", "Key of the order's stage", "ready-to-ship"),
    TemplateField("automation.number", "string", "Number generated by an automation; empty if none yet", "1042"),
    TemplateField("responsible.key", "string", "The order's responsible team member (key); empty if none",
                  "jane"),
    TemplateField("responsible.name", "string", "The responsible member's name", "Jane Doe"),
    TemplateField("responsible.email", "string", "The responsible member's e-mail", "jane@example.com"),
)


# The catalogue as a tree, for checking the variables a template uses: "[]" is a list item, "*" any key.
_ITEM, _ANY = "[]", "*"


def _schema() -> dict[str, Any]:
    root: dict[str, Any] = {}
    for field in FIELDS:
        node = root
        for part in field.path.replace(_ITEM, "." + _ITEM).split("."):
            node = node.setdefault(part, {})
        if field.type == "money":
            node.update(amount={}, currency={})
        elif field.type == "list":
            node.setdefault(_ITEM, {})
        elif field.type == "dict":
            node[_ANY] = {}
    return root


_SCHEMA = _schema()


def suggest(name: str, candidates: Iterable[str]) -> str:
    """The closest candidate as a hint for a problem message, or "" when none is close."""
    match = difflib.get_close_matches(name, [c for c in candidates if c not in (_ITEM, _ANY)], n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""


def unknown_variable(segments: list[Any], context: Mapping[str, Any]) -> str | None:
    """Why a global variable is not in the catalogue, or None when it is (or cannot be told before rendering)."""
    root = segments[0]
    if not isinstance(root, str) or (root not in _SCHEMA and root in context):  # an `extra` variable
        return None
    node, walked = _SCHEMA, list[str]()
    for segment in segments:
        if segment == "size" or _ANY in node:
            return None
        if _ITEM in node and (isinstance(segment, int | list) or segment in ("first", "last")):
            node = node[_ITEM]
        elif isinstance(segment, str) and segment in node:
            node = node[segment]
        elif isinstance(segment, list):
            return None  # a key computed while rendering
        else:
            return f"Unknown variable '{'.'.join([*walked, str(segment)])}'{suggest(str(segment), node)}"
        walked.append(str(segment) if isinstance(segment, str) else "first")
    return None


class MoneyValue(dict[str, Any]):
    """`{"amount", "currency"}` that renders as "131.00 USD" when output without a filter."""

    def __str__(self) -> str:
        return format_money(self.get("amount"), self.get("currency"))


# ISO 4217 minor units where they are not 2 (a fixed list keeps the domain free of locale data).
_EXPONENTS = {
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}


def format_money(amount: object, currency: object = None) -> str:
    """"131.00 USD"; exact decimal rounding (half up) to the currency's minor unit; "" for no amount."""
    if amount is None or amount == "" or isinstance(amount, bool):
        return ""
    try:
        # str() first: Decimal(0.1 + 0.2) would carry the float's binary error into the result.
        value = Decimal(str(amount).strip())
        code = str(currency).strip().upper() if currency else ""
        text = f"{value.quantize(Decimal(1).scaleb(-_EXPONENTS.get(code, 2)), rounding='ROUND_HALF_UP'):f}"
    except ArithmeticError:  # not a number, NaN, or too large to quantize
        return str(amount)
    return f"{text} {code}" if code else text


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _money(value: object) -> MoneyValue | None:
    money = _map(value)
    if "gross" in money:  # TaxedMoney → its gross part
        money = _map(money["gross"])
    if money.get("amount") is None:
        return None
    return MoneyValue(amount=money["amount"], currency=_text(money.get("currency")))


def _address(value: object) -> dict[str, str]:
    address = _map(value)
    country = _map(address.get("country"))
    return {
        "first_name": _text(address.get("firstName")), "last_name": _text(address.get("lastName")),
        "company_name": _text(address.get("companyName")),
        "street_address_1": _text(address.get("streetAddress1")),
        "street_address_2": _text(address.get("streetAddress2")),
        "city": _text(address.get("city")), "city_area": _text(address.get("cityArea")),
        "postal_code": _text(address.get("postalCode")), "country_area": _text(address.get("countryArea")),
        "country_code": _text(country.get("code")), "country": _text(country.get("country")),
        "phone": _text(address.get("phone")),
    }


def _variant_name(value: object) -> str:
    # Saleor fills variantName with the variant's global ID ("ProductVariant:347" in base64) when the
    # variant has no name; a customer must never see that.
    name = _text(value)
    try:
        decoded = base64.b64decode(name, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return name
    return "" if decoded.startswith("ProductVariant:") else name


def _line(value: object) -> dict[str, Any]:
    line = _map(value)
    quantity = line.get("quantity")
    quantity = quantity if isinstance(quantity, int) else 0
    unit = _money(line.get("unitPrice"))
    total = _money(line.get("totalPrice"))
    if total is None and unit is not None:  # webhook payloads carry the unit price only
        total = MoneyValue(amount=float(Decimal(str(unit["amount"])) * quantity), currency=unit["currency"])
    return {
        "product_name": _text(line.get("productName")), "variant_name": _variant_name(line.get("variantName")),
        "sku": _text(line.get("productSku")), "quantity": quantity, "unit_price": unit, "total_price": total,
    }


def _pairs(value: object) -> dict[str, str]:
    items = value if isinstance(value, list) else []
    return {str(item["key"]): _text(item.get("value")) for item in map(_map, items) if item.get("key") is not None}


def _plain(value: object) -> object:
    """Only data reaches a template: mappings, lists, strings, numbers, booleans, None."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, str | int | float | Decimal):  # bool is an int
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def build_context(
    order: Mapping[str, Any], *, shop_name: str, stage: tuple[str, str] | None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Map a camelCase AutomationOrder snapshot to the snake_case variables of FIELDS. `stage` is (key, name).
    `extra` adds top-level variables (overriding same-named ones). Never raises on a partial snapshot."""
    user = _map(order.get("user"))
    billing, shipping = _address(order.get("billingAddress")), _address(order.get("shippingAddress"))
    channel = _map(order.get("channel"))
    lines = [_line(line) for line in order.get("lines") or []]
    total = _money(order.get("total"))
    fulfillments = [_map(item) for item in order.get("fulfillments") or []]
    first = _text(user.get("firstName")) or billing["first_name"] or shipping["first_name"]
    last = _text(user.get("lastName")) or billing["last_name"] or shipping["last_name"]
    private = _pairs(order.get("privateMetadata"))
    context: dict[str, Any] = {
        "order": {
            "number": _text(order.get("number")), "status": _text(order.get("status")),
            "created": _text(order.get("created")), "total": total, "subtotal": _money(order.get("subtotal")),
            "shipping_price": _money(order.get("shippingPrice")),
            "currency": (total["currency"] if total else "") or _text(channel.get("currencyCode")),
            "channel": {"name": _text(channel.get("name")), "slug": _text(channel.get("slug"))},
            "email": _text(order.get("userEmail")), "customer_note": _text(order.get("customerNote")),
            "external_reference": _text(order.get("externalReference")),
            "shipping_method": _text(order.get("shippingMethodName") or order.get("collectionPointName")),
            "lines": lines, "item_count": sum(line["quantity"] for line in lines),
            "tracking_numbers": list(dict.fromkeys(
                _text(item.get("trackingNumber")) for item in fulfillments if item.get("trackingNumber"))),
            "metadata": _pairs(order.get("metadata")),
        },
        "customer": {
            "first_name": first, "last_name": last, "full_name": " ".join(part for part in (first, last) if part),
            "email": _text(user.get("email") or order.get("userEmail")), "is_guest": not user,
        },
        "billing_address": billing,
        "shipping_address": shipping,
        "shop": {"name": shop_name},
        "stage": {"key": stage[0], "name": stage[1]} if stage else {"key": "", "name": ""},
        "automation": {"number": private.get(PRIVATE_METADATA_NUMBER_KEY)},
        "responsible": {"key": private.get(PRIVATE_METADATA_RESPONSIBLE_KEY, ""),
                        "name": private.get(PRIVATE_METADATA_RESPONSIBLE_NAME, ""),
                        "email": private.get(PRIVATE_METADATA_RESPONSIBLE_EMAIL, "")},
    }
    context.update({str(key): _plain(value) for key, value in (extra or {}).items()})
    return context


def sample_order() -> dict[str, Any]:
    """A realistic AutomationOrder snapshot (camelCase, as Saleor returns it) for checks without a real order."""

    def money(amount: float) -> dict[str, Any]:
        return {"amount": amount, "currency": "USD"}

    address = {
        "firstName": "Ashley", "lastName": "Cook", "companyName": "Cook & Co", "streetAddress1": "17 Elm Street",
        "streetAddress2": "Apt. 4", "city": "SOUTH ROBERTFORT", "cityArea": "Downtown", "postalCode": "15669",
        "countryArea": "PA", "country": {"code": "US", "country": "United States of America"},
        "phone": "+12025550143",
    }
    lines = [("Darko Polo", "S", "111223580", 2, 40.5), ("Paul's Balance 420", "39", "118223581", 1, 50.0)]
    return {
        "id": "T3JkZXI6ODJhN2NmMjgtYTA3NS00ODU5LThhZDYtY2FkY2ZjYzY3NTIw", "number": "22",
        "created": "2026-11-24T01:20:42.244915+00:00", "updatedAt": "2026-11-24T01:22:25.485936+00:00",
        "status": "PARTIALLY_FULFILLED", "chargeStatus": "FULL", "authorizeStatus": "FULL",
        "paymentStatus": "FULLY_CHARGED", "isPaid": True, "origin": "CHECKOUT",
        "userEmail": "ashley.cook@example.com", "languageCodeEnum": "EN",
        "customerNote": "Please leave at the door", "externalReference": "EXT-A-1001",
        "shippingMethodName": "DHL Express", "collectionPointName": None, "isShippingRequired": True,
        "channel": {"id": "Q2hhbm5lbDox", "slug": "default-channel", "name": "Channel-USD", "currencyCode": "USD"},
        "user": {"id": "VXNlcjo2", "email": "ashley.cook@example.com", "firstName": "Ashley", "lastName": "Cook",
                 "dateJoined": "2026-01-05T10:00:00+00:00", "orders": {"totalCount": 3},
                 "defaultBillingAddress": dict(address), "defaultShippingAddress": dict(address)},
        "billingAddress": dict(address), "shippingAddress": dict(address),
        "lines": [
            {"id": f"T3JkZXJMaW5lOj{index}", "productName": name, "variantName": variant, "productSku": sku,
             "quantity": quantity, "quantityFulfilled": 0, "quantityToFulfill": quantity,
             "isShippingRequired": True, "unitPrice": {"gross": money(unit)},
             "totalPrice": {"gross": money(unit * quantity)}, "variant": {"id": "UHJvZHVjdFZhcmlhbnQ6MzQ3",
                                                                          "preorder": None}, "allocations": []}
            for index, (name, variant, sku, quantity, unit) in enumerate(lines)
        ],
        "subtotal": {"gross": money(131.0)}, "shippingPrice": {"gross": money(9.99)},
        "total": {"gross": money(140.99), "net": money(140.99)},
        "totalCharged": money(140.99), "totalAuthorized": money(0.0), "totalRefunded": money(0.0),
        "totalBalance": money(0.0),
        "fulfillments": [{"id": "RnVsZmlsbG1lbnQ6MTM=", "status": "FULFILLED", "trackingNumber": "TRACK-A-1",
                          "created": "2026-11-24T01:22:08.261368+00:00", "warehouse": None}],
        "transactions": [],
        "metadata": [{"key": "gift_message", "value": "Happy birthday!"}],
        "privateMetadata": [{"key": PRIVATE_METADATA_NUMBER_KEY, "value": "1042"},
                            {"key": PRIVATE_METADATA_RESPONSIBLE_KEY, "value": "jane"},
                            {"key": PRIVATE_METADATA_RESPONSIBLE_NAME, "value": "Jane Doe"},
                            {"key": PRIVATE_METADATA_RESPONSIBLE_EMAIL, "value": "jane@example.com"}],
    }
