"""The Providers view: connect Twilio (the fake on loopback) with write-only secrets, test it, remove it."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import LiveStack
from tests.browser.test_dashboard_page import fill, open_dashboard


def test_connect_test_and_remove_a_provider_with_write_only_secrets(live: LiveStack, page: Any) -> None:
    account = live.twilio.account
    frame = open_dashboard(page, live, view=".empty-box", path="/providers")
    frame.locator("summary", has_text="Connect a provider").click()
    frame.get_by_role("button", name="Twilio (SMS and calls)").click()
    form = frame.locator("form[aria-label='Twilio (SMS and calls) connection']")
    fill(form, "credentials.account_sid", "AC123")
    form.get_by_role("button", name="Connect and test").click()
    form.locator(".form-error", has_text="account_sid must be your Account SID").wait_for()
    fill(form, "credentials.account_sid", account.sid)
    fill(form, "credentials.auth_token", account.auth_token)
    form.get_by_role("button", name="Connect and test").click()

    card = frame.locator(".provider").first
    card.locator(".status-connected").wait_for()
    secrets = dict(zip(card.locator(".secrets dt").all_inner_texts(), card.locator(".secrets dd").all_inner_texts(),
                       strict=True))
    assert secrets == {"Account SID": account.sid, "Auth token": "stored"}  # not a single character of it
    assert account.auth_token not in frame.locator("body").inner_text()
    assert [" ".join(text.split()) for text in card.locator(".senders li").all_inner_texts()] == ["+15005550006 Shop line"]

    card.get_by_role("button", name="Edit").click()
    form = frame.locator("form[aria-label='Twilio (SMS and calls) connection']")
    assert form.locator('[data-field="credentials.auth_token"] input').input_value() == ""  # never sent back
    form.get_by_role("button", name="Save and test").click()  # an empty secret keeps the stored one
    frame.locator(".provider .status-connected").wait_for()

    frame.get_by_role("button", name="Test connection").click()
    page.wait_for_function("window.__actions.some(a => a.type === 'notification' && a.payload.title === 'Connection works')")
    frame.get_by_role("button", name="Remove").click()
    frame.locator(".empty-box", has_text="No provider yet").wait_for()
    assert live.api("GET", "/api/v1/providers").json() == []
