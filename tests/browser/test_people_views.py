"""The Tasks, Team, Workflows and Opt-outs views in Chromium, framed by the harness that plays the Dashboard.

The live stack is shared with the other browser tests: everything here is named with a fresh tag, filtered by it,
and removed at the end (the board and the team directory look as before).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.conftest import LiveStack, take_screenshot
from tests.browser.test_dashboard_page import actions, fill, open_dashboard
from tests.timing import HTTP_TIMEOUT

TAG_KEY = "people-test"  # order metadata: our rules act on our orders only


class Made:
    """What a test created through the API, removed again afterwards (groups before members, callers first)."""

    def __init__(self, live: LiveStack) -> None:
        self.live = live
        self.undo: list[str] = []  # DELETE paths, run last-in first-out

    def api(self, method: str, path: str, undo: str | None = None, **kwargs: Any) -> Any:
        answer = self.live.api(method, path, **kwargs)
        assert answer.status_code in (200, 201), answer.text
        if undo:
            self.undo.append(undo)
        return answer.json()

    def member(self, key: str, name: str, **contact: str) -> str:
        self.api("PUT", f"/api/v1/team/members/{key}", f"/api/v1/team/members/{key}",
                 json={"name": name, "email": contact.get("email", f"{key}@shop.example"), "phone": contact.get("phone")})
        return key

    def task_rule(self, key: str, title: str, tag: str, assignee: dict[str, Any], **config: Any) -> str:
        self.api("POST", "/api/v1/rules", f"/api/v1/rules/{key}", json={
            "key": key, "name": key, "stage": "new", "kind": "create_task",
            "config": {"title": title, "assignee": assignee, **config},
            "condition": {"match": "all", "rules": [{"field": "metadata", "key": TAG_KEY, "op": "eq", "value": tag}]}})
        return key

    def order(self, tag: str) -> Any:
        placed = self.live.run(lambda: self.live.stack.saleor.place_order(auto_confirm=False, metadata={TAG_KEY: tag}))
        self.live.run(self.live.stack.settle)
        return placed

    def cleanup(self) -> None:
        for path in reversed(self.undo):
            self.live.api("DELETE", path)


@pytest.fixture
def made(live: LiveStack) -> Iterator[Made]:
    created = Made(live)
    try:
        yield created
    finally:
        created.cleanup()


@pytest.fixture
def page_errors(page: Any) -> Iterator[list[str]]:
    """Uncaught errors in the app's page: none may happen in these views."""
    seen: list[str] = []
    listener: Callable[[Any], None] = lambda error: seen.append(str(error))  # noqa: E731
    page.on("pageerror", listener)
    try:
        yield seen
    finally:
        page.remove_listener("pageerror", listener)


def tag() -> str:
    return uuid.uuid4().hex[:6]


def open_view(page: Any, live: LiveStack, path: str, ready: str, **params: str) -> Any:
    return open_dashboard(page, live, view=ready, path=path, **params)


# -- tasks ---------------------------------------------------------------------------------------------------------


def test_completing_a_task_in_the_page_fires_its_trigger_and_moves_the_order(
        live: LiveStack, page: Any, made: Made, page_errors: list[str]) -> None:
    t = tag()
    packer = made.member(f"pack-{t}", f"Packer {t}")
    rule = made.task_rule(f"pack-{t}", f"Pack {t} order {{{{ order.number }}}}", t, {"member": packer},
                          due_in="4h", priority="high")
    made.api("POST", "/api/v1/triggers", f"/api/v1/triggers/packed-{t}", json={
        "key": f"packed-{t}", "name": f"Packed {t}", "stage": "awaiting-payment", "event": "task_completed",
        "params": {"rule": rule}})
    order = made.order(t)
    assert live.run(lambda: live.stack.order_stage(order.id)) == "new"

    frame = open_view(page, live, "/tasks", ".task-card, .empty-box")
    frame.locator("#task-member").select_option(packer)
    card = frame.locator(".task-card", has_text=f"Pack {t} order {order.number}")
    assert card.locator(".assignee").inner_text() == f"Packer {t} <{packer}@shop.example>"
    assert card.locator(".priority").inner_text() == "High"
    assert card.locator(".due").inner_text() != "No due date" and not card.locator(".badge-overdue").count()

    card.get_by_role("button", name=f"Order #{order.number}").click()  # the Dashboard opens the order
    page.wait_for_function("window.__actions.some(a => a.type === 'redirect')")
    assert actions(page, "redirect")[-1]["payload"]["to"] == f"/orders/{quote(order.id, safe='')}"

    confirms_before = [m for m in live.stack.saleor.mutations if m.name == "orderConfirm"]
    card.get_by_role("button", name="Complete").click()
    card.wait_for(state="detached")  # gone from the open tasks
    page.wait_for_function("window.__actions.some(a => a.type === 'notification' && a.payload.title === 'Task completed')")
    [task] = live.api("GET", f"/api/v1/tasks?assignee={packer}").json()["tasks"]
    assert (task["state"], task["closedBy"]) == ("done", "admin@example.com")

    live.run(live.stack.settle)  # the runner handles the task_completed delivery
    assert live.run(lambda: live.stack.order_stage(order.id)) == "awaiting-payment"
    confirms = [m for m in live.stack.saleor.mutations if m.name == "orderConfirm"][len(confirms_before):]
    assert [m.variables["id"] for m in confirms] == [order.id]  # the write-back plan of Awaiting payment
    assert page_errors == []


def test_cancelling_a_task_fires_nothing_and_it_shows_under_cancelled(
        live: LiveStack, page: Any, made: Made, page_errors: list[str]) -> None:
    t = tag()
    packer = made.member(f"pack-{t}", f"Packer {t}")
    rule = made.task_rule(f"cancel-{t}", f"Check {t} order {{{{ order.number }}}}", t, {"member": packer},
                          due_in="1h")
    made.api("POST", "/api/v1/triggers", f"/api/v1/triggers/checked-{t}", json={
        "key": f"checked-{t}", "stage": "awaiting-payment", "event": "task_completed", "params": {"rule": rule}})
    order = made.order(t)
    live.run(lambda: live.stack.advance(timedelta(hours=2)))  # now it is overdue

    frame = open_view(page, live, "/tasks", ".task-card, .empty-box")
    frame.locator("#task-member").select_option(packer)
    card = frame.locator(".task-card", has_text=f"Check {t} order {order.number}")
    assert card.locator(".badge-overdue").inner_text() == "Overdue"
    card.get_by_role("button", name="Cancel task").click()
    card.wait_for(state="detached")
    frame.locator("#task-state").select_option("cancelled")
    cancelled = frame.locator(".task-card", has_text=f"Check {t} order {order.number}")
    assert cancelled.locator(".pill").inner_text() == "Cancelled"
    assert not cancelled.get_by_role("button", name="Complete").count()
    live.run(live.stack.settle)
    assert live.run(lambda: live.stack.order_stage(order.id)) != "awaiting-payment"  # no trigger fired
    frame.locator("#task-state").select_option("open")  # the filters are kept for the next visit
    assert page_errors == []


def test_tasks_are_filtered_by_member(live: LiveStack, page: Any, made: Made, page_errors: list[str]) -> None:
    t = tag()
    ann = made.member(f"ann-{t}", f"Ann {t}")
    bob = made.member(f"bob-{t}", f"Bob {t}")
    made.task_rule(f"ann-{t}", f"For Ann {t}", t, {"member": ann})
    made.task_rule(f"bob-{t}", f"For Bob {t}", t, {"member": bob})
    made.order(t)

    frame = open_view(page, live, "/tasks", ".task-card, .empty-box")
    frame.locator("#task-state").select_option("open")
    mine = frame.locator(".task-card", has_text=t)
    frame.locator("#task-member").select_option("")
    mine.nth(1).wait_for()
    assert sorted(mine.locator(".task-title").all_inner_texts()) == [f"For Ann {t}", f"For Bob {t}"]
    frame.locator("#task-member").select_option(bob)
    frame.locator(".task-card", has_text=f"For Ann {t}").wait_for(state="detached")
    assert mine.locator(".task-title").all_inner_texts() == [f"For Bob {t}"]
    assert set(frame.locator(".task-card .assignee").all_inner_texts()) == {f"Bob {t} <{bob}@shop.example>"}
    assert frame.locator("#task-member").evaluate("el => el === document.activeElement")  # focus stays put
    frame.locator("#task-member").select_option("")
    assert page_errors == []


# -- team ----------------------------------------------------------------------------------------------------------


def test_a_member_is_added_marked_away_and_removed_and_a_group_created(
        live: LiveStack, page: Any, made: Made, page_errors: list[str]) -> None:
    t = tag()
    key = f"ann-{t}"
    made.undo += [f"/api/v1/team/members/{key}", f"/api/v1/team/groups/desk-{t}"]  # in case the test fails midway
    frame = open_view(page, live, "/team", ".people-section")
    frame.get_by_role("button", name="Add member").click()
    form = frame.locator("form[aria-label='New member']")
    fill(form, "name", f"Ann {t}")
    assert form.locator('[data-field="key"] input').input_value() == key
    fill(form, "email", f"ann.{t}@shop.example")
    fill(form, "phone", "12")
    form.get_by_role("button", name="Add member").click()
    form.locator('[data-field="phone"] > .field-error', has_text="not a phone number").wait_for()
    fill(form, "phone", "+49 151 12345678")
    form.get_by_role("button", name="Add member").click()

    row = frame.locator(f'[data-member="{key}"]')
    row.wait_for()
    assert row.locator(".person-contact").inner_text() == f"ann.{t}@shop.example · +4915112345678"
    row.get_by_role("button", name=f"Mark away: Ann {t}").click()
    row.locator(".pill-away").wait_for()
    member = next(m for m in live.api("GET", "/api/v1/team").json()["members"] if m["key"] == key)
    assert member["away"] is True and member["phone"] == "+4915112345678"

    frame.get_by_role("button", name="New group").click()
    group_form = frame.locator("form[aria-label='New group']")
    fill(group_form, "name", f"Desk {t}")
    group_form.get_by_role("button", name="Create group").click()
    group_form.locator('[data-field="members"] > .field-error', has_text="at least one").wait_for()
    group_form.get_by_label(f"Ann {t}").check()
    group_form.get_by_role("button", name="Create group").click()
    group = frame.locator(f'[data-group="desk-{t}"]')
    group.wait_for()
    assert group.locator(".chip").all_inner_texts() == [f"Ann {t} (away)"]

    frame.locator(f'[data-member="{key}"]').get_by_role("button", name=f"Remove Ann {t}").click()
    frame.locator(f'[data-member="{key}"] .form-error', has_text="take it out of the group first").wait_for()
    group.get_by_role("button", name=f"Delete group Desk {t}").click()
    group.wait_for(state="detached")
    frame.locator(f'[data-member="{key}"]').get_by_role("button", name=f"Remove Ann {t}").click()
    frame.locator(f'[data-member="{key}"]').wait_for(state="detached")
    assert key not in [m["key"] for m in live.api("GET", "/api/v1/team").json()["members"]]
    assert page_errors == []


def test_staff_sync_without_manage_staff_says_what_to_do(live: LiveStack, page: Any, page_errors: list[str]) -> None:
    frame = open_view(page, live, "/team", ".people-section")
    assert "needs the Manage staff permission" in frame.locator(".sync-status").inner_text()
    frame.get_by_role("button", name="Sync staff from Saleor").click()
    frame.locator(".sync-status .form-error", has_text="MANAGE_STAFF").wait_for()
    frame.locator(".sync-status").get_by_role("button", name="Ask for the permission").click()
    page.wait_for_function("window.__actions.some(a => a.type === 'requestPermissions')")
    asked = actions(page, "requestPermissions")[-1]["payload"]
    assert (asked["permissions"], asked["redirectPath"]) == (["MANAGE_STAFF"], "/team")
    assert page_errors == []


# -- workflows -----------------------------------------------------------------------------------------------------


def test_a_workflow_with_two_steps_is_created_edited_and_a_cycle_refused_beside_its_field(
        live: LiveStack, page: Any, made: Made, page_errors: list[str]) -> None:
    t = tag()
    key, loop = f"dun-{t}", f"loop-{t}"
    made.undo += [f"/api/v1/workflows/{key}", f"/api/v1/workflows/{loop}"]  # run in reverse: loop first
    frame = open_view(page, live, "/workflows", ".workflow-list, .empty-box")
    frame.get_by_role("button", name="New workflow").click()
    editor = frame.locator("form.workflow-editor")
    fill(editor, "name", f"Dun {t}")
    assert editor.locator('[data-field="key"] input').input_value() == key
    fill(editor, "s1.kind", "add_note")
    fill(editor, "s1.config.message", "Reminder for {{ order.number }}")
    editor.get_by_role("button", name="+ Add step").click()
    fill(editor, "s2.name", "Second reminder")
    fill(editor, "s2.kind", "add_note")
    fill(editor, "s2.config.message", "Still unpaid: {{ order.numbr }}")  # a template error, beside its field
    fill(editor, "s2.delay_seconds", "1")
    editor.locator('[data-field="s2.delay_seconds"] select').select_option("d")
    assert editor.locator('[data-field="s2.after_previous"] input').is_checked()  # a later step follows on
    editor.get_by_role("button", name="Create workflow").click()
    editor.locator('[data-field="s2.config.message"] > .field-error', has_text="did you mean").wait_for()
    fill(editor, "s2.config.message", "Still unpaid: {{ order.number }}")
    editor.get_by_role("button", name="Create workflow").click()
    editor.wait_for(state="detached")

    card = frame.locator(f'[data-workflow="{key}"]')
    card.wait_for()
    assert [" ".join(x.split()) for x in card.locator(".step-summary li").all_inner_texts()] == [
        "Add order note · right away", "Add order note Second reminder · after the previous step, wait 1 d"]
    stored = next(w for w in live.api("GET", "/api/v1/workflows").json() if w["key"] == key)
    assert [(s["key"], s["delay_seconds"], s["after_previous"]) for s in stored["steps"]] == [
        ("add-note", 0, False), ("second-reminder", 86400, True)]

    card.get_by_role("button", name=f"Edit workflow Dun {t}").click()
    editor = frame.locator("form.workflow-editor")
    assert editor.locator('[data-field="s2.config.message"] textarea').input_value() == "Still unpaid: {{ order.number }}"
    fill(editor, "s1.delay_seconds", "2")
    editor.locator('[data-field="s1.delay_seconds"] select').select_option("h")
    fill(editor, "outlive_stage", True)
    editor.get_by_role("button", name="Move step 2 up").click()
    assert editor.locator(".step-title").all_inner_texts() == ["Step 1", "Step 2"]
    editor.get_by_role("button", name="Save").click()
    editor.wait_for(state="detached")
    stored = next(w for w in live.api("GET", "/api/v1/workflows").json() if w["key"] == key)
    assert stored["outlive_stage"] is True
    assert [(s["key"], s["delay_seconds"]) for s in stored["steps"]] == [("second-reminder", 86400), ("add-note", 7200)]

    made.api("PUT", f"/api/v1/workflows/{loop}", json={"name": f"Loop {t}", "steps": [
        {"key": "again", "kind": "run_workflow", "config": {"workflow": key}}]})
    frame.get_by_role("tab", name="Workflows").click()  # reload: the new workflow is listed
    frame.locator(f'[data-workflow="{loop}"]').wait_for()
    frame.locator(f'[data-workflow="{key}"]').get_by_role("button", name=f"Edit workflow Dun {t}").click()
    editor = frame.locator("form.workflow-editor")
    editor.get_by_role("button", name="+ Add step").click()
    fill(editor, "s3.kind", "run_workflow")
    fill(editor, "s3.config.workflow", loop)
    editor.get_by_role("button", name="Save").click()
    refusal = editor.locator('[data-field="s3.config.workflow"] > .field-error')
    refusal.filter(has_text=f"workflow {key} would start itself ({key} → {loop} → {key})").wait_for()
    assert editor.locator('[data-field="s3.config.workflow"] input').evaluate("el => el === document.activeElement")
    editor.get_by_role("button", name="Cancel").click()
    stored = next(w for w in live.api("GET", "/api/v1/workflows").json() if w["key"] == key)
    assert len(stored["steps"]) == 2  # nothing saved

    frame.locator(f'[data-workflow="{key}"]').get_by_role("button", name=f"Edit workflow Dun {t}").click()
    frame.locator("form.workflow-editor").get_by_role("button", name="Delete").click()
    frame.locator("form.workflow-editor .form-error", has_text=f"started by workflow {loop}").wait_for()
    assert page_errors == []


# -- opt-outs ------------------------------------------------------------------------------------------------------


def test_an_opt_out_is_added_filtered_and_removed_after_a_warning(
        live: LiveStack, page: Any, made: Made, page_errors: list[str]) -> None:
    t = tag()
    address = f"gone-{t}@example.com"
    made.undo.append(f"/api/v1/suppressions/email/{address}")
    frame = open_view(page, live, "/suppressions", "form.opt-form")
    form = frame.locator("form.opt-form")
    fill(form, "channel", "phone")
    fill(form, "address", "0151 1234")
    form.get_by_role("button", name="Add").click()
    form.locator('[data-field="address"] > .field-error', has_text="not a phone number").wait_for()
    fill(form, "channel", "email")
    fill(form, "address", f"Gone-{t}@Example.com")
    fill(form, "reason", "asked us by phone")
    form.get_by_role("button", name="Add").click()

    row = frame.locator(f'tr[data-address="email:{address}"]')
    row.wait_for()
    assert [" ".join(cell.split()) for cell in row.locator("td").all_inner_texts()[:3]] == [
        "E-mail", address, "Added by hand asked us by phone"]
    frame.locator("#opt-search").fill(t)
    assert frame.locator("tbody tr").count() == 1
    frame.locator("#opt-channel").select_option("phone")
    row.wait_for(state="hidden")
    frame.locator("#opt-channel").select_option("")
    frame.locator("#opt-search").fill("")

    row.get_by_role("button", name=f"Remove {address}").click()
    warning = row.get_by_role("alertdialog")
    assert f"Messages to {address} will be sent again" in warning.inner_text()
    warning.get_by_role("button", name="Keep").click()  # nothing removed
    assert address in [s["address"] for s in live.api("GET", "/api/v1/suppressions").json()]
    row.get_by_role("button", name=f"Remove {address}").click()
    row.get_by_role("button", name="Remove, send again").click()
    row.wait_for(state="detached")
    assert address not in [s["address"] for s in live.api("GET", "/api/v1/suppressions").json()]
    assert page_errors == []


# -- narrow iframe, tokens, screenshots ----------------------------------------------------------------------------


def test_the_views_fit_a_narrow_iframe(live: LiveStack, page: Any, made: Made, page_errors: list[str],
                                       shots: Path) -> None:
    t = tag()
    packer = made.member(f"narrow-{t}", f"A rather long member name {t}", email=f"a.really.long.address.{t}@shop.example")
    made.task_rule(f"narrow-{t}", f"A task with a long title that has to wrap {t} {{{{ order.number }}}}", t,
                   {"member": packer}, due_in="1d")
    made.order(t)
    made.api("POST", "/api/v1/suppressions", f"/api/v1/suppressions/email/narrow-{t}@example.com",
             json={"channel": "email", "address": f"narrow-{t}@example.com", "reason": "bounced twice"})
    page.set_viewport_size({"width": 360, "height": 720})
    try:
        for path, ready in (("/tasks", ".task-card"), ("/team", ".people-section"), ("/workflows", ".page-head"),
                            ("/suppressions", ".opt-table")):
            frame = open_view(page, live, path, ready)
            width = frame.locator("html").evaluate("el => [el.scrollWidth, el.clientWidth]")
            assert width[0] <= width[1], f"{path} scrolls sideways: {width}"
            if path == "/tasks":
                frame.locator("#task-member").select_option(packer)
                frame.locator(".task-card").nth(1).wait_for(state="detached")
                take_screenshot(page, shots, "tasks-narrow-light")
        frame = open_view(page, live, "/workflows", ".page-head")
        frame.get_by_role("button", name="New workflow").click()
        editor = frame.locator("form.workflow-editor")
        fill(editor, "s1.kind", "add_note")
        box = editor.bounding_box()
        assert box is not None and box["width"] <= 360
        frame.locator('[data-field="s1.config.message"] textarea').scroll_into_view_if_needed()
        assert frame.locator('[data-field="s1.config.message"] textarea').is_visible()
        take_screenshot(page, shots, "workflows-editor-narrow-light")
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})
    assert page_errors == []


def test_a_token_without_manage_orders_gets_a_clear_state_on_these_views(live: LiveStack, page: Any) -> None:
    for path in ("/tasks", "/team", "/workflows", "/suppressions"):
        frame = open_view(page, live, path, "#boot-state h1:text('Manage orders')", perms="MANAGE_PRODUCTS")
        assert "Ask a staff member with the Manage orders permission" in frame.locator("#boot-message").inner_text()
        assert frame.locator(".tabs").is_hidden()
    headers = live.stack.dashboard_headers(permissions=["MANAGE_PRODUCTS"])
    for method, path in (("GET", "/api/v1/tasks"), ("POST", "/api/v1/tasks/1/complete"), ("GET", "/api/v1/team"),
                         ("PUT", "/api/v1/workflows/x"), ("GET", "/api/v1/suppressions"),
                         ("DELETE", "/api/v1/suppressions/email/a@example.com")):
        answer = live.run(lambda m=method, p=path: _call(live, m, p, headers))
        assert answer.status_code == 403, (method, path, answer.text)


async def _call(live: LiveStack, method: str, path: str, headers: dict[str, str]) -> Any:
    import httpx

    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=live.app_url) as client:
        return await client.request(method, path, headers=headers)


def test_people_views_in_light_and_dark(live: LiveStack, page: Any, made: Made, shots: Path) -> None:
    t = tag()
    ann = made.member(f"ann-{t}", "Ann Lee", email=f"ann.{t}@shop.example", phone="+4915112345678")
    bob = made.member(f"bob-{t}", "Bob Stone", email=f"bob.{t}@shop.example")
    made.api("PUT", f"/api/v1/team/groups/packers-{t}", f"/api/v1/team/groups/packers-{t}",
             json={"name": "Packers", "members": [ann, bob]})
    made.api("POST", f"/api/v1/team/members/{bob}/away", json={"away": True})
    made.task_rule(f"pack-{t}", "Pack order {{ order.number }}", t, {"member": ann}, due_in="4h", priority="high",
                   description="Gift wrap requested: use the red paper.")
    made.task_rule(f"call-{t}", "Call the customer about order {{ order.number }}", t, {"member": ann},
                   due_in="1h", priority="urgent")
    made.task_rule(f"check-{t}", "Check the address of order {{ order.number }}", t, {"member": ann})
    made.order(t)
    live.run(lambda: live.stack.advance(timedelta(hours=2)))  # the call is overdue
    step = {"kind": "add_note", "config": {"message": "Reminder: order {{ order.number }} waits for payment"}}
    made.api("PUT", f"/api/v1/workflows/dunning-{t}", f"/api/v1/workflows/dunning-{t}", json={
        "name": "Dunning", "steps": [{**step, "key": "first", "name": "First reminder", "delay_seconds": 86400},
                                     {**step, "key": "second", "name": "Second reminder", "delay_seconds": 3 * 86400,
                                      "after_previous": True},
                                     {"key": "task", "kind": "create_task", "after_previous": True,
                                      "config": {"title": "Call about unpaid order {{ order.number }}",
                                                 "assignee": {"group": f"packers-{t}"}}}]})
    # The sources Postmark's and Twilio's webhooks record, next to one added by hand.
    for channel, address, reason, source in (
            ("email", f"jane.{t}@example.com", "asked us by phone", "manual"),
            ("email", f"old.{t}@example.org", "hard bounce: mailbox does not exist", "bounce"),
            ("email", f"angry.{t}@example.net", "spam complaint", "spam_complaint"),
            ("phone", "+4917612345678", "replied STOP (Twilio 21610)", "opt_out")):
        made.api("POST", "/api/v1/suppressions", f"/api/v1/suppressions/{channel}/{address}",
                 json={"channel": channel, "address": address, "reason": reason, "source": source})

    for theme in ("light", "dark"):
        frame = open_view(page, live, "/tasks", ".task-card", theme=theme)
        frame.locator("#task-member").select_option(ann)
        frame.locator(".task-card .badge-overdue").first.wait_for()
        frame.locator("#task-member").blur()
        take_screenshot(page, shots, f"tasks-{theme}")
        frame.get_by_role("tab", name="Team").click()
        frame.locator(f'[data-group="packers-{t}"]').wait_for()
        take_screenshot(page, shots, f"team-{theme}")
        frame.get_by_role("tab", name="Workflows").click()
        card = frame.locator(f'[data-workflow="dunning-{t}"]')
        card.wait_for()
        take_screenshot(page, shots, f"workflows-{theme}")
        card.get_by_role("button", name="Edit workflow Dunning").click()
        frame.locator("form.workflow-editor").wait_for()
        take_screenshot(page, shots, f"workflows-editor-{theme}")
        frame.locator("form.workflow-editor").get_by_role("button", name="Cancel").click()
        frame.get_by_role("tab", name="Opt-outs").click()
        frame.locator(f'tr[data-address="email:jane.{t}@example.com"]').wait_for()
        take_screenshot(page, shots, f"suppressions-{theme}")
    frame.get_by_role("tab", name="Tasks").click()
    frame.locator("#task-member").select_option("")
