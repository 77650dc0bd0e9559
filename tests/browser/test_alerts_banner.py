"""The failure-alerts banner and the settings' "Failure alerts" card in Chromium.

The live stack is shared with the other browser tests. A dead job needs a day of failed retries: the test moves
the shared clock back a day, has its own order's job fail once, puts the clock back where it was and has that
job fail again, running only its own order's jobs — so no other test's job runs early and the clock ends where
it was. Saleor fails only while those jobs run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveStack, take_screenshot
from tests.browser.test_dashboard_page import actions, open_dashboard

BANNER = "#alerts .alerts-headline"


class Scenario:
    def __init__(self, live: LiveStack) -> None:
        self.live = live
        self.tag = uuid.uuid4().hex[:6]
        self.rule = f"alerts-{self.tag}"
        self.member = f"alerts-{self.tag}"

    def setup(self) -> None:
        response = self.live.api("POST", "/api/v1/rules", json={
            "key": self.rule, "name": f"Note {self.tag}", "kind": "add_note", "stage": "awaiting-payment",
            "config": {"message": f"alerts {self.tag}"}, "delay_seconds": 60})
        assert response.status_code == 200, response.text
        saved = self.live.api("PUT", f"/api/v1/team/members/{self.member}",
                              json={"name": f"Alex {self.tag}", "email": f"alex-{self.tag}@shop.example"})
        assert saved.status_code == 200, saved.text

    def cleanup(self) -> None:
        self.live.api("DELETE", f"/api/v1/rules/{self.rule}")
        self.live.api("PUT", "/api/v1/alerts/settings", json={})
        self.live.api("DELETE", f"/api/v1/team/members/{self.member}")

    def dead_job(self) -> int:
        """A job of this test's rule that failed its retries for a day: dead, now."""
        stack = self.live.stack
        now = stack.clock.now()

        async def make() -> int:
            stack.clock.value = now - timedelta(days=1, seconds=61)
            order = await stack.saleor.place_order(auto_confirm=True)
            await stack.settle()  # planned: the note is due in 60 s
            stack.clock.value = now - timedelta(days=1)
            first = await self._run_own(order.id)  # fails: Saleor answers 503
            stack.clock.value = now
            second = await self._run_own(order.id)  # a day after the first attempt: dead
            assert first == second and len(first) == 1, (first, second)
            return first[0]

        return self.live.run(make)

    async def _run_own(self, order_id: str) -> list[int]:
        stack = self.live.stack
        automation = stack.container.automation
        async with automation.transaction() as tx:
            order = await tx.order(stack.installation.id, order_id)
            assert order is not None
            claimed = await tx.claim_order_jobs(order.id, stack.clock.now(), timedelta(minutes=5))
        jobs = await automation.load_for_execution(claimed)
        mine = [item.job.id for item in jobs if item.job.rule_key == self.rule]
        stack.saleor.fail_graphql(times=100, status=503)
        try:
            outcomes = await stack.container.execute_job.run_batch(claimed)
        finally:
            stack.saleor.heal_graphql()  # Saleor is back
        assert {outcomes[job] for job in mine} <= {"retrying", "dead"}, outcomes
        return mine


@pytest.fixture
def scenario(live: LiveStack) -> Iterator[Scenario]:
    made = Scenario(live)
    made.setup()
    try:
        yield made
    finally:
        made.cleanup()


def open_board(page: Any, live: LiveStack, theme: str = "light") -> Any:
    return open_dashboard(page, live, view=".board", theme=theme)


def test_the_banner_shows_a_dead_job_leads_to_activity_and_stays_dismissed(
        live: LiveStack, page: Any, scenario: Scenario, shots: Path) -> None:
    job = scenario.dead_job()
    alerts = live.api("GET", "/api/v1/alerts").json()
    assert alerts["dead"] >= 1 and job in [item["job"] for item in alerts["newest"]]

    for theme in ("light", "dark"):
        frame = open_board(page, live, theme)
        banner = frame.locator("#alerts")
        expect(banner.locator(".alerts-headline")).to_have_text(f"{alerts['headline']}.")
        assert banner.get_attribute("role") == "status"
        expect(banner.locator(".alerts-detail").first).to_contain_text(f"Note {scenario.tag}")
        expect(banner.locator(".alerts-detail").first).to_contain_text("retries exhausted")
        take_screenshot(page, shots, f"alerts-banner-{theme}")

    frame.get_by_role("tab", name="Tasks").click()  # on every tab
    expect(frame.locator(BANNER)).to_be_visible()
    frame.get_by_role("button", name="Show them").click()
    expect(frame.get_by_role("tab", name="Activity")).to_have_attribute("aria-selected", "true")
    # main.js routes to /activity at once; the Activity view then routes to its filters (state=dead,unknown).
    page.wait_for_function("window.__actions.some(a => a.type === 'updateRouting' && "
                           "a.payload.newRoute.startsWith('/activity') && a.payload.newRoute.includes('dead'))")
    routes = [action["payload"]["newRoute"] for action in actions(page, "updateRouting")]
    assert "/activity" in routes and "unknown" in routes[-1]

    frame.get_by_role("button", name="Dismiss this alert").click()
    expect(frame.locator("#alerts")).to_be_hidden()
    expect(frame.get_by_role("tab", name="Activity")).to_be_focused()
    with page.expect_response(lambda response: response.url.endswith("/api/v1/alerts")) as answered:
        frame = open_board(page, live)  # a reload: still dismissed, nothing new happened
    newest = answered.value.json()["newest"][0]
    frame.locator(f"#alerts[data-checked='{newest['at']}|{newest['job']}']").wait_for(state="attached")
    expect(frame.locator("#alerts")).to_be_hidden()

    scenario.dead_job()  # something new: it comes back
    frame = open_board(page, live)
    expect(frame.locator(BANNER)).to_be_visible()
    frame.get_by_role("button", name="Dismiss this alert").click()  # leave it dismissed for the other tests


def test_the_failure_alerts_card_saves_and_shows_field_errors(
        live: LiveStack, page: Any, scenario: Scenario, shots: Path) -> None:
    frame = open_dashboard(page, live, view="form.alerts-settings", path="/settings")
    card = frame.locator("form.alerts-settings")
    expect(card.get_by_role("heading", name="Failure alerts")).to_be_visible()
    card.get_by_label("Send a daily digest of failed jobs by e-mail").check()
    card.get_by_role("button", name="Save").click()
    expect(card.locator('[data-field="recipients"] .field-error')).to_contain_text("choose at least one member")

    card.get_by_label(f"Alex {scenario.tag} (alex-{scenario.tag}@shop.example)").check()
    card.get_by_label("Send it from").select_option("7")
    card.get_by_label("Dashboard address").fill("not a url")
    card.get_by_role("button", name="Save").click()
    expect(card.locator('[data-field="dashboard_url"] .field-error')).to_contain_text("Dashboard's address")
    card.get_by_label("Dashboard address").fill("")
    card.get_by_role("button", name="Save").click()
    page.wait_for_function("window.__actions.some(a => a.type === 'notification' && "
                           "a.payload.title === 'Failure alerts saved')")
    saved = live.api("GET", "/api/v1/alerts/settings").json()
    assert (saved["digest_enabled"], saved["recipients"], saved["digest_hour"]) == (True, [scenario.member], 7)
    expect(card.locator(".field-error:not(:empty)")).to_have_count(0)
    expect(card.locator(".alert-status")).to_contain_text("Last reported to Saleor")
    card.scroll_into_view_if_needed()
    take_screenshot(page, shots, "alerts-settings-light", card)


def test_the_banner_fits_a_narrow_iframe(live: LiveStack, page: Any, scenario: Scenario) -> None:
    scenario.dead_job()
    page.set_viewport_size({"width": 360, "height": 720})
    try:
        frame = open_board(page, live)
        show = frame.get_by_role("button", name="Show them")
        expect(show).to_be_visible()
        width = frame.locator("#alerts").evaluate("el => el.scrollWidth <= el.clientWidth + 1")
        assert width, "the banner overflows a 360 px iframe"
        frame.get_by_role("button", name="Dismiss this alert").focus()
        page.keyboard.press("Enter")
        expect(frame.locator("#alerts")).to_be_hidden()
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})
