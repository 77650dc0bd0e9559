"""Client email end to end: the fake Saleor's orders, the app over real HTTP, the real `postmarker` client against
the local fake of Postmark's API, the real `aiosmtplib` client against a real SMTP server (aiosmtpd) on loopback,
and Postmark's webhooks coming back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from saleor_app.domain.config_document import ConfigFileError
from saleor_app.domain.config_file import dump_config, parse_config
from saleor_app.domain.email import OutgoingEmail
from saleor_app.domain.jobs import JobAttempt, JobState
from saleor_app.domain.providers import ProviderSpec, ProviderStatus, SuppressionChannel
from saleor_app.domain.triggers import TriggerSpec
from saleor_app.engine.configure import ConfigurationError, ConfigureAutomation
from saleor_app.engine.providers import CALLBACK_USER, ProviderView
from saleor_app.store.tables import MessageRow
from saleor_app.wiring import build_container
from tests.cli_runs import invoke as invoke_cli
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.fakes.postmark import FakePostmark
from tests.fakes.smtp import FakeSmtp
from tests.timing import HTTP_TIMEOUT, eventually

SHOP = "shop@example.com"
CUSTOMER = "ashley.cook@example.com"


@pytest.fixture
async def postmark() -> AsyncIterator[FakePostmark]:
    async with FakePostmark() as fake:
        yield fake


@pytest.fixture
async def smtp() -> AsyncIterator[FakeSmtp]:
    async with FakeSmtp() as fake:
        yield fake


@pytest.fixture
async def stack(settings, postmark: FakePostmark) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings.model_copy(update={
            "postmark_api_base_url": postmark.base_url, "allow_loopback_targets": True})):
        yield built


async def connect_postmark(stack: EngineStack, postmark: FakePostmark, key: str = "postmark-main",
                           address: str = SHOP) -> ProviderView:
    server = postmark.add_server("Shop", signatures=[address])
    view = await stack.container.providers.connect(stack.installation.id, ProviderSpec(
        key=key, kind="postmark", credentials={"server_token": server.token, "account_token": server.account_token}))
    assert view.account.status is ProviderStatus.CONNECTED, view.account.status_message
    return view


async def connect_smtp(stack: EngineStack, smtp: FakeSmtp, key: str = "smtp-main",
                       address: str = "orders@shop.example") -> ProviderView:
    view = await stack.container.providers.connect(stack.installation.id, ProviderSpec(
        key=key, kind="smtp", settings={"host": "127.0.0.1", "port": smtp.port, "security": "none",
                                        "from_address": address, "from_name": "Shop Orders"}))
    assert view.account.status is ProviderStatus.CONNECTED, view.account.status_message
    return view


async def email_rule(stack: EngineStack, key: str = "thanks", stage: str = "new", *,
                     rule: dict[str, Any] | None = None, **config: Any) -> None:
    config = {"subject": "Order #{{ order.number }} received", "text": "Hi {{ customer.first_name }}",
              "html": "<p>Note: {{ order.customer_note }}</p>", **config}
    await stack.rule(key=key, stage=stage, kind="email", config=config, **(rule or {}))


async def messages(stack: EngineStack) -> list[dict[str, Any]]:
    return await stack.rows(MessageRow.__table__)  # type: ignore[attr-defined]


async def jobs(stack: EngineStack) -> dict[str, dict[str, Any]]:
    return {job["rule_key"]: job for job in await stack.jobs()}


async def test_connecting_postmark_checks_the_token_lists_mailboxes_and_registers_the_webhook(
        stack: EngineStack, postmark: FakePostmark) -> None:
    view = await connect_postmark(stack, postmark)
    assert "Postmark server 'Shop'" in view.account.status_message
    assert [(s.address, s.enabled) for s in view.senders] == [(SHOP, True)]
    server = next(iter(postmark.servers.values()))
    [hook] = server.webhooks.values()
    assert hook["Url"] == f"{stack.container.settings.app_url}/api/providers/postmark/{view.account.id}/events"
    assert hook["HttpAuth"]["Username"] == CALLBACK_USER and len(hook["HttpAuth"]["Password"]) >= 32
    assert hook["Triggers"]["Open"]["Enabled"] and hook["Triggers"]["Bounce"]["Enabled"]
    again = await stack.container.providers.check_key(stack.installation.id, "postmark-main")
    assert again.account.status is ProviderStatus.CONNECTED and len(server.webhooks) == 1  # updated, not doubled
    await stack.container.providers.delete(stack.installation.id, "postmark-main")
    assert server.webhooks == {}


async def test_an_email_rule_cannot_be_enabled_without_a_connected_email_provider(
        stack: EngineStack, postmark: FakePostmark) -> None:
    """The policy of SMS and calls: refused on save (the page shows it beside the provider field), saved disabled."""
    refused = "an email rule cannot be enabled without a connected email provider"
    with pytest.raises(ConfigurationError, match=f"{refused}: connect a Postmark or SMTP provider under Providers "
                                                 "first, or save the rule disabled"):
        await email_rule(stack)
    await email_rule(stack, rule={"enabled": False})
    await connect_postmark(stack, postmark)
    with pytest.raises(ConfigurationError, match=rf"{refused} \(provider 'other' is not connected\)"):
        await email_rule(stack, provider="other")
    await email_rule(stack)


async def test_a_wrong_token_fails_with_postmarks_message_and_nothing_sends(
        stack: EngineStack, postmark: FakePostmark) -> None:
    await connect_postmark(stack, postmark)
    await email_rule(stack)  # saved while the account was connected
    view = await stack.container.providers.connect(stack.installation.id, ProviderSpec(
        key="postmark-main", kind="postmark", credentials={"server_token": "wrong"}))
    assert view.account.status is ProviderStatus.FAILED
    assert "[10] The Server Token you provided" in view.account.status_message
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert (await jobs(stack))["thanks"]["reason"] == ("skipped: no connected mailbox: connect Postmark or SMTP "
                                                       "under Providers")


async def test_an_order_entering_a_stage_is_emailed_through_postmark(
        stack: EngineStack, postmark: FakePostmark) -> None:
    await connect_postmark(stack, postmark)
    await email_rule(stack, track_opens=True, track_links=True, reply_to="help@example.com")
    order = await stack.saleor.place_order(auto_confirm=False, customer_note="<script>alert(1)</script>")
    await stack.settle()
    [sent] = postmark.emails
    job = (await jobs(stack))["thanks"]
    assert job["state"] == "succeeded" and sent["MessageID"] in job["reason"]
    assert sent["To"] == CUSTOMER and sent["From"] == f'"Shop" <{SHOP}>'
    assert sent["Subject"] == f"Order #{order.number} received" and sent["TextBody"] == "Hi Ashley"
    assert sent["HtmlBody"] == "<p>Note: &lt;script&gt;alert(1)&lt;/script&gt;</p>"  # values escaped, markup kept
    assert sent["TrackOpens"] is True and sent["TrackLinks"] == "HtmlAndText" and sent["ReplyTo"] == "help@example.com"
    assert sent["MessageStream"] == "outbound"
    assert {"Name": "X-Order-Automation-Job", "Value": str(job["id"])} in sent["Headers"]
    assert sent["Metadata"] == {"rule": "thanks", "order": str(order.number), "job_id": str(job["id"])}
    [row] = await messages(stack)
    assert (row["state"], row["provider_message_id"], row["job_id"]) == ("sent", sent["MessageID"], job["id"])


async def test_an_order_is_emailed_through_smtp_and_the_server_receives_it_rendered(
        stack: EngineStack, smtp: FakeSmtp) -> None:
    await connect_smtp(stack, smtp)
    await email_rule(stack)
    order = await stack.saleor.place_order(auto_confirm=False, customer_note="Fish & <chips>")
    await stack.settle()
    [received] = smtp.messages
    job = (await jobs(stack))["thanks"]
    assert job["state"] == "succeeded"
    assert received["Subject"] == f"Order #{order.number} received"
    assert received["From"] == "Shop Orders <orders@shop.example>" and received["To"] == CUSTOMER
    assert received["X-Order-Automation-Job"] == str(job["id"])
    text = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert text is not None and text.get_content().strip() == "Hi Ashley"
    assert html is not None and html.get_content().strip() == "<p>Note: Fish &amp; &lt;chips&gt;</p>"
    [row] = await messages(stack)
    assert row["provider_message_id"] == received["Message-ID"]


async def test_auto_mailbox_takes_the_first_connected_then_the_last_used(
        stack: EngineStack, postmark: FakePostmark, smtp: FakeSmtp) -> None:
    await connect_postmark(stack, postmark)
    await connect_smtp(stack, smtp)
    await email_rule(stack, key="auto", stage="new")
    await email_rule(stack, key="via-smtp", stage="awaiting-payment", mailbox="orders@shop.example")
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert len(postmark.emails) == 1 and smtp.messages == []  # nothing sent yet: the first connected mailbox
    await stack.saleor.place_order(auto_confirm=True)  # → awaiting payment: the named SMTP mailbox
    await stack.settle()
    assert len(smtp.messages) == 1
    await stack.saleor.place_order(auto_confirm=False)  # auto now follows the last successful send: SMTP
    await stack.settle()
    assert len(postmark.emails) == 1 and len(smtp.messages) == 2


async def test_auto_address_picks_the_order_email_then_skips_with_reasons(
        stack: EngineStack, postmark: FakePostmark) -> None:
    await connect_postmark(stack, postmark)
    await email_rule(stack, key="auto")
    await email_rule(stack, key="meta", recipient="metadata", metadata_key="gift_to")
    await stack.saleor.place_order(auto_confirm=False, email="guest@example.com", guest=True,
                                   metadata={"gift_to": "not an address"})
    await stack.saleor.place_order(auto_confirm=False, email="", guest=True)
    await stack.settle()
    states = sorted((job["rule_key"], job["reason"]) for job in await stack.jobs())
    assert [email["To"] for email in postmark.emails] == ["guest@example.com"]
    assert ("auto", "skipped: no email of type order email or customer account email") in states
    assert ("meta", "skipped: invalid email address 'not an address' (metadata gift_to)") in states
    assert ("meta", "skipped: no email of type metadata gift_to") in states


async def test_a_hard_bounce_suppresses_the_next_send_and_shows_in_the_log(
        stack: EngineStack, postmark: FakePostmark) -> None:
    view = await connect_postmark(stack, postmark)
    await email_rule(stack)
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    answer = await postmark.post_event("Bounce", postmark.emails[0]["MessageID"])
    assert answer.status_code == 200, answer.text
    [row] = await messages(stack)
    assert (row["state"], row["last_event"]) == ("bounced", "bounced")
    [suppressed] = await stack.container.providers.suppressions(stack.installation.id)
    assert (suppressed.channel, suppressed.address, suppressed.source) == (SuppressionChannel.EMAIL, CUSTOMER,
                                                                           "bounce")
    assert any("is suppressed from now on" in line for line in await stack.activity())
    account = await stack.container.providers.account_by_id(view.account.id)
    assert account is not None and account.last_event_at is not None
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert len(postmark.emails) == 1
    assert f"skipped: recipient suppressed: {CUSTOMER} (hard bounce" in [
        job["reason"] for job in await stack.jobs()][-1]


async def test_an_open_and_a_click_fire_triggers_that_move_the_order(
        stack: EngineStack, postmark: FakePostmark) -> None:
    await connect_postmark(stack, postmark)
    for key in ("engaged", "clicked"):
        await stack.container.configure.add_custom_stage(stack.installation.id, key, key.title(), ["UNCONFIRMED"])
    await stack.container.configure.save_trigger(stack.installation.id, TriggerSpec(
        key="on-open", stage="engaged", event="email_opened"))
    await stack.container.configure.save_trigger(stack.installation.id, TriggerSpec(
        key="on-click", stage="clicked", event="email_link_clicked"))
    await email_rule(stack)
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert await stack.order_stage(order.id) == "new"
    message_id = postmark.emails[0]["MessageID"]
    opened_at = "2026-11-24T10:00:00.1234567Z"
    assert (await postmark.post_event("Open", message_id, ReceivedAt=opened_at)).status_code == 200
    retried = await postmark.post_event("Open", message_id, ReceivedAt=opened_at)  # Postmark retries
    assert retried.json()["note"] == "duplicate: acknowledged"
    await stack.settle()
    assert await stack.order_stage(order.id) == "engaged"
    assert (await stack.activity()).count(f"email to {CUSTOMER}: opened") == 1
    assert (await postmark.post_event("Click", message_id)).status_code == 200
    await stack.settle()
    assert await stack.order_stage(order.id) == "clicked"
    [row] = await messages(stack)
    assert row["state"] == "clicked"
    assert (await postmark.post_event("Delivery", message_id)).status_code == 200
    [row] = await messages(stack)
    assert row["state"] == "clicked" and row["last_event"] == "delivered"  # a late report never goes back


async def test_postmark_webhooks_without_the_accounts_credentials_are_refused(
        stack: EngineStack, postmark: FakePostmark) -> None:
    view = await connect_postmark(stack, postmark)
    url = f"{stack.container.settings.app_url}/api/providers/postmark/{view.account.id}/events"
    payload = {"RecordType": "Open", "MessageID": "x"}
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        assert (await client.post(url, json=payload)).status_code == 401
        assert (await client.post(url, json=payload, auth=(CALLBACK_USER, "guess"))).status_code == 401
        other = f"{stack.container.settings.app_url}/api/providers/postmark/{view.account.id + 1}/events"
        assert (await client.post(other, json=payload, auth=(CALLBACK_USER, "guess"))).status_code == 401
    password = await stack.container.providers.callback_password(view.account.id)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        unknown = await client.post(url, json=payload, auth=(CALLBACK_USER, password or ""))
        garbage = await client.post(url, content=b"[1]", auth=(CALLBACK_USER, password or ""))
    assert unknown.status_code == 200 and unknown.json()["note"] == "unknown message: acknowledged"
    assert garbage.status_code == 422


async def test_postmark_refusals_fail_and_busy_answers_retry(stack: EngineStack, postmark: FakePostmark) -> None:
    await connect_postmark(stack, postmark)
    await email_rule(stack, key="refused", stage="new")
    postmark.fail_next(422, 300, "Invalid 'To' address: 'x'.")
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert (await jobs(stack))["refused"]["reason"] == "failed: Postmark refused it: [300] Invalid 'To' address: 'x'."
    await email_rule(stack, key="busy", stage="awaiting-payment")
    postmark.fail_next(429, 429, "Rate limit exceeded")
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    busy = (await jobs(stack))["busy"]
    assert busy["state"] == "retrying" and "HTTP 429" in busy["reason"]
    await stack.advance(timedelta(minutes=2))
    assert (await jobs(stack))["busy"]["state"] == "succeeded" and len(postmark.emails) == 1
    assert [row["state"] for row in await messages(stack)] == ["failed", "failed", "sent"]


async def test_a_dropped_answer_after_postmark_took_the_email_is_unknown_and_never_resent(
        stack: EngineStack, postmark: FakePostmark) -> None:
    await connect_postmark(stack, postmark)
    await email_rule(stack)
    postmark.drop_next()
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    job = (await jobs(stack))["thanks"]
    assert job["state"] == "unknown" and "may have been sent" in job["reason"]
    await stack.advance(timedelta(hours=2))
    assert len(postmark.emails) == 1 and (await jobs(stack))["thanks"]["state"] == "unknown"
    [row] = await messages(stack)
    assert row["state"] == "unknown"


async def test_an_unknown_postmark_send_is_reconciled_from_postmarks_log(
        stack: EngineStack, postmark: FakePostmark) -> None:
    await connect_postmark(stack, postmark)
    await email_rule(stack, key="found", stage="new")
    await email_rule(stack, key="then", stage="new", rule={"after_previous": True})
    postmark.drop_next()
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert await stack.container.email.reconcile.run_once() == 0  # too early: Postmark's log may lag
    await stack.advance(timedelta(minutes=3))
    assert await stack.container.email.reconcile.run_once() == 1
    await stack.settle()
    states = await jobs(stack)
    assert states["found"]["state"] == "succeeded" and "reconciled — postmark has the email" in states["found"]["reason"]
    assert states["then"]["state"] == "succeeded" and len(postmark.emails) == 2  # the next rule ran; no resend
    await email_rule(stack, key="lost", stage="awaiting-payment")
    postmark.drop_next()
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    postmark.emails.pop()  # Postmark never kept it
    await stack.advance(timedelta(minutes=3))
    assert await stack.container.email.reconcile.run_once() == 1
    await stack.settle()
    lost = (await jobs(stack))["lost"]
    assert lost["state"] == "succeeded" and len(postmark.emails) == 3  # sent again, once: Postmark said it had none


async def claimed_and_abandoned(stack: EngineStack) -> int:
    """The order's move claims its immediate email job (running, leased); the process then dies."""
    await stack.saleor.place_order(auto_confirm=False)
    await stack.container.order_events.run_once()
    [job_id] = stack.container.order_events.take_ready()
    return job_id


async def test_an_email_job_killed_before_its_hand_over_is_run_again_and_sends_once(
        stack: EngineStack, postmark: FakePostmark) -> None:
    await connect_postmark(stack, postmark)
    await email_rule(stack)
    await claimed_and_abandoned(stack)
    stack.clock.advance(timedelta(minutes=6))
    assert await stack.container.recover_leases() == 1
    await stack.settle()
    job = (await jobs(stack))["thanks"]
    assert job["state"] == "succeeded" and len(postmark.emails) == 1
    assert len(await messages(stack)) == 1


async def test_an_email_job_killed_after_postmark_accepted_it_succeeds_on_recovery(
        stack: EngineStack, postmark: FakePostmark) -> None:
    await connect_postmark(stack, postmark)
    await email_rule(stack)
    await email_rule(stack, key="then", rule={"after_previous": True}, subject="Then")
    job_id = await claimed_and_abandoned(stack)
    service = stack.container.email.service
    mailbox = await service.choose(stack.installation.id, "auto")
    # What the job's run did before the process died: the send went through and its message row says so.
    await service.send(stack.installation.id, mailbox, OutgoingEmail(
        from_address=SHOP, from_name="Shop", to=CUSTOMER, subject="Order received", html="", text="Hi"),
        job=JobAttempt(job_id, 1))  # the move's claim started its first attempt
    stack.clock.advance(timedelta(minutes=6))
    assert await stack.container.recover_leases() == 1
    await stack.settle()
    states = await jobs(stack)
    assert states["thanks"]["state"] == "succeeded" and "provider had accepted it" in states["thanks"]["reason"]
    assert states["then"]["state"] == "succeeded"  # released, as after a recorded success
    assert [email["Subject"] for email in postmark.emails] == ["Order received", "Then"]  # never sent twice


async def test_two_unknown_emails_with_the_same_recipient_and_text_settle_separately(
        stack: EngineStack, postmark: FakePostmark) -> None:
    await connect_postmark(stack, postmark)
    await email_rule(stack, key="same", stage="awaiting-payment", subject="Thanks", text="Hi", html="<p>Hi</p>")
    for _ in range(2):
        postmark.drop_next()
        await stack.saleor.place_order(auto_confirm=True)
        await stack.settle()
    assert [job["state"] for job in await stack.jobs()] == ["unknown", "unknown"]
    kept, _ = postmark.emails
    assert kept["To"] == postmark.emails[1]["To"] and kept["TextBody"] == postmark.emails[1]["TextBody"]
    postmark.emails.pop()  # Postmark kept the first order's email only
    await stack.advance(timedelta(minutes=3))
    assert await stack.container.email.reconcile.run_once() == 2
    await stack.settle()
    first, second = await stack.jobs()
    assert str(first["id"]) == kept["Metadata"]["job_id"]  # matched by the job id Postmark keeps, not the text
    assert first["state"] == "succeeded" and "reconciled — postmark has the email" in first["reason"]
    assert second["state"] == "succeeded" and len(postmark.emails) == 2  # retried: sent again, once
    ids = [row["provider_message_id"] for row in await messages(stack) if row["state"] != "failed"]
    assert len(ids) == 2 and len(set(ids)) == 2


async def test_a_drop_after_smtp_data_ends_unknown_and_is_never_resent(stack: EngineStack, smtp: FakeSmtp) -> None:
    await connect_smtp(stack, smtp)
    await email_rule(stack)
    smtp.drop_after_data_next()
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    job = (await jobs(stack))["thanks"]
    assert job["state"] == "unknown" and "after the email's data was sent" in job["reason"]
    await stack.advance(timedelta(hours=2))
    assert len(smtp.messages) == 1 and (await jobs(stack))["thanks"]["state"] == "unknown"


async def test_smtp_rejections_fail_with_the_servers_reply_and_deferrals_retry(
        stack: EngineStack, smtp: FakeSmtp) -> None:
    await connect_smtp(stack, smtp)
    await email_rule(stack, key="rejected", stage="new")
    smtp.reject_next()
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    assert (await jobs(stack))["rejected"]["reason"] == (
        "failed: the SMTP server refused the email: 550 5.1.1 <x>: Recipient address rejected: User unknown")
    await email_rule(stack, key="deferred", stage="awaiting-payment")
    smtp.defer_next()
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    assert (await jobs(stack))["deferred"]["state"] == "retrying"
    await stack.advance(timedelta(minutes=2))
    assert (await jobs(stack))["deferred"]["state"] == "succeeded" and len(smtp.messages) == 1


async def test_a_refused_smtp_connection_is_retried(stack: EngineStack, smtp: FakeSmtp) -> None:
    await connect_smtp(stack, smtp)
    await email_rule(stack)
    await smtp.__aexit__(None, None, None)  # the server is down: connection refused
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    job = (await jobs(stack))["thanks"]
    assert job["state"] == "retrying" and "could not be reached" in job["reason"]


async def test_send_a_test_to_me_goes_to_the_staff_address_and_is_not_the_job(
        stack: EngineStack, postmark: FakePostmark) -> None:
    await connect_postmark(stack, postmark)
    await email_rule(stack, stage="paid")  # the order never enters it: no job
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    url = f"{stack.container.settings.app_url}/api/v1/rules/thanks/test-email"
    headers = stack.dashboard_headers(email="staff@shop.example", permissions=["MANAGE_ORDERS"])
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        answer = await client.post(url, json={"order": str(order.number)}, headers=headers)
    assert answer.status_code == 200, answer.text
    [sent] = postmark.emails
    assert sent["To"] == "staff@shop.example" and sent["Subject"] == f"[Test] Order #{order.number} received"
    assert {"Name": "X-Order-Automation-Test", "Value": "1"} in sent["Headers"]
    [row] = await messages(stack)
    assert row["is_test"] and row["job_id"] is None
    assert await stack.jobs() == []
    [mailbox] = await stack.container.email.service.mailboxes(stack.installation.id)
    assert mailbox.sender.last_sent_at is None  # a test never moves "auto"


async def export_yaml(stack: EngineStack) -> str:
    return dump_config(await stack.container.configure.export_config(stack.installation.id))


async def import_yaml(stack: EngineStack, text: str, *, dry_run: bool = False,
                      configure: ConfigureAutomation | None = None) -> list[str]:
    parsed = parse_config(text)
    configure = configure or stack.container.configure
    report = await configure.apply_config(stack.installation.id, parsed.document, dry_run=dry_run, locate=parsed.locate)
    return report.lines()


async def test_providers_as_code_on_the_servers_shell_take_secrets_only_from_it_and_export_none(
        stack: EngineStack, postmark: FakePostmark, monkeypatch: pytest.MonkeyPatch) -> None:
    server = postmark.add_server("Shop", signatures=[SHOP])
    shell = build_container(stack.container.settings, operator_shell=True)  # as `config import` builds it
    try:
        base = await export_yaml(stack)
        literal = base + ("providers:\n- key: postmark-main\n  kind: postmark\n  credentials:\n"
                          f"    server_token: {server.token}\n")
        with pytest.raises(ConfigFileError, match=r"write secrets as a \$\{ENV_VAR\} reference"):
            await import_yaml(stack, literal, configure=shell.configure)
        text = base + ("providers:\n- key: postmark-main\n  kind: postmark\n  credentials:\n"
                       "    server_token: ${PM_TOKEN}\n  settings:\n    message_stream: outbound\n"
                       f"    mailboxes:\n    - address: {SHOP}\n      name: Shop\n"
                       "suppressions:\n- channel: email\n  address: Gone@Example.com\n  reason: asked us by phone\n")
        with pytest.raises(ConfigFileError, match="PM_TOKEN is not set") as unset:
            await import_yaml(stack, text, configure=shell.configure)
        assert "line " in str(unset.value)
        assert await stack.container.providers.list(stack.installation.id) == []  # nothing written
        monkeypatch.setenv("PM_TOKEN", server.token)
        assert await import_yaml(stack, text, dry_run=True, configure=shell.configure) == [
            "provider postmark-main: would be added and checked", "suppressions would be added: gone@example.com"]
        lines = await import_yaml(stack, text, configure=shell.configure)
        assert lines[0].startswith("provider postmark-main: added, connected: Postmark server 'Shop'")
        assert await import_yaml(stack, text, configure=shell.configure) == [  # unchanged: no second check call
            "nothing to change: the installation already has this configuration"]
        assert len(next(iter(postmark.servers.values())).webhooks) == 1
    finally:
        await shell.aclose()
    exported = await export_yaml(stack)
    assert server.token not in exported
    assert "server_token: ${POSTMARK_MAIN_SERVER_TOKEN}" in exported
    assert "address: gone@example.com" in exported
    parse_config(exported)  # what export writes imports again
    assert await import_yaml(stack, exported) == [  # through the app too: its references keep what is stored
        "nothing to change: the installation already has this configuration"]


async def invoke(stack: EngineStack, postmark: FakePostmark, *args: str, **env: str) -> Any:
    settings = stack.container.settings
    env = {"APP_ENV": "test", "DATABASE_URL": settings.database_url, "DATA_DIR": str(settings.data_dir),
           "ENCRYPTION_KEYS": ",".join(settings.encryption_keys), "LOG_FORMAT": "text", "LOG_LEVEL": "WARNING",
           "POSTMARK_API_BASE_URL": postmark.base_url, "APP_URL": settings.app_url, "ALLOW_LOOPBACK_TARGETS": "true",
           **env}
    return await asyncio.to_thread(invoke_cli, ["providers", *args, "--saleor-api-url",
                                                             stack.saleor.api_url], env=env)


@pytest.mark.usefixtures("restore_logging")
async def test_the_cli_connects_lists_suppresses_and_deletes(stack: EngineStack, postmark: FakePostmark) -> None:
    server = postmark.add_server("Shop", signatures=[SHOP])
    missing = await invoke(stack, postmark, "connect", "pm", "--kind", "postmark", "--credential",
                           "server_token=PM_TOKEN")
    assert missing.exit_code == 2 and "--credential server_token: give the name of an environment variable" \
        in missing.stderr
    pasted = await invoke(stack, postmark, "connect", "pm", "--kind", "postmark", "--credential",
                          f"server_token={server.token}")  # the secret itself where its variable's name belongs
    assert pasted.exit_code == 2 and "not the secret itself" in pasted.stderr
    assert server.token not in pasted.output
    bare = await invoke(stack, postmark, "connect", "pm", "--kind", "postmark", "--credential", server.token)
    assert bare.exit_code == 2 and "write NAME=ENV_VAR" in bare.stderr and server.token not in bare.output
    wrong = await invoke(stack, postmark, "connect", "pm", "--kind", "postmark", "--credential",
                         "server_token=PM_TOKEN", PM_TOKEN="nope")
    assert wrong.exit_code == 1 and "pm (postmark): failed — Postmark refused the token" in wrong.stdout
    connected = await invoke(stack, postmark, "connect", "pm", "--kind", "postmark", "--credential",
                             "server_token=PM_TOKEN", "--setting", f'mailboxes=["{SHOP}"]', PM_TOKEN=server.token)
    assert connected.exit_code == 0, connected.output
    assert server.token not in connected.output
    listed = await invoke(stack, postmark, "list")
    assert listed.exit_code == 0 and f"email {SHOP}" in listed.stdout and "pm (postmark): connected" in listed.stdout
    added = await invoke(stack, postmark, "suppress", "Someone@Example.com", "--reason", "asked")
    assert added.exit_code == 0 and added.stdout.strip() == "someone@example.com: suppressed"
    shown = await invoke(stack, postmark, "suppressions")
    assert shown.stdout.strip() == "email someone@example.com (manual) asked"
    deleted = await invoke(stack, postmark, "delete", "pm")
    assert deleted.exit_code == 0 and server.webhooks == {}


async def test_the_api_connects_lists_and_never_returns_a_secret(stack: EngineStack, postmark: FakePostmark) -> None:
    server = postmark.add_server("Shop", signatures=[SHOP])
    base = f"{stack.container.settings.app_url}/api/v1"
    editor = stack.dashboard_headers(email="staff@shop.example", permissions=["MANAGE_ORDERS"])
    viewer = stack.dashboard_headers(email="viewer@shop.example", permissions=[])
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        forbidden = await client.put(f"{base}/providers/pm", headers=viewer, json={"kind": "postmark"})
        unknown_kind = await client.put(f"{base}/providers/pm", headers=editor, json={"kind": "mailgun"})
        connected = await client.put(f"{base}/providers/pm", headers=editor, json={
            "kind": "postmark", "credentials": {"server_token": server.token,
                                                "account_token": server.account_token}})
        renamed = await client.put(f"{base}/providers/pm", headers=editor, json={"kind": "postmark",
                                                                                 "name": "Main"})
        listed = await client.get(f"{base}/providers", headers=editor)
        disabled = await client.put(f"{base}/providers/pm/senders/{SHOP}", headers=editor, json={"enabled": False})
        added = await client.post(f"{base}/suppressions", headers=editor,
                                  json={"channel": "email", "address": "X@Example.com", "reason": "asked"})
        suppressions = await client.get(f"{base}/suppressions", headers=editor)
        removed = await client.delete(f"{base}/suppressions/email/x@example.com", headers=editor)
        again = await client.delete(f"{base}/suppressions/email/x@example.com", headers=editor)
    assert forbidden.status_code == 403
    assert unknown_kind.status_code == 422 and "known kinds:" in unknown_kind.json()["error"]["message"]
    assert connected.status_code == 200 and connected.json()["status"] == "connected", connected.text
    assert renamed.json()["status"] == "connected" and renamed.json()["name"] == "Main"  # stored token kept
    assert [p["key"] for p in listed.json()] == ["pm"]
    assert disabled.json()["senders"][0]["enabled"] is False
    for answer in (connected, renamed, listed):
        assert server.token not in answer.text and server.account_token not in answer.text
    assert added.status_code == 201 and suppressions.json()[0]["address"] == "x@example.com"
    assert removed.status_code == 204 and again.status_code == 404


async def test_the_dry_run_tells_what_the_email_would_say(stack: EngineStack, postmark: FakePostmark) -> None:
    await connect_postmark(stack, postmark)
    await email_rule(stack, stage="paid")
    await email_rule(stack, key="nobody", stage="paid", recipient="metadata", metadata_key="missing")
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    url = f"{stack.container.settings.app_url}/api/v1/orders/{order.number}/dry-run?stage=paid"
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        answer = await client.get(url, headers=stack.dashboard_headers(permissions=["MANAGE_ORDERS"]))
    outcomes = {rule["rule"]: rule["outcome"] for rule in answer.json()["rules"]}
    assert outcomes["thanks"] == (f"would email {CUSTOMER} from the last used mailbox: 'Order #{order.number} "
                                  "received' — Hi Ashley")
    assert outcomes["nobody"] == "would be skipped: no email of type metadata missing"
    assert postmark.emails == []


# A run that lost its job never sends: a run held up before its provider call (here: re-reading the order for a
# delayed rule) while its lease expires, recovery gives the job back and a second run starts it. Whichever reaches
# the hand-over first, only the run that holds the job now may hand anything to a provider; the other stops and
# records nothing. Before the hand-over was fenced by the attempt, both sent.

RUN_DELAY = timedelta(minutes=1)  # a delayed rule re-reads the order right before it acts


async def two_runs_of_one_job(stack: EngineStack) -> tuple[asyncio.Task[object], asyncio.Task[object], int]:
    """The job falls due; run one starts it and waits on Saleor; its lease expires, recovery gives the job back
    ("nothing was handed over"); run two starts it and waits on Saleor too."""
    await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    [job] = await stack.jobs()
    assert job["state"] == JobState.SCHEDULED.value
    stack.saleor.hold_mutation("order")  # the re-read of the order (`order(id: …)`), not orderNoteAdd
    container = stack.container
    runs = []
    for run in (1, 2):
        if run == 2:
            stack.clock.advance(timedelta(seconds=container.settings.job_lease_seconds + 1))
            assert await container.recover_leases() == 1
        else:
            stack.clock.advance(RUN_DELAY + timedelta(seconds=1))
        claimed = await container.automation.claim_due(stack.clock.now(), timedelta(
            seconds=container.settings.job_lease_seconds), 10)
        assert claimed == [job["id"]]
        runs.append(asyncio.create_task(container.execute_job.run_batch(claimed)))
        await eventually(lambda run=run: len(stack.saleor.held_bodies) == run, what=f"run {run} waiting on Saleor")
    return runs[0], runs[1], job["id"]


async def test_a_note_is_added_once_when_a_run_outlives_its_lease(stack: EngineStack) -> None:
    await stack.rule(key="note", stage="new", kind="add_note", config={"message": "once"},
                     delay_seconds=int(RUN_DELAY.total_seconds()))
    first, second, _ = await two_runs_of_one_job(stack)
    stack.saleor.release_mutations()
    await asyncio.gather(first, second)
    assert stack.notes() == ["once"]
    [job] = await stack.jobs()
    assert (job["state"], job["attempts"]) == (JobState.SUCCEEDED.value, 2)


async def test_an_email_is_sent_once_when_a_run_outlives_its_lease(stack: EngineStack,
                                                                    postmark: FakePostmark) -> None:
    await connect_postmark(stack, postmark)
    await email_rule(stack, rule={"delay_seconds": int(RUN_DELAY.total_seconds())})
    first, second, _ = await two_runs_of_one_job(stack)
    stack.saleor.release_mutations()
    await asyncio.gather(first, second)
    assert len(postmark.emails) == 1
    [job] = await stack.jobs()
    assert (job["state"], job["attempts"]) == (JobState.SUCCEEDED.value, 2)
    assert len(await messages(stack)) == 1  # the run that lost the job wrote no message row either
