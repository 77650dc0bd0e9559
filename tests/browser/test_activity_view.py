"""The Activity view in Chromium: the log after webhooks with every state's reason, filters kept in the Dashboard's
route, replay after its preview, resolving an unknown send, live updates, refused tokens and a narrow iframe.

The live stack is shared with the other browser tests: every test makes its own uniquely named rules and its own
orders, filters the log by them, and removes its rules (and anything else it changed) when it ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveStack, take_screenshot
from tests.browser.test_dashboard_page import actions, open_dashboard
from tests.timing import eventually_sync, milliseconds

READY = "#activity-list, .activity-note .empty-box"


class Scenario:
    """Rules made for one test (removed afterwards) and helpers to drive the stack."""

    def __init__(self, live: LiveStack) -> None:
        self.live = live
        self.tag = uuid.uuid4().hex[:6]
        self.rules: list[str] = []
        self.providers: list[str] = []

    def key(self, name: str) -> str:
        return f"act-{self.tag}-{name}"

    def rule(self, name: str, kind: str, config: dict[str, Any], **spec: Any) -> str:
        key = self.key(name)
        body = {"key": key, "name": f"{name.replace('-', ' ').capitalize()} {self.tag}", "kind": kind,
                "config": config, "stage": "awaiting-payment", **spec}
        response = self.live.api("POST", "/api/v1/rules", json=body)
        assert response.status_code == 200, response.text
        self.rules.append(key)
        return key

    def change_rule(self, key: str, **changes: Any) -> None:
        spec = next(r for s in self.live.api("GET", "/api/v1/board").json()["stages"] for r in s["rules"]
                    if r["key"] == key)["spec"]
        response = self.live.api("PUT", f"/api/v1/rules/{key}", json={**spec, **changes})
        assert response.status_code == 200, response.text

    def order(self, **options: Any) -> Any:
        options.setdefault("auto_confirm", True)
        placed = self.live.run(lambda: self.live.stack.saleor.place_order(**options))
        self.settle()
        return placed

    def settle(self) -> None:
        self.live.run(self.live.stack.settle)

    def twilio(self) -> str:
        account = self.live.twilio.account
        key = f"twilio-{self.tag}"
        connected = self.live.api("PUT", f"/api/v1/providers/{key}", json={
            "kind": "twilio", "name": "Shop phone", "credentials": {"account_sid": account.sid,
                                                                   "auth_token": account.auth_token}})
        assert connected.json()["status"] == "connected", connected.text
        self.providers.append(key)
        return key

    def cleanup(self) -> None:
        for key in self.rules:
            self.live.api("DELETE", f"/api/v1/rules/{key}")
        for key in self.providers:
            self.live.api("DELETE", f"/api/v1/providers/{key}")


@pytest.fixture
def scenario(live: LiveStack) -> Iterator[Scenario]:
    made = Scenario(live)
    settings = live.api("GET", "/api/v1/settings").json()
    # Another test's showcase may have set quiet hours; SMS would wait for their end instead of being sent now.
    live.api("PUT", "/api/v1/settings", json={"time_zone": settings["time_zone"]})
    try:
        yield made
    finally:
        made.cleanup()
        live.api("PUT", "/api/v1/settings", json={key: settings[key] for key in ("time_zone", "quiet_start",
                                                                                  "quiet_end")})


def open_activity(page: Any, live: LiveStack, theme: str = "light", **route: str) -> Any:
    """Open the Activity view as the Dashboard does after a reload of /activity?<route>: the Dashboard joins its
    own query (the app's route) to the iframe's URL."""
    frame = open_dashboard(page, live, view=READY, path="/activity", theme=theme)
    if route:
        page.evaluate("""(extra) => {
            const frame = document.getElementById("app-frame");
            const url = new URL(frame.src);
            for (const [key, value] of Object.entries(extra)) url.searchParams.set(key, value);
            frame.src = url.toString();
        }""", route)
        first = f"{next(iter(route))}="
        navigated = eventually_sync(lambda: page.frame(url=lambda url: first in url), what="the app frame reloaded",
                                    pause=lambda seconds: page.wait_for_timeout(seconds * 1000))
        navigated.locator(READY).first.wait_for()
        navigated.wait_for_function("!document.getElementById('activity-list').hasAttribute('aria-busy')")
        frame.locator(READY).first.wait_for()
    return frame


def pinned(frame: Any, row: Any) -> Any:
    """The same row however the list grows (a lazy `.first` would move to a newer row)."""
    return frame.locator(f".activity-row[data-entry='{row.get_attribute('data-entry')}']")


def rows(frame: Any, has_text: str | None = None) -> Any:
    found = frame.locator(".activity-row")
    return found.filter(has_text=has_text) if has_text else found


def reasons(frame: Any, tag: str | None = None) -> list[tuple[str, str]]:
    """(state pill, reason) of every row shown, oldest first; with `tag`, only the rows of rules carrying it (the
    package's other tests have rules of their own on the same stages)."""
    found = []
    for row in rows(frame).all():
        if tag is not None and tag not in row.locator(".activity-what").inner_text():
            continue
        found.append(((row.locator(".activity-head .state-pill").first.text_content() or ""), row.locator(".activity-reason").inner_text()))
    return found[::-1]


def test_the_log_after_webhooks_says_why_for_each_state_and_filters_by_rule_and_order(
        live: LiveStack, page: Any, scenario: Scenario) -> None:
    failing = scenario.rule("fail", "add_note", {"message": "{{ order.customer_note }}"})
    chained = scenario.rule("then", "add_note", {"message": "after"}, after_previous=True)
    scenario.rule("big", "add_note", {"message": "big"},
                  condition={"match": "all", "rules": [{"field": "total", "op": "gt", "value": 100000}]})
    thanks = scenario.rule("thanks", "add_note", {"message": "Thanks for {{ order.number }}"})
    first = scenario.order()
    second = scenario.order()

    frame = open_activity(page, live)
    frame.locator("#activity-rule").select_option(failing)
    rows(frame).first.wait_for()
    expect(rows(frame)).to_have_count(4)  # planned and failed, for each order
    assert set(frame.locator(".activity-what").all_inner_texts()) == {f"Fail {scenario.tag} · Add order note"}
    assert [state for state, _ in reasons(frame)].count("failed") == 2
    assert all("rendered empty" in reason for state, reason in reasons(frame) if state == "failed")
    assert rows(frame, "failed").first.get_by_role("button", name="Replay…").is_visible()
    assert actions(page, "updateRouting")[-1]["payload"]["newRoute"] == f"/activity?rule={failing}"

    frame.locator("#activity-rule").select_option("")
    frame.locator("#activity-order").fill(f"#{second.number}")
    frame.locator("#activity-order").press("Enter")
    expect(frame.locator(".activity-order").first).to_have_text(f"#{second.number}")
    expect(frame.locator(".activity-order", has_text=f"#{first.number}")).to_have_count(0)
    shown = {reason.split(":")[0]: reason for _, reason in reasons(frame, scenario.tag) if ":" in reason}
    assert shown["cancelled"] == f"cancelled: the previous rule {failing} failed"
    assert shown["skipped"].startswith("skipped: condition not met")
    assert shown["failed"].startswith("failed: ") and "rendered empty" in shown["failed"]
    assert shown["succeeded"] == f"succeeded: note added: Thanks for {second.number}"
    assert any(reason.startswith("planned ") for _, reason in reasons(frame, scenario.tag))
    assert f"Then {scenario.tag}" in " ".join(frame.locator(".activity-what").all_inner_texts())
    assert actions(page, "updateRouting")[-1]["payload"]["newRoute"] == f"/activity?order={second.number}"
    assert chained and thanks

    # A reload of that route (or the alerts banner's link) lands on the same filtered log.
    frame = open_activity(page, live, rule=failing, state="failed,dead")
    expect(frame.locator("#activity-rule")).to_have_value(failing)
    expect(frame.locator(".activity-states-summary")).to_have_text("failed, dead")
    expect(rows(frame)).to_have_count(2)
    assert {state for state, _ in reasons(frame)} == {"failed"}


def test_a_failed_job_is_replayed_after_its_preview(live: LiveStack, page: Any, scenario: Scenario,
                                                    shots: Path) -> None:
    failing = scenario.rule("note", "add_note", {"message": "{{ order.customer_note }}"})
    order = scenario.order()
    scenario.change_rule(failing, config={"message": f"Fixed note for {{{{ order.number }}}} {scenario.tag}"})
    fixed = f"Fixed note for {order.number} {scenario.tag}"

    frame = open_activity(page, live, rule=failing)
    row = pinned(frame, rows(frame, "failed").first)
    row.get_by_role("button", name="Replay…").click()
    dialog = frame.get_by_role("dialog", name=f"Replay Note {scenario.tag}?")
    dialog.wait_for()
    assert dialog.locator(".replay-outcome").inner_text() == f"would add the order note: {fixed}"
    assert "Yes" in dialog.locator(".replay-plan").inner_text()
    expect(frame.locator(":focus")).to_have_text("Replay now")  # focus moved into the dialog
    take_screenshot(page, shots, "replay-preview-light")
    assert fixed not in live.stack.notes()  # a preview changes nothing

    dialog.get_by_role("button", name="Replay now").click()
    dialog.wait_for(state="hidden")
    expect(row.locator(".activity-now")).to_contain_text("scheduled")
    expect(row.get_by_role("button", name="Replay…")).to_have_count(0)
    scenario.settle()  # the runner picks it up; the view hears it on its next poll
    expect(row.locator(".activity-now")).to_contain_text("succeeded", timeout=milliseconds(15))
    rows(frame, "replay asked by admin@example.com (was failed)").first.wait_for()
    assert live.stack.notes().count(fixed) == 1
    assert any(m.name == "orderNoteAdd" and m.variables["message"] == fixed for m in live.stack.saleor.mutations)


def test_an_unknown_sms_is_resolved_as_sent_and_its_details_are_shown(
        live: LiveStack, page: Any, scenario: Scenario, shots: Path) -> None:
    provider = scenario.twilio()
    sms = scenario.rule("sms", "sms", {"provider": provider, "text": "Order {{ order.number }} is confirmed"})
    after = scenario.rule("after", "add_note", {"message": f"texted {scenario.tag}"}, after_previous=True)
    sent = scenario.order()
    live.twilio.drop_next_responses()  # Twilio takes the next SMS, then the connection drops: outcome unknown
    order = scenario.order()
    job = next(j for j in live.run(live.stack.jobs) if j["rule_key"] == sms and j["state"] == "unknown")

    for theme in ("light", "dark"):
        frame = open_activity(page, live, theme=theme, order=str(order.number))
        frame.locator(".activity-row[data-state=unknown] details.activity-detail summary").click()
        take_screenshot(page, shots, f"activity-{theme}")
    unknown = frame.locator(f".activity-row[data-state=unknown][data-job='{job['id']}']")
    assert unknown.locator(".activity-reason").inner_text().startswith("unknown: ")
    facts = unknown.locator(".activity-facts").inner_text()
    assert "SMS" in facts and "Shop line" not in facts and "+15005550006" in facts

    frame = open_activity(page, live, order=str(sent.number))
    done = rows(frame, "succeeded: ").filter(has=frame.locator("details.activity-detail")).first
    done.locator("summary").click()
    twilio_sid = next(m.sid for m in live.twilio.account.messages if str(sent.number) in m.body)
    assert twilio_sid in done.locator(".activity-facts").inner_text()
    assert f"Order {sent.number} is confirmed" in done.locator(".activity-excerpt").inner_text()

    frame = open_activity(page, live, order=str(order.number), state="unknown")
    row = pinned(frame, rows(frame).first)
    row.get_by_role("button", name="Resolve…").click()
    dialog = frame.get_by_role("dialog", name="Was it sent?")
    dialog.get_by_role("button", name="It was sent").click()
    dialog.wait_for(state="hidden")
    expect(row.locator(".activity-now")).to_contain_text("succeeded")
    expect(row.get_by_role("button", name="Resolve…")).to_have_count(0)
    scenario.settle()
    assert live.stack.notes().count(f"texted {scenario.tag}") == 2  # both orders: the held rule followed
    states = {j["rule_key"]: j["state"] for j in live.run(live.stack.jobs) if j["id"] == job["id"] or
              (j["rule_key"] == after and j["order_row_id"] == job["order_row_id"])}
    assert states == {sms: "succeeded", after: "succeeded"}
    assert len([m for m in live.twilio.account.messages if str(order.number) in m.body]) == 1  # never sent twice
    frame = open_activity(page, live, order=str(order.number), state="succeeded")  # the log says who decided
    rows(frame, "resolved as sent by admin@example.com: it is not sent again").first.wait_for()


def test_a_new_webhook_appears_without_a_reload(live: LiveStack, page: Any, scenario: Scenario) -> None:
    note = scenario.rule("live", "add_note", {"message": "live {{ order.number }}"})
    scenario.order()
    frame = open_activity(page, live, rule=note)
    expect(rows(frame)).to_have_count(2)
    frame.locator("#activity-list").evaluate("list => { list.dataset.marker = 'same'; }")
    newer = scenario.order()
    expect(rows(frame)).to_have_count(4, timeout=milliseconds(15))
    assert frame.locator("#activity-list").get_attribute("data-marker") == "same"  # no reload: the same list
    assert frame.locator("#activity-list").get_attribute("aria-live") == "polite"
    assert rows(frame).first.locator(".activity-order").inner_text() == f"#{newer.number}"  # at the top
    assert "Live · updated" in frame.locator("#activity-live").inner_text()


def test_refused_tokens_give_a_clear_state(live: LiveStack, page: Any) -> None:
    frame = open_dashboard(page, live, view="#boot-state h1:text('Manage orders')", path="/activity",
                           perms="MANAGE_PRODUCTS")
    assert "Manage orders permission" in frame.locator("#boot-state").inner_text()
    frame = open_dashboard(page, live, view="#boot-state h1:text('Not signed in')", path="/activity", ttl="-60")
    assert "expired" in frame.locator("#boot-message").inner_text().lower()
    # A token that expires while the log is open (and the Dashboard sends no fresh one): polling stops and says so.
    frame = open_dashboard(page, live, view=READY, path="/activity", ttl="2")
    expect(frame.locator("#activity-live")).to_contain_text("Live updates paused", timeout=milliseconds(15))
    expect(frame.locator("#banner")).to_contain_text("session was not accepted")


def test_a_narrow_iframe_keeps_everything_reachable(live: LiveStack, page: Any, scenario: Scenario,
                                                    shots: Path) -> None:
    failing = scenario.rule("narrow", "add_note", {"message": "{{ order.customer_note }}"})
    scenario.order()
    page.set_viewport_size({"width": 360, "height": 740})
    try:
        frame = open_activity(page, live, rule=failing)
        overflow = frame.locator("html").evaluate("el => el.scrollWidth - el.clientWidth")
        assert overflow <= 0
        for control in ("#activity-stage", "#activity-rule", "#activity-order"):
            box = frame.locator(control).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
        take_screenshot(page, shots, "activity-narrow-light")
        rows(frame, "failed").first.get_by_role("button", name="Replay…").click()
        dialog = frame.get_by_role("dialog")
        dialog.wait_for()
        box = dialog.bounding_box()
        assert box is not None and box["width"] <= 360
        page.keyboard.press("Escape")  # a modal dialog closes with Escape and gives focus back
        dialog.wait_for(state="hidden")
        expect(frame.locator(":focus")).to_have_text("Replay…")  # given back when the close event has run
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})
