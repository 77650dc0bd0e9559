"""The order widget and the move-to-stage popup in Chromium, framed by the harness as the Dashboard's order page
frames them (tests/browser/harness.py `/order`): a 360 px sidebar widget sized by `widgetResize`, a modal popup.

The stack is shared with the package's other tests, so everything here is this module's own: rules keyed with a
random tag whose condition matches only orders carrying that tag in their metadata, and its own orders."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveStack, take_screenshot
from tests.fakes.saleor_model import Order
from tests.timing import eventually_sync, milliseconds

TAG = uuid.uuid4().hex[:8]
REMIND, CHAIN = f"ow-{TAG}-remind", f"ow-{TAG}-chain"
OURS = {"match": "all", "rules": [{"field": "metadata", "op": "eq", "key": "order-widget-test", "value": TAG}]}


@pytest.fixture(scope="module")
def rules(live: LiveStack) -> Iterator[None]:
    for key, extra in ((REMIND, {"delay_seconds": 7200}), (CHAIN, {"after_previous": True})):
        saved = live.api("POST", "/api/v1/rules", json={
            "key": key, "name": key, "stage": "awaiting-payment", "kind": "add_note", "condition": OURS,
            "config": {"message": f"{key} for order {{{{ order.number }}}}"}, **extra})
        assert saved.status_code == 200, saved.text
    yield
    for key in (REMIND, CHAIN):  # their pending jobs are cancelled with them
        live.api("DELETE", f"/api/v1/rules/{key}")


def new_order(live: LiveStack) -> Order:
    order = live.run(lambda: live.stack.saleor.place_order(auto_confirm=True, metadata={"order-widget-test": TAG}))
    live.run(live.stack.settle)
    return order


def open_order(page: Any, live: LiveStack, order: Order, mount: str = "widget", view: str | None = "#w-stage",
               **params: str) -> Any:
    page.goto(f"{live.harness_url}/order?{urlencode({'orderId': order.id, 'mount': mount, **params})}")
    frame = page.frame_locator("#app-frame")
    if view:
        frame.locator(view).first.wait_for()
    return frame


def actions(page: Any, kind: str) -> list[dict[str, Any]]:
    return [action for action in page.evaluate("window.__actions") if action["type"] == kind]


def mutations_of(live: LiveStack, order: Order, name: str) -> list[Any]:
    """The app's mutations of this order that Saleor recorded (a note names its order `order`, the rest `id`)."""
    return [m for m in live.stack.saleor.mutations
            if m.name == name and order.id in (m.variables.get("id"), m.variables.get("order"))]


def our_notes(live: LiveStack, order: Order) -> list[str]:
    """This module's rules' notes on the order (other tests' rules may add their own to any order)."""
    return [m.variables["message"] for m in mutations_of(live, order, "orderNoteAdd") if TAG in m.variables["message"]]


def test_the_widget_shows_stage_pending_jobs_with_their_reason_and_the_timeline(
        live: LiveStack, page: Any, rules: None) -> None:
    order = new_order(live)
    frame = open_order(page, live, order)
    assert frame.locator("#w-stage .stage-pill").inner_text() == "Awaiting payment"
    remind = frame.locator(f'#w-pending [data-job] >> text="{REMIND}"').locator("xpath=ancestor::li")
    assert remind.locator(".w-state").inner_text() == "scheduled"
    assert remind.locator(".w-why").inner_text().startswith("a delay until ")
    chain = frame.locator(f'#w-pending [data-job] >> text="{CHAIN}"').locator("xpath=ancestor::li")
    assert chain.locator(".w-why").inner_text() == f"after {REMIND} finishes"
    timeline = frame.locator("#w-timeline .w-message").all_inner_texts()
    assert any(text.startswith(f"planned {REMIND} (add_note)") for text in timeline)
    assert any(text.startswith("entered awaiting-payment: Saleor:") for text in timeline)
    history = frame.locator("#w-history li").first
    assert history.locator(".stage-pill").inner_text() == "Awaiting payment"
    assert page.evaluate("window.__ignored") == []


def test_the_widget_frame_follows_the_height_it_reports(live: LiveStack, page: Any, rules: None) -> None:
    order = new_order(live)
    frame = open_order(page, live, order)
    content = frame.locator("#app")

    def settled() -> tuple[int, int, int]:
        reported = actions(page, "widgetResize")[-1]["payload"]["height"]
        framed = page.locator("#app-frame").evaluate("el => el.getBoundingClientRect().height")
        drawn = content.evaluate("el => Math.ceil(el.getBoundingClientRect().height)")
        return reported, round(framed), drawn

    def agreed() -> tuple[int, int, int] | None:  # the last report reached the frame and matches the content
        sizes = settled()
        return sizes if sizes[0] == sizes[1] == sizes[2] else None

    page.wait_for_function("window.__actions.some(a => a.type === 'widgetResize')")
    reported, framed, drawn = eventually_sync(agreed, pause=lambda s: page.wait_for_timeout(s * 1000))
    assert drawn > 300  # no scrollbar: the frame is as tall as the content
    frame.get_by_role("button", name="Dry run").click()
    frame.locator("#w-dry-results li").first.wait_for()
    taller = eventually_sync(lambda: (sizes := agreed()) and sizes[2] > drawn and sizes,
                             pause=lambda s: page.wait_for_timeout(s * 1000))
    assert taller[0] == taller[1] == taller[2] > drawn  # the dry run's results grew it, and the frame followed


def test_the_widget_follows_the_order_while_open_and_keeps_what_the_user_chose(
        live: LiveStack, page: Any, rules: None) -> None:
    order = new_order(live)
    frame = open_order(page, live, order)
    frame.locator("#w-dry-stage").select_option("paid")  # a choice in a form, made before the order changes
    ran = live.api("POST", f"/api/v1/orders/{quote(order.id)}/rules/{REMIND}/run")  # from elsewhere, not here
    assert ran.status_code == 200, ran.text
    live.run(live.stack.settle)
    frame.locator("#w-timeline .w-message", has_text=f"{REMIND}: run now by staff").wait_for(timeout=milliseconds(15))
    assert frame.locator("#w-dry-stage").input_value() == "paid"  # the same stage: the forms are left alone

    live.run(lambda: live.stack.saleor.charge(order, order.total))  # paid in Saleor: a webhook, no click here
    live.run(live.stack.settle)  # other tests' rules on Paid may move it on (to Shipped): wait for where it ends
    now = live.api("GET", f"/api/v1/orders/{quote(order.id)}/automation").json()
    assert now["stage"]["key"] != "awaiting-payment"
    frame.locator("#w-stage .stage-pill", has_text=now["stage"]["name"]).wait_for(timeout=milliseconds(15))  # the next poll
    assert frame.locator(f'#w-pending >> text="{REMIND}"').count() == 0  # its jobs stopped with the stage
    assert "Paid" in frame.locator("#w-history .stage-pill").all_inner_texts()
    assert frame.locator("#w-rules").inner_text().count(REMIND) == 0  # "run now" offers the new stage's rules
    assert frame.locator("#w-dry-stage").input_value() == "paid"  # a dry run the user set up stays


def test_dry_run_shows_each_rules_outcome(live: LiveStack, page: Any, rules: None) -> None:
    order = new_order(live)
    frame = open_order(page, live, order)
    frame.locator("#w-dry-stage").select_option("awaiting-payment")
    frame.get_by_role("button", name="Dry run").click()
    remind = frame.locator(f'#w-dry-results [data-rule="{REMIND}"]')
    remind.wait_for()
    assert remind.locator(".w-outcome").inner_text() == f"Would add the order note: {REMIND} for order {order.number}"
    assert remind.locator(".w-why").inner_text().startswith("Condition met")
    assert our_notes(live, order) == []  # a dry run changes nothing


def test_move_from_the_widget_previews_then_moves_through_saleor(live: LiveStack, page: Any, rules: None) -> None:
    order = new_order(live)
    frame = open_order(page, live, order)
    frame.locator("#w-move-stage").select_option("paid")
    frame.get_by_role("button", name="Preview").click()
    preview = frame.locator("#w-move-preview .w-would")
    assert preview.inner_text() == "Would move the order to Paid after asking Saleor to mark as paid"
    assert mutations_of(live, order, "orderMarkAsPaid") == []  # nothing before the confirmation
    frame.get_by_role("button", name="Move to Paid").click()
    frame.locator("#w-stage .stage-pill", has_text="Paid").wait_for()
    assert "Moved: moved to Paid" in frame.locator("#w-status").inner_text()
    assert len(mutations_of(live, order, "orderMarkAsPaid")) == 1  # the write-back plan, recorded by Saleor
    assert actions(page, "refreshEntity")  # the Dashboard re-reads the order it shows
    messages = frame.locator("#w-timeline .w-message").all_inner_texts()
    assert any("moved by staff admin@example.com from the Dashboard" in text for text in messages)
    assert frame.locator(f'#w-pending [data-job] >> text="{REMIND}"').count() == 0  # its stage's jobs stopped


def test_run_rule_now_runs_it_and_asks_the_dashboard_to_refresh(live: LiveStack, page: Any, rules: None) -> None:
    order = new_order(live)
    frame = open_order(page, live, order)
    frame.get_by_role("button", name=f"Run {REMIND} now").click()
    frame.locator("#w-status", has_text=f"{REMIND} runs now").wait_for()
    assert actions(page, "refreshEntity")
    live.run(live.stack.settle)
    assert our_notes(live, order) == [f"{REMIND} for order {order.number}"]


def test_the_popup_previews_moves_refreshes_and_closes(live: LiveStack, page: Any, shots: Any, rules: None) -> None:
    order = new_order(live)
    frame = open_order(page, live, order, mount="popup", view="#p-preview h2")
    assert frame.locator(".p-now .stage-pill").inner_text() == "Awaiting payment"
    frame.locator("#p-stage").select_option("paid")
    frame.locator("#p-preview .p-would", has_text="Paid").wait_for()
    assert frame.locator("#p-preview .p-would").inner_text() == \
        "Would move the order to Paid after asking Saleor to mark as paid"
    take_screenshot(page, shots, "move-popup-light", page.locator(".dialog"))
    frame.get_by_role("button", name="Move to Paid").click()
    page.locator("#modal").wait_for(state="detached")  # popupClose closed it
    assert len(mutations_of(live, order, "orderMarkAsPaid")) == 1
    kinds = [action["type"] for action in page.evaluate("window.__actions")]
    assert kinds.index("refreshEntity") < kinds.index("popupClose")
    assert live.api("GET", f"/api/v1/orders/{order.id}/automation").json()["stage"]["key"] == "paid"

    open_order(page, live, order, mount="popup", view="#p-stage")
    page.frame_locator("#app-frame").get_by_role("button", name="Cancel").click()
    page.locator("#modal").wait_for(state="detached")


def test_the_popup_shows_saleors_refusal_and_stays_open(live: LiveStack, page: Any, rules: None) -> None:
    refusal = "Orders with transactions can not be manually marked as paid."
    order = new_order(live)
    frame = open_order(page, live, order, mount="popup", view="#p-preview h2")
    frame.locator("#p-stage").select_option("paid")
    frame.locator("#p-confirm", has_text="Move to Paid").wait_for()
    expect(frame.locator("#p-confirm")).to_be_enabled()
    live.run(lambda: live.stack.saleor.charge(order, 1))  # a payment lands after the preview: Saleor refuses now
    frame.locator("#p-confirm").click()
    frame.locator("#p-error").filter(has_text=refusal).wait_for()
    assert page.locator("#modal").count() == 1 and actions(page, "popupClose") == []

    live.run(live.stack.settle)
    frame.locator("#p-stage").select_option("new")
    frame.locator("#p-stage").select_option("paid")  # asked again, the refusal is foreseen: nothing to click
    frame.locator("#p-preview .form-error").filter(has_text=refusal).wait_for()
    expect(frame.locator("#p-confirm")).to_be_disabled()
    assert page.locator("#modal").count() == 1 and actions(page, "popupClose") == []


def test_unauthorised_states_in_the_widget(live: LiveStack, page: Any, rules: None) -> None:
    order = new_order(live)
    frame = open_order(page, live, order, view="#boot-state", perms="MANAGE_PRODUCTS")
    frame.locator("#boot-state h1", has_text="Manage orders").wait_for()
    assert "Ask a staff member with the Manage orders permission" in frame.locator("#boot-message").inner_text()
    frame = open_order(page, live, order, view="#boot-state", app="QXBwOjk5")
    frame.locator("#boot-state h1", has_text="Not signed in").wait_for()
    assert "open the app again" in frame.locator("#boot-message").inner_text()
    page.goto(f"{live.harness_url}/order?{urlencode({'orderId': 'T3JkZXI6bm9uZQ==', 'mount': 'widget'})}")
    missing = page.frame_locator("#app-frame").locator("#w-missing")
    assert "this Saleor has no order" in missing.inner_text()


def test_the_widget_follows_the_theme(live: LiveStack, page: Any, shots: Any, rules: None) -> None:
    order = new_order(live)
    frame = open_order(page, live, order, theme="dark")
    assert frame.locator("html").get_attribute("data-theme") == "dark"
    background = frame.locator("body").evaluate("el => getComputedStyle(el).backgroundColor")
    take_screenshot(page, shots, "order-widget-dark", page.locator(".sidebar"))
    page.evaluate("window.__theme('light')")
    frame.locator("html[data-theme=light]").wait_for()
    assert frame.locator("body").evaluate("el => getComputedStyle(el).backgroundColor") != background
    open_order(page, live, order, theme="light")  # the harness's own page in light too, for the picture
    take_screenshot(page, shots, "order-widget-light", page.locator(".sidebar"))


def test_the_manifests_extension_urls_boot_the_right_views(live: LiveStack, page: Any, rules: None) -> None:
    manifest = httpx.get(f"{live.app_url}/api/manifest").json()
    app_url, permissions = manifest["appUrl"], set(manifest["permissions"])
    assert app_url == f"{live.app_url}/app"
    by_mount = {extension["mount"]: extension for extension in manifest["extensions"]}
    widget, popup, menu = (by_mount["ORDER_DETAILS_WIDGETS"], by_mount["ORDER_DETAILS_MORE_ACTIONS"],
                           by_mount["NAVIGATION_ORDERS"])
    assert (widget["target"], popup["target"], menu["target"]) == ("WIDGET", "POPUP", "APP_PAGE")
    for extension in (widget, popup, menu):
        assert set(extension["permissions"]) <= permissions
    assert widget["url"] == f"{live.app_url}/app/order-widget" and popup["url"] == f"{live.app_url}/app/move-to-stage"
    # APP_PAGE: the Dashboard opens /extensions/app/<id><url> and frames appUrl + <url>: a path, not a URL.
    assert menu["url"] == "/board" and f"{app_url}{menu['url']}" == f"{live.app_url}/app/board"

    order = new_order(live)
    frame = open_order(page, live, order, url=widget["url"])
    assert frame.locator("html").get_attribute("class") == "mode-order-widget"
    assert frame.locator(".tabs").is_hidden()
    frame = open_order(page, live, order, mount="popup", url=popup["url"], view="#move-popup")
    assert frame.locator("html").get_attribute("class") == "mode-move-to-stage"
    page.goto(f"{live.harness_url}/dashboard?{urlencode({'path': menu['url']})}")
    board = page.frame_locator("#app-frame")
    board.locator(".board").wait_for()
    assert board.get_by_role("tab", name="Pipeline").get_attribute("aria-selected") == "true"
    assert board.locator(".stage h2").all_inner_texts()[:3] == ["New", "Awaiting payment", "Paid"]


def test_open_automation_redirects_the_dashboard_to_the_board(live: LiveStack, page: Any, rules: None) -> None:
    order = new_order(live)
    frame = open_order(page, live, order)
    frame.get_by_role("button", name="Open automation").click()
    page.wait_for_function("window.__actions.some(a => a.type === 'redirect')")
    app_id = live.stack.installation.app_id
    assert actions(page, "redirect")[-1]["payload"]["to"] == f"/extensions/app/{quote(app_id, safe='')}/board"
