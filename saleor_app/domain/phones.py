"""Which phone number an SMS or call goes to: the rule's phone type, read from the order, normalised to E.164.

Types, in the order "auto" tries them: the order's billing address phone, its shipping address phone, the
customer's default billing address phone, the customer's default shipping address phone. A metadata key is a
type of its own (never part of auto). Saleor sends `""` for a missing phone, so empty counts as missing. A number
without a country code is read in the country of the address it came from (metadata: the billing, else the
shipping address's country). None found → SkipJob saying which types were looked at; one that is not a valid
number → SkipJob naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import phonenumbers

from saleor_app.domain.errors import SkipJob


class PhoneType(StrEnum):
    AUTO = "auto"
    BILLING = "billing"
    SHIPPING = "shipping"
    CUSTOMER_BILLING = "customer_billing"
    CUSTOMER_SHIPPING = "customer_shipping"
    METADATA = "metadata"


AUTO_ORDER = (PhoneType.BILLING, PhoneType.SHIPPING, PhoneType.CUSTOMER_BILLING, PhoneType.CUSTOMER_SHIPPING)
_LABELS = {PhoneType.BILLING: "billing address phone", PhoneType.SHIPPING: "shipping address phone",
           PhoneType.CUSTOMER_BILLING: "customer's default billing address phone",
           PhoneType.CUSTOMER_SHIPPING: "customer's default shipping address phone"}


@dataclass(frozen=True, slots=True)
class ChosenPhone:
    number: str  # E.164
    source: PhoneType

    def describe(self, metadata_key: str | None = None) -> str:
        return label(self.source, metadata_key)


def label(kind: PhoneType, metadata_key: str | None = None) -> str:
    return f"metadata {metadata_key}" if kind is PhoneType.METADATA else _LABELS.get(kind, kind.value)


def normalise(raw: str, region: str | None) -> str | None:
    """`raw` in E.164 ("+4930123456"), or None when it is not a valid number (in `region` when it has no +)."""
    try:
        parsed = phonenumbers.parse(raw, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _address(snapshot: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    value: Any = snapshot
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _country(address: Mapping[str, Any]) -> str | None:
    country = address.get("country")
    code = country.get("code") if isinstance(country, Mapping) else country
    return str(code) if code else None


def _metadata(snapshot: Mapping[str, Any], key: str) -> str:
    for name in ("metadata", "privateMetadata"):
        for item in snapshot.get(name) or []:
            if isinstance(item, Mapping) and item.get("key") == key and item.get("value"):
                return str(item["value"])
    return ""


def _candidate(snapshot: Mapping[str, Any], kind: PhoneType, metadata_key: str | None) -> tuple[str, str | None]:
    """(raw number, region to read it in)."""
    if kind is PhoneType.METADATA:
        region = _country(_address(snapshot, "billingAddress")) or _country(_address(snapshot, "shippingAddress"))
        return _metadata(snapshot, metadata_key or "").strip(), region
    path = {PhoneType.BILLING: ("billingAddress",), PhoneType.SHIPPING: ("shippingAddress",),
            PhoneType.CUSTOMER_BILLING: ("user", "defaultBillingAddress"),
            PhoneType.CUSTOMER_SHIPPING: ("user", "defaultShippingAddress")}[kind]
    address = _address(snapshot, *path)
    return str(address.get("phone") or "").strip(), _country(address)


def pick_phone(snapshot: Mapping[str, Any], kind: PhoneType, metadata_key: str | None = None) -> ChosenPhone:
    """The number to text or call, or SkipJob saying why there is none."""
    kinds = AUTO_ORDER if kind is PhoneType.AUTO else (kind,)
    invalid: list[str] = []
    for each in kinds:
        raw, region = _candidate(snapshot, each, metadata_key)
        if not raw:
            continue
        number = normalise(raw, region)
        if number is not None:
            return ChosenPhone(number, each)
        invalid.append(f"{raw!r} ({label(each, metadata_key)})")
        if kind is not PhoneType.AUTO:
            break
    if invalid:
        raise SkipJob(f"invalid phone number {', '.join(invalid)}")
    wanted = " or ".join(label(each, metadata_key) for each in kinds)
    raise SkipJob(f"no phone number of type {wanted}")
