"""Rule conditions: which order fields a rule may test, how they are validated on save and judged at run time."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_serializer, field_validator

from saleor_app.domain.time_zones import UnknownTimeZone, iana_zone

Kind = Literal["money", "number", "string", "enum", "strings", "metadata", "time_window", "boolean"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

# Operator -> (phrase when true, phrase when false, short form for the board). `contains` ignores case.
_PHRASES: dict[str, tuple[str, str, str]] = {
    "eq": ("is", "is not", "is"),
    "ne": ("is not", "is", "is not"),
    "gt": ("is greater than", "is not greater than", ">"),
    "gte": ("is at least", "is less than", ">="),
    "lt": ("is less than", "is not less than", "<"),
    "lte": ("is at most", "is greater than", "<="),
    "in": ("is in", "is not in", "in"),
    "not_in": ("is not in", "is in", "not in"),
    "contains_any": ("contain one of", "contain none of", "include any of"),
    "contains_none": ("contain none of", "contain one of", "include none of"),
    "contains": ("contains", "does not contain", "contains"),
    "exists": ("is set", "is not set", "is set"),
    "not_exists": ("is not set", "is set", "is not set"),
}
_NUMERIC_OPS = ("eq", "ne", "gt", "gte", "lt", "lte")
_SET_OPS = ("eq", "ne", "in", "not_in")
_METADATA_OPS = ("exists", "not_exists", "eq", "ne", "contains")

# Saleor enums (schema.graphql: OrderChargeStatusEnum, OrderAuthorizeStatusEnum, OrderStatus).
CHARGE_STATUSES = ("NONE", "PARTIAL", "FULL", "OVERCHARGED")
AUTHORIZE_STATUSES = ("NONE", "PARTIAL", "FULL")
ORDER_STATUSES = (
    "DRAFT", "UNCONFIRMED", "UNFULFILLED", "PARTIALLY_FULFILLED", "PARTIALLY_RETURNED",
    "RETURNED", "FULFILLED", "CANCELED", "EXPIRED",
)  # fmt: skip
CUSTOMER_KINDS = ("new", "returning", "guest")


def _dig(data: object, *path: str) -> Any:
    for step in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(step)
    return data


def _decimal(raw: object) -> Decimal | None:
    """Exact decimal of a JSON number: via str(), so 40.5 is 40.5 and not 40.5000000000000000000001…"""
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal | str):
        return None
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _read_total(order: Mapping[str, Any], _key: str | None) -> tuple[Decimal, str] | None:
    amount = _decimal(_dig(order, "total", "gross", "amount"))
    currency = _dig(order, "total", "gross", "currency")
    return None if amount is None else (amount, currency if isinstance(currency, str) else "")


def _read_item_count(order: Mapping[str, Any], _key: str | None) -> Decimal | None:
    lines = order.get("lines")
    if not isinstance(lines, list):
        return None
    quantities = [_decimal(_dig(line, "quantity")) for line in lines]
    return None if None in quantities else sum((q for q in quantities if q is not None), Decimal(0))


def _read_skus(order: Mapping[str, Any], _key: str | None) -> frozenset[str] | None:
    lines = order.get("lines")
    if not isinstance(lines, list):
        return None
    return frozenset(sku for line in lines if isinstance(sku := _dig(line, "productSku"), str) and sku)


def _read_customer(order: Mapping[str, Any], _key: str | None) -> str | None:
    if "user" not in order:
        return None
    if order["user"] is None:
        return "guest"
    # orders.totalCount includes the order being judged, so a first-time buyer has 1.
    count = _dig(order["user"], "orders", "totalCount")
    if not isinstance(count, int) or isinstance(count, bool):
        return None
    return "new" if count <= 1 else "returning"


def _read_path(*path: str) -> Callable[[Mapping[str, Any], str | None], object]:
    return lambda order, _key: _dig(order, *path)


def _read_metadata(name: str) -> Callable[[Mapping[str, Any], str | None], object]:
    def read(order: Mapping[str, Any], _key: str | None) -> dict[str, str] | None:
        items = order.get(name)
        if not isinstance(items, list):
            return None
        return {str(i.get("key")): str(i.get("value") or "") for i in items if isinstance(i, Mapping)}

    return read


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field a condition may test: its type, operators and how it is read from the order snapshot."""

    name: str
    label: str
    kind: Kind
    ops: tuple[str, ...]
    read: Callable[[Mapping[str, Any], str | None], object]
    choices: tuple[str, ...] = ()
    upper: bool = False  # codes (currency, country) compare case-insensitively


FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("total", "total", "money", _NUMERIC_OPS, _read_total),
        FieldSpec("currency", "currency", "string", _SET_OPS, _read_path("total", "gross", "currency"), upper=True),
        FieldSpec("channel", "channel", "string", _SET_OPS, _read_path("channel", "slug")),
        FieldSpec("shipping_country", "shipping country", "string", _SET_OPS,
                  _read_path("shippingAddress", "country", "code"), upper=True),
        FieldSpec("billing_country", "billing country", "string", _SET_OPS,
                  _read_path("billingAddress", "country", "code"), upper=True),
        FieldSpec("charge_status", "charge status", "enum", _SET_OPS, _read_path("chargeStatus"), CHARGE_STATUSES),
        FieldSpec("authorize_status", "authorize status", "enum", _SET_OPS, _read_path("authorizeStatus"),
                  AUTHORIZE_STATUSES),
        FieldSpec("status", "status", "enum", _SET_OPS, _read_path("status"), ORDER_STATUSES),
        FieldSpec("item_count", "item count", "number", _NUMERIC_OPS, _read_item_count),
        FieldSpec("sku", "SKUs", "strings", ("contains_any", "contains_none", "eq"), _read_skus),
        FieldSpec("metadata", "metadata", "metadata", _METADATA_OPS, _read_metadata("metadata")),
        FieldSpec("private_metadata", "private metadata", "metadata", _METADATA_OPS, _read_metadata("privateMetadata")),
        FieldSpec("customer", "customer", "enum", ("eq", "ne"), _read_customer, CUSTOMER_KINDS),
        FieldSpec("time_window", "time", "time_window", ("in", "not_in"), _read_path()),
        FieldSpec("is_shipping_required", "shipping required", "boolean", ("eq",), _read_path("isShippingRequired")),
    )
}  # fmt: skip


class TimeWindow(BaseModel):
    """Local hours [from, to); to < from crosses midnight (counts for the day it starts); from == to is all day."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, serialize_by_alias=True)

    start: str = Field(alias="from")
    end: str = Field(alias="to")
    days: tuple[Day, ...] | None = Field(default=None, min_length=1)

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a time of day; use HH:MM from 00:00 to 23:59")
        return value

    def contains(self, local: datetime) -> bool:
        start, end, now = time.fromisoformat(self.start), time.fromisoformat(self.end), local.time()
        inside = start == end or start <= now < end or end < start <= now
        weekday = local.weekday()
        if end < start and now < end:  # the early-morning tail of a window that began yesterday
            inside, weekday = True, (weekday - 1) % 7
        return inside and (self.days is None or DAYS[weekday] in self.days)

    def describe(self) -> str:
        return f"{self.start}–{self.end}" + (f" {_days_text(self.days)}" if self.days else "")


def _days_text(days: tuple[Day, ...]) -> str:
    index = sorted({DAYS.index(d) for d in days})
    if len(index) >= 3 and index == list(range(index[0], index[-1] + 1)):
        return f"{DAYS[index[0]].title()}–{DAYS[index[-1]].title()}"
    return ", ".join(DAYS[i].title() for i in index)


def _string(value: object, spec: FieldSpec) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{spec.name} needs a non-empty text value")
    value = value.strip()
    if spec.choices:
        if value.upper() not in {c.upper() for c in spec.choices}:
            raise ValueError(f"{value!r} is not a valid {spec.label}; allowed: {', '.join(spec.choices)}")
        return next(c for c in spec.choices if c.upper() == value.upper())
    return value.upper() if spec.upper else value


def _strings(value: object, spec: FieldSpec) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError(f"{spec.name} needs a text or a non-empty list of texts")
    return tuple(dict.fromkeys(_string(item, spec) for item in items))


def _normalise_value(spec: FieldSpec, op: str, value: object) -> object:
    if op in ("exists", "not_exists"):
        if value is not None:
            raise ValueError(f"{op} takes no value")
        return None
    if value is None:
        raise ValueError(f"{spec.name} {op} needs a value")
    if spec.kind in ("money", "number"):
        number = None if isinstance(value, str) else _decimal(value)
        if number is None:
            raise ValueError(f"{spec.name} needs a number, got {value!r}")
        return number
    if spec.kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{spec.name} needs true or false, got {value!r}")
        return value
    if spec.kind == "time_window":
        try:
            return TimeWindow.model_validate(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "value"
            shape = "{from: HH:MM, to: HH:MM, days: [mon, …, sun]}"
            raise ValueError(
                f"time window {where}: {first['msg'].removeprefix('Value error, ')}; shape: {shape}"
            ) from None
    if spec.kind == "strings" or op in ("in", "not_in"):
        return _strings(value, spec)
    if spec.kind == "metadata" and not isinstance(value, str):
        raise ValueError(f"{spec.name} {op} needs a text value")
    return _string(value, spec) if spec.kind != "metadata" else value


class Comparison(BaseModel):
    """One test of an order field, e.g. {"field": "total", "op": "gt", "value": 100}."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    op: str
    key: str | None = Field(default=None, validate_default=True)
    value: Any = Field(default=None, validate_default=True)

    @field_validator("field")
    @classmethod
    def _known_field(cls, name: str) -> str:
        if name not in FIELDS:
            raise ValueError(f"unknown field {name!r}; allowed: {', '.join(FIELDS)}")
        return name

    @field_validator("op")
    @classmethod
    def _allowed_op(cls, op: str, info: ValidationInfo) -> str:
        spec = FIELDS.get(info.data.get("field", ""))
        if spec is not None and op not in spec.ops:
            raise ValueError(f"operator {op!r} is not allowed for {spec.name}; allowed: {', '.join(spec.ops)}")
        return op

    @field_validator("key")
    @classmethod
    def _key_for_metadata(cls, key: str | None, info: ValidationInfo) -> str | None:
        spec = FIELDS.get(info.data.get("field", ""))
        if spec is None:
            return key
        if spec.kind == "metadata" and not (key and key.strip()):
            raise ValueError(f"{spec.name} needs the metadata key to test")
        if spec.kind != "metadata" and key is not None:
            raise ValueError(f"key is only for metadata and private_metadata, not {spec.name}")
        return key.strip() if key else None

    @field_validator("value")
    @classmethod
    def _typed_value(cls, value: object, info: ValidationInfo) -> object:
        spec, op = FIELDS.get(info.data.get("field", "")), info.data.get("op")
        if spec is None or op not in spec.ops:
            return value  # the field or operator error already explains it
        return _normalise_value(spec, op, value)

    @field_serializer("value")
    def _plain_value(self, value: object) -> object:
        if isinstance(value, Decimal):  # a JSON/YAML number, not a string; str() round-trips it exactly
            return int(value) if value == value.to_integral_value() else float(value)
        return value


class Condition(BaseModel):
    """All or any of the comparisons; no comparisons means the rule always runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    match: Literal["all", "any"] = "all"
    rules: tuple[Comparison, ...] = Field(default=(), max_length=50)


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    reason: str


def _show(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, tuple | frozenset):
        return ", ".join(sorted(value) if isinstance(value, frozenset) else value) or "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _money(value: tuple[Decimal, str]) -> str:
    amount, currency = value
    text = f"{amount:.2f}" if amount == amount.quantize(Decimal("0.01")) else format(amount, "f")
    return f"{text} {currency}".strip()


def _subject(c: Comparison, spec: FieldSpec) -> str:
    return f"{spec.label} {c.key}" if c.key else spec.label


def _test(c: Comparison, spec: FieldSpec, actual: object) -> bool:
    op, want = c.op, c.value
    if spec.kind in ("money", "number"):
        number = actual[0] if isinstance(actual, tuple) else actual
        assert isinstance(number, Decimal) and isinstance(want, Decimal)
        return {"eq": number == want, "ne": number != want, "gt": number > want,
                "gte": number >= want, "lt": number < want, "lte": number <= want}[op]  # fmt: skip
    if spec.kind == "strings":
        assert isinstance(actual, frozenset) and isinstance(want, tuple)
        if op == "eq":
            return actual == frozenset(want)
        return bool(actual & set(want)) == (op == "contains_any")
    if op == "contains":
        return str(want).casefold() in str(actual).casefold()
    if spec.upper and isinstance(actual, str):
        actual = actual.upper()
    if op in ("in", "not_in"):
        return (actual in want) == (op == "in") if isinstance(want, tuple) else False
    return bool(actual == want) == (op == "eq")


def _judge(c: Comparison, order: Mapping[str, Any], now: datetime, time_zone: str) -> Verdict:
    spec = FIELDS[c.field]
    verb_true, verb_false, _ = _PHRASES[c.op]
    if spec.kind == "time_window":
        assert isinstance(c.value, TimeWindow)
        try:
            local = now.astimezone(iana_zone(time_zone))
        except UnknownTimeZone:
            return Verdict(False, f"time zone {time_zone!r} is unknown")
        inside = c.value.contains(local) == (c.op == "in")
        verb = ("is within", "is outside") if c.op == "in" else ("is outside", "is within")
        shown = f"{local:%a %H:%M} {time_zone}"
        return Verdict(inside, f"time {shown} {verb[0] if inside else verb[1]} {c.value.describe()}")
    actual = spec.read(order, c.key)
    if actual is None:
        return Verdict(False, f"{spec.label} is missing from the order")
    if spec.kind == "metadata":
        assert isinstance(actual, dict) and c.key is not None
        if c.op in ("exists", "not_exists"):
            ok = (c.key in actual) == (c.op == "exists")
            return Verdict(ok, f"{_subject(c, spec)} {verb_true if ok else verb_false}")
        if c.key not in actual:
            return Verdict(False, f"{_subject(c, spec)} is not set")
        actual = actual[c.key]
    ok = _test(c, spec, actual)
    shown = _money(actual) if isinstance(actual, tuple) else _show(actual)
    if spec.kind == "metadata":
        shown = repr(shown)
    expected = repr(c.value) if spec.kind == "metadata" else _show(c.value)
    return Verdict(ok, f"{_subject(c, spec)} {shown} {verb_true if ok else verb_false} {expected}")


def evaluate(condition: Condition, snapshot: Mapping[str, Any], *, now: datetime, time_zone: str) -> Verdict:
    """Judge a condition against the order snapshot (`data.order` of AutomationOrder) at `now` (aware UTC)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not condition.rules:
        return Verdict(True, "no condition")
    verdicts = [_judge(c, snapshot, now, time_zone) for c in condition.rules]
    if condition.match == "all":
        failed = next((v for v in verdicts if not v.passed), None)
        return failed or Verdict(True, "; ".join(v.reason for v in verdicts))
    passed = next((v for v in verdicts if v.passed), None)
    return passed or Verdict(False, "none matched: " + "; ".join(v.reason for v in verdicts))


def _summarise(c: Comparison) -> str:
    spec = FIELDS[c.field]
    short = _PHRASES[c.op][2]
    if spec.kind == "time_window":
        assert isinstance(c.value, TimeWindow)
        return f"time {'within' if c.op == 'in' else 'outside'} {c.value.describe()}"
    if spec.kind in ("money", "number") and c.op in ("eq", "ne"):
        short = "=" if c.op == "eq" else "!="
    if spec.kind == "strings" and c.op == "eq":
        short = "are exactly"
    if c.value is None:
        return f"{_subject(c, spec)} {short}"
    expected = repr(c.value) if spec.kind == "metadata" else _show(c.value)
    return f"{_subject(c, spec)} {short} {expected}"


def summary(condition: Condition) -> str:
    """Board text, e.g. "total > 100 and shipping country in DE, AT"."""
    if not condition.rules:
        return "always"
    return f" {'and' if condition.match == 'all' else 'or'} ".join(_summarise(c) for c in condition.rules)
