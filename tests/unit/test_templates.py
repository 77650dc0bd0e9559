"""Merchant templates: catalogue, context from real Saleor orders, filters, strict checks, limits, no leaks."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from saleor_app.domain.errors import PermanentError
from saleor_app.domain.templates import (
    FIELDS,
    MAX_LIST_ITEMS,
    MAX_LOOP_ITERATIONS,
    Preview,
    TemplateField,
    TemplateLimitExceeded,
    TemplateProblem,
    TemplateRenderError,
    build_context,
    cache_info,
    preview,
    render,
    sample_order,
    validate,
)
from tests.conftest import SAMPLES, SAMPLES_HOW, require

WEBHOOKS = SAMPLES / "webhooks"


def webhook_order(name: str) -> dict[str, Any]:
    path = WEBHOOKS / name
    require(path.exists(), f"captured Saleor webhook {path} is missing: {SAMPLES_HOW}")
    order: dict[str, Any] = json.loads(path.read_bytes())["order"]
    return order


def context(order: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return build_context(order if order is not None else sample_order(), shop_name="Acme Apparel",
                         stage=("ready-to-ship", "Ready to ship"), extra=extra or None)


def expression(field: TemplateField) -> str:
    return "{{ " + field.path.replace("[]", ".first") + " }}"


# ------------------------------------------------------------------------------------------- catalogue & context


def test_catalogue_is_frozen_data_with_unique_paths() -> None:
    assert isinstance(FIELDS, tuple) and all(isinstance(field, TemplateField) for field in FIELDS)
    assert len({field.path for field in FIELDS}) == len(FIELDS)
    with pytest.raises(AttributeError):
        FIELDS[0].path = "x"  # type: ignore[misc]
    paths = {field.path for field in FIELDS}
    for path in ("order.total", "order.lines[].unit_price", "customer.is_guest", "shipping_address.phone",
                 "billing_address.country_code", "shop.name", "stage.key", "automation.number"):
        assert path in paths
    assert all(field.description and field.type for field in FIELDS)


@pytest.mark.parametrize("field", FIELDS, ids=lambda field: field.path)
def test_every_catalogue_path_resolves_in_the_sample(field: TemplateField) -> None:
    assert validate(expression(field)) == []
    assert render(expression(field), context()).strip() != ""


def test_every_catalogue_path_is_defined_for_a_real_guest_order() -> None:
    guest = webhook_order("08-order_created.body")
    for field in FIELDS:
        assert validate(expression(field), sample=guest) == [], field.path


def test_context_from_a_real_order_created_webhook() -> None:
    ctx = context(webhook_order("01-order_created.body"))
    order = ctx["order"]
    assert order["number"] == "22" and order["status"] == "UNFULFILLED" and order["currency"] == "USD"
    assert str(order["total"]) == "131.00 USD" and order["subtotal"] is None  # not in webhook payloads
    assert order["channel"] == {"name": "Channel-USD", "slug": "default-channel"}
    assert order["customer_note"] == "Please leave at the door" and order["external_reference"] == "EXT-A-1001"
    assert order["item_count"] == 3 and order["tracking_numbers"] == [] and order["metadata"] == {}
    first = order["lines"][0]
    assert (first["product_name"], first["variant_name"], first["sku"], first["quantity"]) == (
        "Darko Polo", "S", "111223580", 2)
    assert str(first["unit_price"]) == "40.50 USD" and str(first["total_price"]) == "81.00 USD"  # unit × qty
    assert ctx["customer"] == {"first_name": "Ashley", "last_name": "Cook", "full_name": "Ashley Cook",
                               "email": "ashley.cook@example.com", "is_guest": False}
    assert ctx["billing_address"]["country_area"] == "PA" and ctx["billing_address"]["country_code"] == "US"
    assert ctx["billing_address"]["country"] == "" and ctx["shipping_address"]["phone"] == "+12025550143"
    assert ctx["automation"] == {"number": None}
    assert ctx["shop"] == {"name": "Acme Apparel"} and ctx["stage"] == {"key": "ready-to-ship", "name": "Ready to ship"}


def test_context_from_a_real_guest_order_with_an_empty_phone() -> None:
    ctx = context(webhook_order("08-order_created.body"))
    assert ctx["customer"]["is_guest"] is True
    assert ctx["customer"]["email"] == "guest.buyer@example.com" and ctx["order"]["email"] == "guest.buyer@example.com"
    assert ctx["customer"]["first_name"] == "Ashley"  # from the billing address
    assert ctx["shipping_address"]["phone"] == "" and ctx["billing_address"]["phone"] == "+12025550143"
    assert ctx["order"]["external_reference"] == "" and ctx["order"]["customer_note"] == ""
    hoodie = ctx["order"]["lines"][1]
    # Saleor sends the variant's global ID as its name when it has none, and null for a missing SKU.
    assert hoodie["variant_name"] == "" and hoodie["sku"] == ""
    text = render("Hi {{ customer.first_name }}, {{ order.lines.size }} lines, {{ order.total | money }}.", ctx)
    assert text == "Hi Ashley, 2 lines, 115.00 USD."


def test_context_carries_tracking_numbers_and_public_metadata_only() -> None:
    order = webhook_order("22-order_metadata_updated.body")
    order["privateMetadata"] = [{"key": "secret", "value": "s3cret"}]
    ctx = context(order)
    assert ctx["order"]["tracking_numbers"] == ["TRACK-A-1"]
    assert ctx["order"]["metadata"] == {"gift_message": "Happy birthday!"}
    assert "s3cret" not in repr(ctx)


@pytest.mark.parametrize("partial", [
    {}, {"user": None, "billingAddress": None, "lines": None, "total": None, "metadata": None},
    {"lines": [None, {}, {"quantity": "2", "unitPrice": None}], "fulfillments": [{"trackingNumber": None}, None]},
    {"total": {"gross": {"amount": None}}, "channel": "nonsense", "metadata": [{"value": "no key"}, "x"]},
])
def test_build_context_never_raises_on_a_partial_snapshot(partial: dict[str, Any]) -> None:
    ctx = context(partial)
    assert ctx["order"]["number"] == "" and ctx["customer"]["is_guest"] is True
    assert ctx["shipping_address"]["city"] == "" and ctx["order"]["tracking_numbers"] == []
    assert render("{{ order.total | money }}{{ order.lines.first.sku }}{{ customer.full_name }}", ctx) == ""


def test_automation_number_and_extra_variables() -> None:
    order = sample_order()
    assert context(order)["automation"] == {"number": "1042"}
    when = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
    ctx = context(order, fulfillment={"tracking": "TRACK-9", "at": when})
    assert ctx["fulfillment"] == {"tracking": "TRACK-9", "at": "2026-05-01T08:30:00+00:00"}
    result = preview("{{ fulfillment.tracking }}", order, shop_name="Acme", stage=None, extra={"fulfillment": {
        "tracking": "TRACK-9"}})
    assert result == Preview("TRACK-9", (), 7)


# ------------------------------------------------------------------------------------------- filters


@pytest.mark.parametrize(("source", "expected"), [
    ("{{ order.total | money }}", "140.99 USD"),
    ("{{ order.total }}", "140.99 USD"),
    ("{{ order.lines.first.unit_price | money }}", "40.50 USD"),
    ("{{ 131.0 | money: 'USD' }}", "131.00 USD"),
    ("{{ 12.5 | money }}", "12.50"),
    ("{{ 0.1 | plus: 0.2 | money: 'EUR' }}", "0.30 EUR"),  # 0.30000000000000004 as a float
    ("{{ 2.675 | money }}", "2.68"),  # the float is 2.67499999…; its shortest repr rounds half up
    ("{{ -0.005 | money }}", "-0.01"),
    ("{{ 1500.0 | money: 'JPY' }}", "1500 JPY"),
    ("{{ 1.2345 | money: 'kwd' }}", "1.235 KWD"),
    ("{{ '1e20' | money }}", "100000000000000000000.00"),
    ("{{ '1e99' | money }}", "1e99"),  # beyond decimal precision: unchanged, not an error
    ("{{ '19.9' | money: order.currency }}", "19.90 USD"),
    ("{{ 'n/a' | money }}", "n/a"),
    ("{{ nothing | money }}", ""),
    ("{{ order.total.amount | times: 2 | money: order.total.currency }}", "281.98 USD"),
])
def test_money(source: str, expected: str) -> None:
    assert render(source, context()) == expected


@pytest.mark.parametrize(("created", "expected"), [
    ("2026-03-28T12:00:00+00:00", "2026-03-28 13:00 CET"),
    ("2026-03-29T00:59:59+00:00", "2026-03-29 01:59 CET"),
    ("2026-03-29T01:00:00+00:00", "2026-03-29 03:00 CEST"),  # spring forward
    ("2026-10-24T12:00:00+00:00", "2026-10-24 14:00 CEST"),
    ("2026-10-25T00:30:00+00:00", "2026-10-25 02:30 CEST"),
    ("2026-10-25T01:30:00+00:00", "2026-10-25 02:30 CET"),  # fall back: the hour happens twice
    ("2026-10-25T12:00:00.244915+00:00", "2026-10-25 13:00 CET"),
])
def test_date_in_a_time_zone_across_dst(created: str, expected: str) -> None:
    ctx = context({**sample_order(), "created": created})
    assert render('{{ order.created | date: "%Y-%m-%d %H:%M %Z", "Europe/Berlin" }}', ctx) == expected


def test_date_defaults_to_utc_and_reads_saleor_strings() -> None:
    ctx = context()
    assert render('{{ order.created | date: "%d.%m.%Y %H:%M" }}', ctx) == "24.11.2026 01:20"
    assert render('{{ order.created | date: "%Y", "America/New_York" }}', ctx) == "2026"
    assert render("{{ order.created | date }}", ctx) == "2026-11-24T01:20:42.244915+00:00"
    assert render('{{ "not a date" | date: "%Y" }}', ctx) == "not a date"
    assert render('{{ "now" | date: "%Y" }}', ctx) == "now"  # no clock in the domain
    assert render('{{ missing | date: "%Y" }}', ctx) == ""


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "Europe/Berlin/../x",
                                  "localtime", "posixrules"])  # the last two: files of the server's own set-up
def test_date_refuses_unknown_or_path_like_zones(zone: str) -> None:
    source = '{{ order.created | date: "%H", "' + zone + '" }}'
    [problem] = validate(source)
    assert "time zone" in problem.message and (problem.line, problem.column) == (1, 20)  # at `date`
    with pytest.raises(TemplateRenderError, match="time zone"):
        render(source, context())


# ------------------------------------------------------------------------------------------- validation


def test_a_valid_template_has_no_problems() -> None:
    source = (
        "Hi {{ customer.first_name | default: 'there' }},\n"
        "{% for line in order.lines limit: 10 %}- {{ forloop.index }}. {{ line.quantity }} × {{ line.product_name }}"
        " {{ line.total_price | money }}\n{% endfor %}"
        "{% if order.tracking_numbers.size > 0 %}Tracking: {{ order.tracking_numbers | join: ', ' }}{% endif %}\n"
        "{% assign gift = order.metadata.gift_message %}{% if gift != blank %}Note: {{ gift }}{% endif %}\n"
        "{% case order.status %}{% when 'FULFILLED' %}Shipped{% else %}{{ order.status | downcase }}{% endcase %}"
        "{{ order.metadata.any_key_the_merchant_uses }} {{ order.lines[0].sku }} {{ stage.name }} {{ shop.name }}"
    )
    assert validate(source) == []
    assert "1. 2 × Darko Polo 81.00 USD" in render(source, context())


@pytest.mark.parametrize(("source", "line", "column", "fragment"), [
    ("Hello\n  {% iff order.number %}", 2, 6, "unexpected tag 'iff'"),
    ("Hello {{ order.number }\nbye", 1, 7, "expected '}}'"),  # at the unclosed statement
    ("{% if order.number %}\nopen", 2, 5, "endif"),  # unclosed: reported at the end
    ("one\ntwo {{ order.number | }}", 2, 8, "expected"),  # reported at the statement
    ("{% for %}{% endfor %}", 1, 4, "missing expression"),
    ("{% include 'footer' %}", 1, 4, "unexpected tag 'include'"),
    ("{% render 'footer' %}", 1, 4, "unexpected tag 'render'"),
])
def test_syntax_errors_with_line_and_column(source: str, line: int, column: int, fragment: str) -> None:
    [problem] = validate(source)
    assert fragment in problem.message
    assert (problem.line, problem.column) == (line, column)


def test_unknown_variables_and_filters_with_positions_on_every_branch() -> None:
    source = (
        "Dear {{ customer.nickname }}\n"
        "{% if order.status == 'CANCELED' %}{{ order.totl | money }}{% endif %}\n"
        "{{ order.total | mony }} {{ order.lines.first.skuu }}\n"
        "{% for line in order.lines %}{{ line.price }}{% endfor %}{{ forloop.index }}"
    )
    problems = validate(source)
    assert problems == [
        TemplateProblem("Unknown variable 'customer.nickname'", 1, 9),
        TemplateProblem("Unknown variable 'order.totl' (did you mean 'total'?)", 2, 39),
        TemplateProblem("Unknown filter 'mony' (did you mean 'money'?)", 3, 18),
        TemplateProblem("Unknown variable 'order.lines.first.skuu' (did you mean 'sku'?)", 3, 29),
        TemplateProblem("Unknown variable 'line.price'", 4, 33),
        TemplateProblem("Unknown variable 'forloop'", 4, 61),
    ]


def test_strict_on_save_lenient_at_send() -> None:
    source = "Hi {{ customer.nickname }}{{ order.number | no_such_filter }}!"
    assert len(validate(source)) == 2
    assert render(source, context()) == "Hi 22!"


def test_filter_errors_are_problems_on_save_and_permanent_at_send() -> None:
    [problem] = validate("x\n{{ order.item_count | divided_by: 0 }}")
    assert "divide by 0" in problem.message and problem.line == 2
    with pytest.raises(TemplateRenderError, match="line 2") as caught:
        render("x\n{{ order.item_count | divided_by: 0 }}", context())
    assert isinstance(caught.value, PermanentError)


def test_safe_is_not_offered() -> None:
    [problem] = validate("{{ order.customer_note | safe }}")
    assert problem.message.startswith("Unknown filter 'safe'")


# ------------------------------------------------------------------------------------------- limits


@pytest.mark.parametrize("source", [
    "{% for i in (1..2000) %}x{% endfor %}",
    "{% for i in (1..40) %}{% for j in (1..40) %}x{% endfor %}{% endfor %}",  # 1,600 together
    "{% tablerow i in (1..1500) %}x{% endtablerow %}",
])
def test_loop_limit(source: str) -> None:
    with pytest.raises(TemplateLimitExceeded, match="loops more than 1,000") as caught:
        render(source, context())
    assert isinstance(caught.value, PermanentError)
    assert any("loops more than" in problem.message for problem in validate(source))


@pytest.mark.parametrize("source", [
    "{{ (1..100000000) | join: ',' }}",  # no loop, but a billion items
    "{% assign r = (1..100000000) %}{{ r | reverse | first }}",
    "{% assign big = '" + "x" * 5000 + "' %}{% for i in (1..1000) %}{{ big | split: '' | sort | size }}{% endfor %}",
    "{% assign l = 'a,b' | split: ',' %}{% for i in (1..20) %}{% assign l = l | concat: l %}{% endfor %}",
])
def test_lists_made_by_filters_are_limited(source: str) -> None:
    with pytest.raises(TemplateLimitExceeded, match="list of more than 1,000 items"):
        render(source, context())
    assert any("list of more than" in problem.message for problem in validate(source))


def test_loop_limit_allows_exactly_the_limit() -> None:
    assert render(f"{{% for i in (1..{MAX_LOOP_ITERATIONS}) %}}x{{% endfor %}}", context()) == "x" * 1000
    assert render(f"{{{{ (1..{MAX_LIST_ITEMS}) | size }}}}", context()) == "1000"


@pytest.mark.parametrize("source", [
    "{% for i in (1..1000) %}" + "y" * 200 + "{% endfor %}",
    "{% for i in (1..500) %}{{ order.lines | map: 'product_name' | join: '" + "z" * 300 + "' }}{% endfor %}",
    "{% capture c %}{% for i in (1..1000) %}" + "q" * 150 + "{% endfor %}{% endcapture %}",
    "{{ '" + "x" * 400 + "' | replace: 'x', '" + "y" * 400 + "' }}",  # 160 kB from one filter
    "{% assign p = '" + "x" * 400 + "' | split: '' %}{{ p | join: '" + "s" * 400 + "' }}",
])
def test_output_limit(source: str) -> None:
    with pytest.raises(TemplateLimitExceeded, match="exceed 100,000 bytes"):
        render(source, context())
    assert [problem.message for problem in validate(source)][0].startswith("The rendered text would exceed")


@pytest.mark.parametrize("source", [
    "{% assign s = 'xxxxxxxxxx' %}{% for i in (1..100) %}{% assign s = s | append: s %}{% endfor %}",
    # sys.getsizeof would count 8 bytes per item here, although each item holds 1 kB
    "{% assign l = '" + "x" * 1000 + ",' | split: ',' %}{% for i in (1..100) %}{% assign l = l | concat: l %}"
    "{% endfor %}",
    "{% assign n = 7 %}{% for i in (1..100) %}{% assign n = n | times: n %}{% endfor %}",
])
def test_assigned_variables_are_limited(source: str) -> None:
    with pytest.raises((TemplateLimitExceeded, TemplateRenderError)):
        render(source, context())
    assert validate(source) != []


def test_source_size_and_nesting_limits() -> None:
    huge = "x" * 100_001
    with pytest.raises(TemplateLimitExceeded, match="longer than 100,000 characters"):
        render(huge, {})
    assert validate(huge)[0].message.startswith("The template is longer")
    deep = "{% if true %}" * 25 + "x" + "{% endif %}" * 25
    assert "nested more than 20 deep" in validate(deep)[0].message
    with pytest.raises(TemplateLimitExceeded, match="nested"):
        render(deep, {})


# ------------------------------------------------------------------------------------------- security


INJECTIONS = [
    "{{ order.__class__ }}", "{{ order.__class__.__mro__ }}", "{{ x.__init__.__globals__ }}",
    "{{ order.total.__dict__ }}", "{{ order.total.__str__ }}", "{{ order.lines.first.__class__.__base__ }}",
    "{{ order.lines.__len__ }}", "{{ order['__class__'] }}", "{{ order.number.__class__ }}",
    "{{ order.total.amount.real }}", "{{ order.number.upper }}", "{% assign c = order.__class__ %}{{ c.__name__ }}",
    "{% for l in order.lines %}{{ forloop.__class__ }}{{ forloop.__dict__ }}{{ forloop.it }}{% endfor %}",
    "{{ order.items }}", "{{ order.keys }}", "{{ order.get }}",
    "{{ customer.is_guest.__class__ }}", "{{ template }}", "{{ partial.__class__ }}",
]


@pytest.mark.parametrize("source", INJECTIONS)
def test_no_python_internals_are_reachable(source: str) -> None:
    text = render(source, context())
    assert text.strip() in {"", "false"}, text
    assert validate(source) != []


@pytest.mark.parametrize(("source", "expected"), [
    ("{{ order.lines | map: '__class__' | join: ',' }}", ","),
    ("{{ order.lines | map: '__init__' | first }}", ""),
    ("{{ order.lines | where: '__class__' | size }}", "0"),
    ("{{ order.lines | sum: '__len__' }}", "0"),
])
def test_filters_taking_a_key_see_items_not_attributes(source: str, expected: str) -> None:
    assert render(source, context()) == expected


def test_size_first_last_still_work() -> None:
    assert render("{{ order.lines.size }} {{ order.lines.first.sku }} {{ order.lines.last.sku }}",
                  context()) == "2 111223580 118223581"


def test_autoescape_for_html_bodies_only() -> None:
    ctx = context({**sample_order(), "customerNote": '<script>alert("x")</script> & co'})
    source = "<p>Note: {{ order.customer_note }}</p>"
    assert render(source, ctx, autoescape=True) == (
        "<p>Note: &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co</p>")
    assert render(source, ctx) == '<p>Note: <script>alert("x")</script> & co</p>'
    assert render("{{ order.customer_note | escape }}", ctx, autoescape=True).count("&amp;lt;") == 0  # not twice


# ------------------------------------------------------------------------------------------- cache & preview


def test_compiled_templates_are_cached_per_source() -> None:
    source = f"{{{{ order.number }}}} {uuid.uuid4()}"
    before = cache_info()
    for _ in range(3):
        render(source, context())
    after_text = cache_info()
    assert after_text.misses - before.misses == 1 and after_text.hits - before.hits == 2
    render(source, context(), autoescape=True)  # HTML is compiled once too, separately
    render(source, context(), autoescape=True)
    assert cache_info().misses - before.misses == 2


def test_preview_renders_leniently_and_lists_problems() -> None:
    order = webhook_order("08-order_created.body")
    result = preview("Hi {{ customer.first_name }} {{ customer.nickname }}, {{ order.total | money }}", order,
                     shop_name="Acme", stage=("new", "New"))
    assert result.text == "Hi Ashley , 115.00 USD" and result.length == len(result.text)
    assert result.problems == (TemplateProblem("Unknown variable 'customer.nickname'", 1, 33),)
    failed = preview("{% for i in (1..5000) %}x{% endfor %}", order, shop_name="Acme", stage=None)
    assert failed.text == "" and failed.length == 0 and "loops more than" in failed.problems[0].message
