"""Screenshots of every view in light and dark for the README, from a realistic pipeline.

Each screenshot is also a check: the view rendered (waited for) in the theme asked for. They go to a temporary
directory, or to docs/screenshots/ with UPDATE_SCREENSHOTS=1 (`UPDATE_SCREENSHOTS=1 pytest tests/browser`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.conftest import LiveStack, take_screenshot
from tests.browser.test_dashboard_page import open_dashboard

SHOWCASE = Path(__file__).with_name("showcase.yaml")


def test_every_view_in_light_and_dark(live: LiveStack, page: Any, shots: Path) -> None:
    def shoot(name: str) -> None:
        take_screenshot(page, shots, name)

    imported = live.api("PUT", "/api/v1/config", content=SHOWCASE.read_text())
    assert imported.status_code == 200, imported.text
    twilio = live.twilio.account  # the fake Twilio on loopback
    connected = live.api("PUT", "/api/v1/providers/twilio-shop", json={
        "kind": "twilio", "name": "Shop phone", "credentials": {"account_sid": twilio.sid,
                                                               "auth_token": twilio.auth_token}})
    assert connected.json()["status"] == "connected", connected.text
    order = live.run(lambda: live.stack.saleor.place_order(auto_confirm=True))
    live.run(live.stack.settle)
    for theme in ("light", "dark"):
        frame = open_dashboard(page, live, theme=theme)
        assert frame.locator("html").get_attribute("data-theme") == theme
        shoot(f"board-{theme}")

        frame.locator(".card-title", has_text="Order received email").click()
        editor = frame.locator("form.editor")
        editor.locator("#preview-order").fill(str(order.number))
        editor.locator('[data-field="config.subject"] .preview-label', has_text=f"#{order.number}").wait_for()
        editor.locator('[data-field="config.subject"]').scroll_into_view_if_needed()
        shoot(f"rule-editor-{theme}")
        editor.get_by_role("button", name="Cancel").click()

        frame.locator(".card-title", has_text="Payment reminder").click()
        frame.locator('[data-testid="sms-counter"]').scroll_into_view_if_needed()
        shoot(f"sms-editor-{theme}")
        frame.locator("form.editor").get_by_role("button", name="Cancel").click()

        frame.locator(".trigger", has_text="Pickup requested").click()
        frame.locator("form.editor-narrow").wait_for()
        shoot(f"trigger-editor-{theme}")
        frame.locator("form.editor-narrow").get_by_role("button", name="Cancel").click()

        for view, ready in (("events", ".event-groups"), ("providers", ".provider"), ("settings", "form.settings")):
            frame.get_by_role("tab", name={"events": "Event rules", "providers": "Providers",
                                           "settings": "Settings"}[view]).click()
            frame.locator(ready).first.wait_for()
            shoot(f"{view}-{theme}")

        frame.get_by_role("tab", name="Import / export").click()
        frame.get_by_role("button", name="Start from the export").click()
        target = frame.locator("textarea[aria-label='Configuration to import (YAML)']")
        target.fill(target.input_value().replace("time_zone: Europe/Berlin", "time_zone: Europe/Berln", 1)
                    .replace("delay: 1d", "delay: one day", 1))
        frame.get_by_role("button", name="Check").click()
        frame.locator(".problems .problem").first.wait_for()
        shoot(f"import-export-{theme}")

    page.set_viewport_size({"width": 480, "height": 800})  # a narrow iframe
    try:
        open_dashboard(page, live)
        shoot("board-narrow-light")
        frame = page.frame_locator("#app-frame")
        frame.locator(".card-title", has_text="Order received email").click()
        frame.locator("form.editor").wait_for()
        width = frame.locator("form.editor").evaluate("el => el.getBoundingClientRect().width")
        assert width <= 480
        shoot("rule-editor-narrow-light")
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})
        live.api("DELETE", "/api/v1/providers/twilio-shop")
