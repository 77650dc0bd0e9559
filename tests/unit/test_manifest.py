"""The manifest Saleor installs from: fields, URLs from settings, extensions, webhooks, logo."""

from __future__ import annotations

import struct

from saleor_app.saleor.manifest import build_manifest
from saleor_app.web.pages import STATIC_DIR

APP = "https://automation.example.com"
API = "http://host.docker.internal:3000"

EXPECTED_ORDER_EVENTS = {
    "ORDER_CREATED", "ORDER_CONFIRMED", "ORDER_UPDATED", "ORDER_PAID", "ORDER_FULLY_PAID", "ORDER_REFUNDED",
    "ORDER_FULLY_REFUNDED", "ORDER_FULFILLED", "ORDER_CANCELLED", "ORDER_EXPIRED", "ORDER_METADATA_UPDATED",
    "FULFILLMENT_CREATED", "FULFILLMENT_TRACKING_NUMBER_UPDATED",
}


def test_required_fields_and_urls_come_from_settings() -> None:
    manifest = build_manifest(APP, API)
    for key in ("id", "name", "version", "about", "author", "requiredSaleorVersion", "permissions"):
        assert manifest[key], key
    assert manifest["appUrl"] == f"{APP}/app"
    assert manifest["tokenTargetUrl"] == f"{API}/api/register"
    assert manifest["brand"]["logo"]["default"] == f"{APP}/static/logo.png"
    assert manifest["permissions"] == ["MANAGE_ORDERS"]
    assert manifest["homepageUrl"].startswith(APP) and manifest["supportUrl"].startswith(APP)


def test_extensions_are_the_three_final_ones_with_permissions_within_the_apps() -> None:
    manifest = build_manifest(APP, API)
    mounts = {(e["mount"], e["target"]) for e in manifest["extensions"]}
    assert mounts == {("ORDER_DETAILS_WIDGETS", "WIDGET"), ("ORDER_DETAILS_MORE_ACTIONS", "POPUP"),
                      ("NAVIGATION_ORDERS", "APP_PAGE")}
    identifiers = [e["identifier"] for e in manifest["extensions"]]
    assert len(set(identifiers)) == 3
    for extension in manifest["extensions"]:
        # APP_PAGE: the Dashboard frames appUrl + the path (an absolute URL would be glued into the path)
        url = manifest["appUrl"] + extension["url"] if extension["target"] == "APP_PAGE" else extension["url"]
        assert url.startswith(f"{APP}/app/")
        assert set(extension["permissions"]) <= set(manifest["permissions"])


def test_webhooks_cover_every_event_with_subscription_documents() -> None:
    manifest = build_manifest(APP, API)
    by_url = {hook["targetUrl"]: hook for hook in manifest["webhooks"]}
    orders = by_url[f"{API}/api/webhooks/orders"]
    assert set(orders["asyncEvents"]) == EXPECTED_ORDER_EVENTS
    assert orders["query"].lstrip().startswith("subscription")
    assert "fragment WebhookOrder on Order" in orders["query"]
    for needed in ("issuedAt", "version", "issuingPrincipal", "recipient", "chargeStatus", "privateMetadata"):
        assert needed in orders["query"], needed
    lifecycle = by_url[f"{API}/api/webhooks/app"]
    assert set(lifecycle["asyncEvents"]) == {"APP_DELETED", "APP_STATUS_CHANGED"}


def test_logo_is_a_square_png_of_at_least_256_pixels() -> None:
    data = (STATIC_DIR / "logo.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == height >= 256
