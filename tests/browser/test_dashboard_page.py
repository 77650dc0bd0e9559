"""The Dashboard page in Chromium, framed by the harness that plays the Dashboard (tests/browser/harness.py)."""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlencode
from uuid import uuid4

import yaml
from playwright.sync_api import expect
from pydantic import Field

from saleor_app.domain.kinds import KindConfig, RuleKind, register
from saleor_app.domain.kinds import kinds as registered_kinds
from tests.browser.conftest import LiveStack
from tests.timing import eventually_sync


class GenericConfig(KindConfig):
    """A kind the page has never heard of: its editor comes from the schema alone."""

    headline: str = Field(min_length=1, max_length=200, description="a template")
    count: int = Field(default=3, ge=1, le=10)
    loud: bool = False
    mode: Literal["calm", "urgent"] = "calm"
    tags: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)


register(RuleKind("browser_generic", "Generic (browser test)", GenericConfig, idempotent=True))


def open_dashboard(page: Any, live: LiveStack, view: str = ".board", **params: str) -> Any:
    """Load the harness (which frames the app) and wait until the app shows `view`."""
    page.goto(f"{live.harness_url}/dashboard?{urlencode(params)}")
    frame = page.frame_locator("#app-frame")
    if view:
        frame.locator(view).first.wait_for()
    return frame


def app_requests(page: Any) -> list[Any]:
    seen: list[Any] = []
    page.on("request", lambda request: seen.append(request) if "/api/v1/" in request.url else None)
    return seen


def actions(page: Any, kind: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate("window.__actions")
    return [action for action in found if kind is None or action["type"] == kind]


def fill(scope: Any, field: str, value: Any) -> None:
    """Set a generated form field by its data-field path (config.message, config.assignee.responsible, …)."""
    control = scope.locator(f'[data-field="{field}"]').locator("input, textarea, select").first
    tag = control.evaluate("el => el.tagName + ':' + (el.type || '')")
    if tag.startswith("SELECT"):
        control.select_option(value)
    elif tag == "INPUT:checkbox":
        control.set_checked(bool(value))
    else:
        control.fill(str(value))


def new_rule(frame: Any, stage: str, name: str, kind: str) -> Any:
    frame.locator(f'[data-stage="{stage}"] .add-rule').click()
    editor = frame.locator("form.editor")
    fill(editor, "name", name)
    fill(editor, "kind", kind)
    return editor


def save(editor: Any, shows: Any = None) -> None:
    """Submit the editor and wait until it closed and (`shows`) the reloaded view shows the result."""
    editor.locator("button[type=submit]").click()
    editor.wait_for(state="detached")
    if shows is not None:
        shows.wait_for()


def test_outside_the_dashboard_the_page_says_where_to_open_it(live: LiveStack, page: Any) -> None:
    page.goto(f"{live.app_url}/app")
    assert page.locator("#boot-state h1").inner_text() == "Open this page from your Saleor Dashboard"
    assert page.locator(".tabs").is_hidden()


def test_handshake_loads_the_board_and_every_api_call_carries_the_token(live: LiveStack, page: Any) -> None:
    requests = app_requests(page)
    frame = open_dashboard(page, live, path="/extensions/app/QXBwOjE=")  # extra path segments are tolerated
    ready = actions(page, "notifyReady")
    assert ready and ready[0]["payload"]["actionId"]
    assert page.evaluate("window.__ignored") == []  # every action had an actionId and came from the app
    stages = frame.locator(".stage h2").all_inner_texts()
    assert stages[:3] == ["New", "Awaiting payment", "Paid"]
    tokens = page.evaluate("window.__tokens")
    assert requests and all(r.headers["authorization-bearer"] in tokens for r in requests)
    assert all(r.headers["saleor-api-url"] == live.stack.saleor.api_url for r in requests)
    def team_emails() -> list[str]:  # the page records its user in the team directory without waiting for it
        emails = [m["email"] for m in live.api("GET", "/api/v1/team").json()["members"]]
        return emails if "admin@example.com" in emails else []

    eventually_sync(team_emails, what="the Dashboard's user in the team", pause=lambda s: page.wait_for_timeout(s * 1000))

    fresh = page.evaluate("window.__refresh()")
    frame.get_by_role("tab", name="Settings").click()
    frame.locator("form.settings").wait_for()
    assert requests[-1].headers["authorization-bearer"] == fresh
    assert actions(page, "updateRouting")[-1]["payload"]["newRoute"] == "/settings"


def test_a_deep_link_reopens_the_same_view(live: LiveStack, page: Any) -> None:
    frame = open_dashboard(page, live, view="form.settings", path="/settings")
    assert frame.get_by_role("tab", name="Settings").get_attribute("aria-selected") == "true"


def test_messages_from_other_origins_are_ignored(live: LiveStack, page: Any) -> None:
    requests = app_requests(page)
    frame = open_dashboard(page, live)  # the app listens now
    assert page.evaluate("window.__evil()")
    evil = page.frame(url=lambda url: url.endswith("/evil"))
    assert evil is not None and evil.url.startswith(live.third_origin)  # a third origin
    evil.wait_for_function("document.title === 'posted'")
    frame.get_by_role("tab", name="Event rules").click()
    frame.locator(".empty-box, .event-groups").first.wait_for()
    assert frame.locator("html").get_attribute("data-theme") == "light"
    assert requests and all(r.headers["authorization-bearer"] in page.evaluate("window.__tokens") for r in requests)
    page.evaluate("window.__post('theme', {theme: 'dark'})")  # the same event from the Dashboard is taken
    frame.locator("html[data-theme=dark]").wait_for(state="attached")


def test_theme_follows_the_dashboard(live: LiveStack, page: Any) -> None:
    frame = open_dashboard(page, live, theme="dark")
    assert frame.locator("html").get_attribute("data-theme") == "dark"
    dark_bg = frame.locator("body").evaluate("el => getComputedStyle(el).backgroundColor")
    page.evaluate("window.__theme('light')")
    frame.locator("html[data-theme=light]").wait_for(state="attached")
    light_bg = frame.locator("body").evaluate("el => getComputedStyle(el).backgroundColor")
    assert (dark_bg, light_bg) == ("rgb(38, 40, 54)", "rgb(255, 255, 255)")  # macaw-ui background-default1
    font = frame.locator("body").evaluate("el => getComputedStyle(el).fontFamily")
    assert font.startswith('"Inter var", Inter')


def test_unauthorised_tokens_get_a_clear_state(live: LiveStack, page: Any) -> None:
    frame = open_dashboard(page, live, view="#boot-state h1:text('Manage orders')", perms="MANAGE_PRODUCTS")
    assert "Manage orders permission" in frame.locator("#boot-state").inner_text()
    frame = open_dashboard(page, live, view="#boot-state h1:text('Not signed in')", ttl="-60")
    assert "expired" in frame.locator("#boot-message").inner_text().lower()
    frame = open_dashboard(page, live, view="#boot-state h1:text('Not signed in')", app="QXBwOjk5")
    assert "another app" in frame.locator("#boot-message").inner_text()


def test_a_stage_with_two_after_previous_rules_and_live_preview(live: LiveStack, page: Any) -> None:
    order = live.run(lambda: live.stack.saleor.place_order(auto_confirm=True))
    live.run(live.stack.settle)
    frame = open_dashboard(page, live)
    # Other tests of the package add rules to the same stage: these three carry a suffix of their own.
    uid = uuid4().hex[:6]
    thanks, reminder, last = f"Thank you note {uid}", f"Payment reminder {uid}", f"Last call {uid}"
    editor = new_rule(frame, "awaiting-payment", thanks, "add_note")
    message = editor.locator('[data-field="config.message"] textarea')
    message.fill("Thanks for order ")
    editor.locator("#preview-order").fill(str(order.number))
    editor.locator('.picker-item[data-path="order.number"]').click()  # inserts at the cursor
    assert message.input_value() == "Thanks for order {{ order.number }}"
    preview = editor.locator('[data-field="config.message"] .preview-text')
    preview.filter(has_text=f"Thanks for order {order.number}").wait_for()
    assert f"#{order.number}" in editor.locator('[data-field="config.message"] .preview-label').inner_text()
    save(editor, frame.locator(".card-title", has_text=thanks))

    editor = new_rule(frame, "awaiting-payment", reminder, "add_note")
    fill(editor, "config.message", "Order {{ order.number }} still waits for payment")
    fill(editor, "delay_seconds", "2")
    editor.locator('[data-field="delay_seconds"] select').select_option("d")
    fill(editor, "after_previous", True)
    save(editor, frame.locator(".card-title", has_text=reminder))
    editor = new_rule(frame, "awaiting-payment", last, "add_note")
    fill(editor, "config.message", "Last call for {{ order.number }}")
    fill(editor, "after_previous", True)
    fill(editor, "at", "09:00")
    fill(editor, "repeat", "once_per_order")
    fill(editor, "max_age_seconds", "0")  # refused by the API, beside its input
    editor.locator("button[type=submit]").click()
    editor.locator('[data-field="max_age_seconds"] > .field-error').filter(has_text="greater than or equal to 60").wait_for()
    fill(editor, "max_age_seconds", "90")
    save(editor, frame.locator(".card-title", has_text=last))

    cards = frame.locator('[data-stage="awaiting-payment"] .rule-card').filter(has_text=uid)
    assert cards.locator(".card-title").all_inner_texts() == [thanks, reminder, last]
    timings = cards.locator(".timing").all_inner_texts()
    assert timings == ["immediately", "↳ after the previous rule, wait 2d", "↳ after the previous rule, at 09:00 · once per order"]
    assert len(actions(page, "notification")) >= 3
    last_call = next(r for r in live.api("GET", "/api/v1/board").json()["stages"][1]["rules"] if r["name"] == last)
    assert (last_call["spec"]["at"], last_call["spec"]["max_age_seconds"]) == ("09:00", 5400)

    editor = new_rule(frame, "awaiting-payment", "Text", "sms")
    fill(editor, "config.text", "Hi {{ billing_address.first_name }}, order {{ order.number }} is waiting.")
    counter = editor.locator('[data-testid="sms-counter"]')
    counter.filter(has_text="/ 200 characters").wait_for()
    assert re.search(r"^\d+ / 200 characters · GSM-7 · 1 SMS part$", counter.inner_text()), counter.inner_text()
    editor.get_by_role("button", name="Cancel").click()


def test_invalid_input_gets_field_messages_and_nothing_is_saved(live: LiveStack, page: Any) -> None:
    frame = open_dashboard(page, live)
    editor = new_rule(frame, "paid", "Broken", "add_note")
    fill(editor, "config.message", "Hello {{ order.numbr }}")
    editor.locator("button[type=submit]").click()
    error = editor.locator('[data-field="config.message"] > .field-error')
    error.filter(has_text="did you mean").wait_for()
    assert editor.is_visible()
    editor = frame.locator("form.editor")
    fill(editor, "config.message", "Hello {{ order.number }}")
    editor.locator('[data-field="condition"] button:text("Add comparison")').click()
    editor.locator(".condition-row select[aria-label=Field]").select_option("total")
    editor.locator(".condition-row select[aria-label=Operator]").select_option("gt")
    editor.locator(".condition-row input[aria-label=Value]").fill("100")
    save(editor, frame.locator(".card-title", has_text="Broken"))
    card = frame.locator('[data-stage="paid"] .rule-card', has_text="Broken")
    assert card.locator(".cond").inner_text() == "if total > 100"


def test_the_api_down_keeps_the_input(live: LiveStack, page: Any) -> None:
    frame = open_dashboard(page, live)
    editor = new_rule(frame, "paid", "Kept", "add_note")
    fill(editor, "config.message", "Not lost")
    page.route("**/api/v1/rules", lambda route: route.abort())
    try:
        editor.locator("button[type=submit]").click()
        frame.locator("#banner").filter(has_text="did not answer").wait_for()
        assert editor.locator('[data-field="config.message"] textarea').input_value() == "Not lost"
    finally:
        page.unroute("**/api/v1/rules")
    save(editor, frame.locator(".card-title", has_text="Kept"))  # the server is back: the same input saves
    frame.locator('[data-stage="paid"] .rule-card', has_text="Kept").wait_for()


def test_a_trigger_and_a_custom_stage(live: LiveStack, page: Any) -> None:
    frame = open_dashboard(page, live)
    frame.locator("summary", has_text="Add custom stage").click()
    menu = frame.locator(".page-head .stage-form")
    fill(menu, "name", "Awaiting pickup")
    menu.get_by_role("button", name="Add stage").click()
    frame.locator('[data-stage="awaiting-pickup"]').wait_for()
    assert "nothing moves orders" in frame.locator('[data-stage="awaiting-pickup"] .warning').inner_text()

    frame.locator('[data-stage="awaiting-pickup"] button', has_text="Add trigger").click()
    editor = frame.locator("form.editor")
    fill(editor, "name", "Pickup requested")
    fill(editor, "event", "metadata_changed")
    fill(editor, "params.key", "pickup")
    save(editor, frame.locator('[data-stage="awaiting-pickup"] .trigger'))
    chip = frame.locator('[data-stage="awaiting-pickup"] .trigger')
    assert chip.inner_text().endswith("Pickup requested")
    assert frame.locator('[data-stage="awaiting-pickup"] .warning').count() == 0
    triggers = live.api("GET", "/api/v1/triggers").json()
    assert [(t["key"], t["event"], t["params"]) for t in triggers] == [("pickup-requested", "metadata_changed",
                                                                         {"key": "pickup"})]


def test_rules_are_reordered_by_keyboard_and_by_dragging(live: LiveStack, page: Any) -> None:
    for key in ("one", "two", "three"):
        live.api("POST", "/api/v1/rules", json={"key": key, "name": key.title(), "stage": "shipped",
                                                "kind": "add_note", "config": {"message": key}})
    frame = open_dashboard(page, live)
    column = frame.locator('[data-stage="shipped"]')
    column.locator('[data-rule="one"]').focus()
    page.keyboard.press("Alt+ArrowDown")
    column.locator('.rule-card:first-child[data-rule="two"]').wait_for()
    expect(frame.locator(":focus")).to_have_attribute("data-rule", "one")  # focus follows the moved card
    column.get_by_role("button", name="Move Three up").click()
    column.locator('.rule-card:nth-child(2)[data-rule="three"]').wait_for()
    column.locator('[data-rule="two"]').drag_to(column.locator('[data-rule="one"]'), target_position={"x": 20, "y": 60})
    column.locator('.rule-card:last-child[data-rule="two"]').wait_for()
    shipped = next(s for s in live.api("GET", "/api/v1/board").json()["stages"] if s["key"] == "shipped")
    assert [rule["key"] for rule in shipped["rules"]] == ["three", "one", "two"]


def test_settings_are_saved_and_checked(live: LiveStack, page: Any) -> None:
    frame = open_dashboard(page, live, view="form.settings", path="/settings")
    form = frame.locator("form.settings")
    fill(form, "time_zone", "Mars/Olympus")
    form.get_by_role("button", name="Save").click()
    form.locator('[data-field="time_zone"] .field-error').filter(has_text="IANA").wait_for()
    fill(form, "time_zone", "Europe/Berlin")
    fill(form, "quiet_start", "21:00")
    fill(form, "quiet_end", "08:00")
    form.get_by_role("button", name="Save").click()
    page.wait_for_function("window.__actions.some(a => a.type === 'notification' && a.payload.title === 'Settings saved')")
    assert live.api("GET", "/api/v1/settings").json() == {"time_zone": "Europe/Berlin", "paused": False,
                                                         "quiet_start": "21:00", "quiet_end": "08:00"}


def test_one_rule_of_every_kind_and_the_yaml_export(live: LiveStack, page: Any) -> None:
    live.api("PUT", "/api/v1/team/members/ana", json={"name": "Ana", "email": "ana@example.com"})
    live.api("PUT", "/api/v1/workflows/vip", json={"name": "VIP", "steps": [
        {"key": "note", "kind": "add_note", "config": {"message": "VIP order"}}]})
    fills: dict[str, dict[str, Any]] = {
        "add_note": {"config.message": "Paid: {{ order.number }}"},
        "change_stage": {"config.stage": "shipped"},
        "email": {"config.subject": "Order {{ order.number }}", "config.text": "Thanks, {{ order.number }}"},
        "sms": {"config.text": "Order {{ order.number }} is paid"},
        "call": {"config.text": "Your order {{ order.number }} is paid"},
        "update_order": {"config.set_metadata": "reference: A-{{ order.number }}"},
        "create_task": {"config.title": "Check order {{ order.number }}", "config.assignee.responsible": True},
        "notify_team": {"config.message": "Order {{ order.number }} paid", "config.members": "ana"},
        "set_responsible": {"config.member": "ana"},
        "run_workflow": {"config.workflow": "vip"},
        "http_request": {"config.url": "https://hooks.example.com/orders",
                         "config.body": '{"order": "{{ order.number }}"}'},
    }
    frame = open_dashboard(page, live)
    kinds = [kind.name for kind in registered_kinds() if kind.config.__module__.startswith("saleor_app.")]
    assert set(kinds) == set(fills), f"kinds without a fill in this test: {set(kinds) - set(fills)}"
    for kind in kinds:
        editor = new_rule(frame, "paid", f"Every kind {kind}", kind)
        fill(editor, "key", f"every-{kind.replace('_', '-')}")
        for field, value in fills[kind].items():
            fill(editor, field, value)
        if kind in ("email", "sms", "call"):  # no provider yet: the API says so beside the field; saved disabled
            editor.locator("button[type=submit]").click()
            editor.locator('[data-field="config.provider"] > .field-error').filter(
                has_text="save the rule disabled").wait_for()
            fill(editor, "enabled", False)
        save(editor, frame.locator(".card-title", has_text=f"Every kind {kind}"))
    frame.get_by_role("tab", name="Import / export").click()
    exported = frame.locator("textarea[aria-label='Current configuration (YAML)']")
    exported.wait_for()
    document = yaml.safe_load(exported.input_value())
    paid = next(stage for stage in document["stages"] if stage["key"] == "paid")
    by_key = {rule["key"]: rule for rule in paid["rules"]}
    assert {by_key[f"every-{kind.replace('_', '-')}"]["kind"] for kind in kinds} == set(kinds)
    assert by_key["every-sms"]["enabled"] is False and by_key["every-sms"]["text"] == "Order {{ order.number }} is paid"
    assert by_key["every-http-request"]["body"] == {"order": "{{ order.number }}"}
    assert by_key["every-create-task"]["assignee"] == {"responsible": True}


def test_import_lists_its_errors_line_by_line_and_changes_nothing(live: LiveStack, page: Any) -> None:
    live.api("PUT", "/api/v1/settings", json={"time_zone": "Europe/Berlin"})
    before = live.api("GET", "/api/v1/config").text
    frame = open_dashboard(page, live, view="textarea[aria-label='Current configuration (YAML)']", path="/config")
    frame.get_by_role("button", name="Start from the export").click()
    target = frame.locator("textarea[aria-label='Configuration to import (YAML)']")
    broken = target.input_value().replace("time_zone: Europe/Berlin", "time_zone: Mars/Olympus", 1)
    broken += "colour: blue\n"
    target.fill(broken)
    frame.get_by_role("button", name="Check").click()
    problems = frame.locator(".problems .problem")
    problems.first.wait_for()
    texts = problems.all_inner_texts()
    assert any(re.match(r"Line \d+, column \d+: .*Mars/Olympus", text) for text in texts), texts
    assert any(re.match(r"Line \d+, column 1: colour: unknown field 'colour'", text) for text in texts), texts
    frame.get_by_role("button", name="Import").click()
    frame.locator(".report .form-error", has_text="Nothing was changed").wait_for()
    assert live.api("GET", "/api/v1/config").text == before

    target.fill(before.replace("time_zone: Europe/Berlin", "time_zone: Europe/Paris", 1))
    frame.get_by_role("button", name="Check").click()
    frame.locator(".report", has_text="would change").wait_for()
    assert live.api("GET", "/api/v1/settings").json()["time_zone"] == "Europe/Berlin"
    frame.get_by_role("button", name="Import").click()
    frame.locator(".report", has_text="Imported").wait_for()
    assert live.api("GET", "/api/v1/settings").json()["time_zone"] == "Europe/Paris"


def test_an_event_rule_is_created_on_its_own_view(live: LiveStack, page: Any) -> None:
    frame = open_dashboard(page, live, view=".page-head", path="/events")
    frame.get_by_role("button", name="Add event rule").click()
    editor = frame.locator("form.editor")
    fill(editor, "name", "Tracking note")
    fill(editor, "kind", "add_note")
    fill(editor, "event", "metadata_changed")
    fill(editor, "event_params.key", "vip")
    fill(editor, "config.message", "VIP flag changed on {{ order.number }}")
    save(editor, frame.locator(".event-groups .card-title", has_text="Tracking note"))
    assert frame.locator(".event-groups h2").first.inner_text() == "Metadata key changed"
    rule = next(r for r in live.api("GET", "/api/v1/board").json()["eventRules"] if r["name"] == "Tracking note")
    assert (rule["event"], rule["spec"]["event_params"]) == ("metadata_changed", {"key": "vip"})


def test_a_stage_is_renamed_rematched_moved_and_a_rule_copied_and_moved(live: LiveStack, page: Any) -> None:
    live.api("POST", "/api/v1/rules", json={"key": "returns-note", "name": "Returns note", "stage": "returned",
                                            "kind": "add_note", "config": {"message": "Returned"}})
    frame = open_dashboard(page, live)
    column = frame.locator('[data-stage="returned"]')
    column.locator("summary", has_text="Edit").click()
    form = column.locator(".stage-form")
    fill(form, "name", "Returned goods")
    form.locator("input[name=status][value=PARTIALLY_RETURNED]").uncheck()
    form.get_by_role("button", name="Save stage").click()
    frame.locator('[data-stage="returned"] h2', has_text="Returned goods").wait_for()
    frame.get_by_role("button", name="Move Returned goods left").click()
    frame.locator('[data-stage="returned"] + [data-stage="shipped"]').wait_for()

    card = frame.locator('[data-rule="returns-note"]')
    card.locator("summary", has_text="Copy / move").click()
    card.locator("select[aria-label=Stage]").select_option("cancelled")
    card.get_by_role("button", name="Copy", exact=True).click()
    frame.locator('[data-stage="cancelled"] [data-rule="returns-note-copy"]').wait_for()
    card = frame.locator('[data-stage="returned"] [data-rule="returns-note"]')
    card.locator("summary", has_text="Copy / move").click()
    card.locator("select[aria-label=Stage]").select_option("expired")
    card.get_by_role("button", name="Move", exact=True).click()
    frame.locator('[data-stage="expired"] [data-rule="returns-note"]').wait_for()
    stage = next(s for s in live.api("GET", "/api/v1/board").json()["stages"] if s["key"] == "returned")
    assert (stage["name"], stage["match"]["status"], stage["rules"]) == ("Returned goods", ["RETURNED"], [])


def test_a_kind_registered_later_gets_an_editor_from_its_schema(live: LiveStack, page: Any) -> None:
    frame = open_dashboard(page, live)
    editor = new_rule(frame, "cancelled", "Generic", "browser_generic")
    fill(editor, "config.headline", "Cancelled: {{ order.number }}")
    editor.locator('[data-field="config.headline"] .preview-text', has_text="Cancelled: 22").wait_for()  # a template
    fill(editor, "config.count", "11")
    editor.locator("button[type=submit]").click()
    editor.locator('[data-field="config.count"] > .field-error').filter(has_text="less than or equal to 10").wait_for()
    fill(editor, "config.count", "5")
    fill(editor, "config.loud", True)
    fill(editor, "config.mode", "urgent")
    fill(editor, "config.tags", "vip\nrush")
    fill(editor, "config.headers", "X-Shop: main")
    save(editor, frame.locator(".card-title", has_text="Generic"))
    stage = next(s for s in live.api("GET", "/api/v1/board").json()["stages"] if s["key"] == "cancelled")
    rule = next(r for r in stage["rules"] if r["name"] == "Generic")
    assert rule["spec"]["config"] == {"headline": "Cancelled: {{ order.number }}", "count": 5, "loud": True,
                                      "mode": "urgent", "tags": ["vip", "rush"], "headers": {"X-Shop": "main"}}


def test_an_inbound_webhook_trigger_shows_its_secret_url(live: LiveStack, page: Any) -> None:
    live.api("POST", "/api/v1/triggers", json={"key": "erp-shipped", "name": "ERP says shipped", "stage": "shipped",
                                               "event": "inbound_webhook"})
    frame = open_dashboard(page, live)
    frame.locator(".trigger", has_text="ERP says shipped").click()
    url = frame.locator('[data-field="inbound_url"] input')
    url.wait_for()
    expected = next(t["inboundUrl"] for t in live.api("GET", "/api/v1/triggers").json() if t["key"] == "erp-shipped")
    assert url.input_value() == expected and "/api/inbound/" in expected
