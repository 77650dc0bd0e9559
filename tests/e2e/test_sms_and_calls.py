"""SMS and calls end to end: the fake Saleor's orders, the app over real HTTP, the real `twilio` library against the
local fake of Twilio's API, and Twilio's signed callbacks coming back."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from saleor_app.domain.config_document import ConfigFileError
from saleor_app.domain.config_file import dump_config, parse_config
from saleor_app.domain.jobs import JobAttempt
from saleor_app.domain.providers import Channel, MessageState, ProviderSpec, ProviderStatus, SuppressionChannel
from saleor_app.domain.rules import RuleSpec
from saleor_app.domain.triggers import TriggerSpec
from saleor_app.engine.configure import ConfigurationError
from saleor_app.engine.providers import ProviderView
from saleor_app.store.tables import MessageRow, WebhookInboxRow
from tests.e2e.engine_stack import EngineStack, engine_stack
from tests.e2e.test_config_secrets import config_import
from tests.fakes.twilio import FakeTwilio, twilio_signature
from tests.fakes.twilio_model import FakeAccount, FakeCall, TwilioError
from tests.timing import HTTP_TIMEOUT, eventually

SHOP = "+15005550006"
CUSTOMER = "+12025550143"


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as fake:
        fake.account.add_number(SHOP, "Shop line")
        yield fake


@pytest.fixture
async def stack(settings, twilio: FakeTwilio) -> AsyncIterator[EngineStack]:
    async for built in engine_stack(settings.model_copy(update={"twilio_api_base_url": twilio.base_url})):
        yield built


async def connect(stack: EngineStack, twilio: FakeTwilio) -> ProviderView:
    view = await stack.container.providers.connect(stack.installation.id, ProviderSpec(
        key="twilio-main", kind="twilio",
        credentials={"account_sid": twilio.account.sid, "auth_token": twilio.account.auth_token}))
    assert view.account.status is ProviderStatus.CONNECTED, view.account.status_message
    return view


async def messages(stack: EngineStack) -> list[dict[str, Any]]:
    return await stack.rows(MessageRow.__table__)  # type: ignore[attr-defined]


async def jobs(stack: EngineStack) -> dict[str, dict[str, Any]]:
    return {job["rule_key"]: job for job in await stack.jobs()}


async def test_connecting_checks_the_account_lists_senders_and_points_numbers_at_the_app(
        stack: EngineStack, twilio: FakeTwilio) -> None:
    service = twilio.account.add_service("Notifications", [SHOP])
    view = await connect(stack, twilio)
    assert "Twilio account 'My first Twilio account' (Full)" in view.account.status_message
    assert {(s.kind.value, s.address) for s in view.senders} == {("phone", SHOP), ("messaging_service", service.sid)}
    inbound = f"{stack.container.settings.app_url}/api/twilio/{view.account.id}/inbound"
    assert twilio.account.numbers[0].sms_url == inbound
    await stack.container.providers.delete(stack.installation.id, "twilio-main")
    assert twilio.account.numbers[0].sms_url == ""  # put back as it was


async def test_wrong_credentials_leave_the_account_failed_with_twilios_message(
        stack: EngineStack, twilio: FakeTwilio) -> None:
    view = await stack.container.providers.connect(stack.installation.id, ProviderSpec(
        key="twilio-main", kind="twilio", credentials={"account_sid": twilio.account.sid, "auth_token": "wrong"}))
    assert view.account.status is ProviderStatus.FAILED and "20003" in view.account.status_message


async def test_sms_and_call_rules_cannot_be_enabled_without_a_connected_account(stack: EngineStack) -> None:
    with pytest.raises(ConfigurationError, match="an SMS rule cannot be enabled without a connected SMS provider"):
        await stack.rule(key="sms", stage="awaiting-payment", kind="sms", config={"text": "Hi"})
    with pytest.raises(ConfigurationError, match="a call rule cannot be enabled without connected telephony"):
        await stack.rule(key="call", stage="awaiting-payment", kind="call", config={"text": "Hi"})
    await stack.rule(key="sms", stage="awaiting-payment", kind="sms", config={"text": "Hi"}, enabled=False)


async def test_an_order_gets_an_sms_and_then_a_call_with_the_chosen_voice(
        stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    await stack.rule(key="sms", stage="awaiting-payment", kind="sms", config={
        "phone_type": "shipping", "text": "Hi {{ customer.first_name }}, order {{ order.number }} is confirmed."})
    await stack.rule(key="call", stage="awaiting-payment", kind="call", after_previous=True, config={
        "text": "Hello {{ customer.first_name }}, your order {{ order.number }} awaits payment.",
        "voice": "Polly.Marlene", "language": "de-DE", "speed": 90, "volume": "loud"})
    order = await stack.saleor.place_order(auto_confirm=True, phone="+4930123456", shipping_phone="(415) 555-0100")
    await stack.settle()
    state = await jobs(stack)
    assert state["sms"]["state"] == "succeeded" and state["call"]["state"] == "succeeded"
    [sms] = twilio.creates("Messages")
    assert sms.form["To"] == "+14155550100" and sms.form["From"] == SHOP  # shipping phone, E.164 in the US
    assert sms.form["Body"] == f"Hi Ashley, order {order.number} is confirmed."
    assert sms.form["StatusCallback"].startswith(stack.container.settings.app_url + "/api/twilio/")
    assert "shipping address phone" in state["sms"]["reason"] and "1 SMS" in state["sms"]["reason"]
    [call] = twilio.creates("Calls")
    assert call.form["To"] == "+4930123456" and call.form["From"] == SHOP  # auto: the billing phone comes first
    say = ET.fromstring(call.form["Twiml"]).find("Say")
    assert say is not None and say.attrib == {"voice": "Polly.Marlene", "language": "de-DE"}
    prosody = say.find("prosody")
    assert prosody is not None and prosody.attrib == {"rate": "90%", "volume": "loud"}
    assert prosody.text == f"Hello Ashley, your order {order.number} awaits payment."
    rows = await messages(stack)
    assert [(r["channel"], r["state"], r["recipient"]) for r in rows] == [
        ("sms", "sent", "+14155550100"), ("call", "sent", "+4930123456")]


async def test_auto_takes_the_billing_phone_in_its_country(stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    await stack.rule(key="sms", stage="awaiting-payment", kind="sms", config={"text": "Danke!"})
    await stack.saleor.place_order(auto_confirm=True, phone="030 1234567", billing_address={"country": "DE"})
    await stack.settle()
    assert twilio.creates("Messages")[0].form["To"] == "+49301234567"


async def test_a_call_can_play_an_audio_file(stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    # Saved straight into the store: saving through the API checks the link on the internet (tested apart).
    spec = RuleSpec(key="jingle", name="jingle", stage="awaiting-payment", kind="call",
                    config={"mode": "audio", "audio_url": "https://cdn.example.com/thanks.mp3"})
    async with stack.container.automation.transaction() as tx:
        await tx.save_rule(stack.installation.id, spec, stack.clock.now())
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    root = ET.fromstring(twilio.creates("Calls")[0].form["Twiml"])
    assert root.findtext("Play") == "https://cdn.example.com/thanks.mp3" and root.find("Say") is None


async def test_an_audio_link_to_a_private_address_is_refused_on_save(stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    with pytest.raises(ConfigurationError, match="audio_url: Refused to connect to 127.0.0.1: it is a loopback"):
        await stack.rule(key="jingle", stage="awaiting-payment", kind="call",
                         config={"mode": "audio", "audio_url": "https://127.0.0.1/thanks.mp3"})


async def test_no_phone_and_invalid_phones_skip_with_the_reason(stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    await stack.rule(key="sms", stage="awaiting-payment", kind="sms", config={"text": "Hi"})
    await stack.saleor.place_order(auto_confirm=True, phone="", shipping_phone="")
    await stack.settle()
    job = (await jobs(stack))["sms"]
    assert job["state"] == "skipped"
    assert job["reason"] == ("skipped: no phone number of type billing address phone or shipping address phone or "
                             "customer's default billing address phone or customer's default shipping address phone")
    await stack.rule(key="meta", stage="paid", kind="sms", config={"text": "Hi", "phone_type": "metadata",
                                                                   "metadata_key": "sms"})
    order = await stack.saleor.place_order(auto_confirm=True, metadata={"sms": "12345"})
    await stack.saleor.charge(order, order.total)
    await stack.settle()
    assert (await jobs(stack))["meta"]["reason"] == "skipped: invalid phone number '12345' (metadata sms)"
    assert twilio.creates("Messages") == []


async def test_an_sms_rendering_over_200_characters_fails_and_sends_nothing(
        stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    await stack.rule(key="sms", stage="awaiting-payment", kind="sms",
                     config={"text": "Your note: {{ order.customer_note }}"})
    await stack.saleor.place_order(auto_confirm=True, customer_note="x" * 195)
    await stack.settle()
    job = (await jobs(stack))["sms"]
    assert job["state"] == "failed"
    assert "the SMS rendered 206 characters for this order, over the limit of 200" in job["reason"]
    assert twilio.creates("Messages") == []


async def test_stop_suppresses_the_next_send_and_start_lifts_it(stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    await stack.rule(key="sms", stage="awaiting-payment", kind="sms", config={"text": "Hi"})
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    assert await twilio.text_in(CUSTOMER, SHOP, "STOP") == 200
    suppressed = await stack.container.telephony.store.suppressed(stack.installation.id, SuppressionChannel.PHONE,
                                                                  CUSTOMER)
    assert suppressed is not None and suppressed.source == "opt_out"
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    states = [job["reason"] for job in await stack.jobs()]
    assert states[1] == f"skipped: recipient opted out: {CUSTOMER} (replied STOP)"
    assert len(twilio.creates("Messages")) == 1
    assert await twilio.text_in(CUSTOMER, SHOP, "start") == 200
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    assert len(twilio.creates("Messages")) == 2


async def test_twilios_21610_suppresses_the_number_and_skips(stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    twilio.account.unsubscribed.add(CUSTOMER)  # the customer texted STOP to the number before the app knew
    await stack.rule(key="sms", stage="awaiting-payment", kind="sms", config={"text": "Hi"})
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    job = (await jobs(stack))["sms"]
    assert job["state"] == "skipped" and "recipient opted out" in job["reason"] and "21610" in job["reason"]
    assert await stack.container.telephony.store.suppressed(stack.installation.id, SuppressionChannel.PHONE,
                                                            CUSTOMER) is not None


async def test_a_reply_moves_the_order_by_its_trigger(stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    installation = stack.installation.id
    await stack.container.configure.add_custom_stage(installation, "confirmed-by-sms", "Confirmed by SMS",
                                                     ["UNFULFILLED"])
    await stack.container.configure.save_trigger(installation, TriggerSpec(
        key="said-yes", stage="confirmed-by-sms", event="sms_reply", params={"keyword": "YES"}))
    await stack.rule(key="ask", stage="awaiting-payment", kind="sms", config={"text": "Reply YES to confirm"})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    assert await twilio.text_in(CUSTOMER, SHOP, "maybe later") == 200
    await stack.settle()
    assert await stack.order_stage(order.id) == "awaiting-payment"
    assert await twilio.text_in(CUSTOMER, SHOP, "Yes, please!") == 200
    await stack.settle()
    assert await stack.order_stage(order.id) == "confirmed-by-sms"
    log = await stack.activity()
    assert any("SMS reply from +12025550143: 'Yes, please!'" in line for line in log)
    assert any("trigger said-yes fired on sms_reply" in line for line in log)


async def test_delivery_and_call_callbacks_fire_their_triggers(stack: EngineStack, twilio: FakeTwilio) -> None:
    view = await connect(stack, twilio)
    installation = stack.installation.id
    for key in ("delivered", "no-answer"):
        await stack.container.configure.add_custom_stage(installation, key, key, ["UNFULFILLED"])
    await stack.container.configure.save_trigger(installation, TriggerSpec(key="got-it", stage="delivered",
                                                                           event="sms_delivered"))
    await stack.container.configure.save_trigger(installation, TriggerSpec(key="missed", stage="no-answer",
                                                                           event="call_not_answered",
                                                                           allow_back=True))
    await stack.rule(key="sms", stage="awaiting-payment", kind="sms", config={"text": "Hi"})
    await stack.rule(key="call", stage="awaiting-payment", kind="call", config={"text": "Hi", "voice": "man"},
                     after_previous=True)
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    assert await twilio.report_message(twilio.account.messages[0].sid, "delivered") == 200
    await stack.settle()
    assert await stack.order_stage(order.id) == "delivered"
    assert await twilio.report_call(twilio.account.calls[0].sid, "no-answer") == 200
    await stack.settle()
    assert await stack.order_stage(order.id) == "no-answer"
    assert [r["state"] for r in await messages(stack)] == [MessageState.DELIVERED.value, MessageState.FAILED.value]
    account = await stack.container.telephony.store.account_by_id(view.account.id)
    assert account is not None and account.last_event_at is not None  # "last callback received"


async def test_forged_callbacks_are_refused_and_change_nothing(stack: EngineStack, twilio: FakeTwilio) -> None:
    view = await connect(stack, twilio)
    url = f"{stack.container.settings.app_url}/api/twilio/{view.account.id}/inbound"
    params = {"From": CUSTOMER, "To": SHOP, "Body": "STOP", "AccountSid": twilio.account.sid}
    assert await twilio.post_signed(url, params, twilio.account, signature=twilio_signature("guess", url, params)) \
        == 403
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        assert (await client.post(url, data=params)).status_code == 403  # unsigned
    # signed for another URL (a replay against this one)
    other = url.replace("/inbound", "/sms-status")
    assert await twilio.post_signed(url, params, twilio.account,
                                    signature=twilio_signature(twilio.account.auth_token, other, params)) == 403
    assert await stack.container.telephony.store.suppressions(stack.installation.id) == []
    assert await twilio.post_signed(url, params, twilio.account) == 200  # the genuine one is accepted


async def test_quiet_hours_defer_the_sms_to_the_end_of_the_window(stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    zone = ZoneInfo("Europe/Berlin")
    local_now = stack.clock.now().astimezone(zone).replace(second=0, microsecond=0)
    window_end = local_now + timedelta(hours=2)
    await stack.container.configure.set_schedule(stack.installation.id, time_zone="Europe/Berlin",
                                                  quiet_start=(local_now - timedelta(hours=1)).time(),
                                                  quiet_end=window_end.time())
    await stack.rule(key="sms", stage="awaiting-payment", kind="sms", config={"text": "Good morning"})
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    job = (await jobs(stack))["sms"]
    assert job["state"] == "scheduled" and "deferred to the end of quiet hours" in job["reason"]
    assert job["due_at"].replace(tzinfo=UTC) == window_end.astimezone(UTC)
    assert twilio.creates("Messages") == []
    await stack.advance(window_end.astimezone(UTC) - stack.clock.now())
    assert [r.form["Body"] for r in twilio.creates("Messages")] == ["Good morning"]


async def test_a_timeout_after_sending_is_unknown_and_reconciled_from_twilios_list(
        stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    await stack.rule(key="sms", stage="awaiting-payment", kind="sms", config={"text": "Hi there"})
    await stack.rule(key="note", stage="awaiting-payment", kind="add_note", config={"message": "texted"},
                     after_previous=True)
    twilio.drop_next_responses()
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    state = await jobs(stack)
    assert state["sms"]["state"] == "unknown" and "may have been sent" in state["sms"]["reason"]
    assert state["note"]["state"] == "waiting" and len(twilio.account.messages) == 1
    assert await stack.container.telephony.reconcile.run_once() == 0  # too early: Twilio's list may lag
    stack.clock.advance(timedelta(minutes=3))
    assert await stack.container.telephony.reconcile.run_once() == 1
    await stack.settle()
    state = await jobs(stack)
    assert state["sms"]["state"] == "succeeded" and "reconciled" in state["sms"]["reason"]
    assert state["note"]["state"] == "succeeded" and stack.notes() == ["texted"]
    [row] = await messages(stack)
    assert row["state"] == "sent" and row["provider_message_id"] == twilio.account.messages[0].sid
    assert len(twilio.creates("Messages")) == 1  # never sent twice


async def test_an_unknown_send_twilio_never_had_is_sent_again(stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    await stack.rule(key="sms", stage="awaiting-payment", kind="sms", config={"text": "Hi there"})
    twilio.drop_next_responses()
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    twilio.account.messages.clear()  # Twilio lost it before it was stored
    stack.clock.advance(timedelta(minutes=3))
    assert await stack.container.telephony.reconcile.run_once() == 1
    await stack.settle()
    assert (await jobs(stack))["sms"]["state"] == "succeeded"
    assert len(twilio.creates("Messages")) == 2 and len(twilio.account.messages) == 1
    assert [r["state"] for r in await messages(stack)] == ["failed", "sent"]


async def two_orders_whose_sends_all_time_out(stack: EngineStack, twilio: FakeTwilio) -> None:
    """Two orders for the same phone, each with an SMS and a call of the same text; every create is acted on by
    Twilio but its answer is lost, so all four jobs are `unknown`."""
    await connect(stack, twilio)
    await stack.rule(key="sms", stage="awaiting-payment", kind="sms", config={"text": "Hi there"})
    await stack.rule(key="call", stage="awaiting-payment", kind="call", config={"text": "Hello", "voice": "man"})
    twilio.drop_next_responses(4)
    for _ in range(2):
        await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    assert [job["state"] for job in await stack.jobs()] == ["unknown"] * 4
    assert len(twilio.account.messages) == 2 and len(twilio.account.calls) == 2


def named_message(status_callback: str | None) -> int:
    """The message row a status callback URL names (the app puts it there on each create)."""
    assert status_callback is not None
    return int(parse_qs(urlsplit(status_callback).query)["message"][0])


async def test_status_callbacks_settle_exactly_the_send_their_url_names(
        stack: EngineStack, twilio: FakeTwilio) -> None:
    await two_orders_whose_sends_all_time_out(stack, twilio)
    del twilio.account.messages[1:], twilio.account.calls[1:]  # Twilio really created one SMS and one call
    sms, call = twilio.account.messages[0], twilio.account.calls[0]
    assert await twilio.report_message(sms.sid, "queued") == 200  # any report of it will do, the first one settles
    assert await twilio.report_call(call.sid, "completed") == 200
    rows = {row["id"]: row for row in await messages(stack)}
    credited = {row["id"]: row["provider_message_id"] for row in rows.values() if row["provider_message_id"]}
    assert credited == {named_message(sms.status_callback): sms.sid, named_message(call.status_callback): call.sid}
    settled = {rows[i]["job_id"] for i in credited}
    assert {job["id"]: job["state"] for job in await stack.jobs() if job["id"] in settled} == dict.fromkeys(
        settled, "succeeded")
    # The other two never reached Twilio: the lists show nothing unclaimed for them, so they are sent again.
    stack.clock.advance(timedelta(minutes=3))
    assert await stack.container.telephony.reconcile.run_once() == 2
    await stack.settle()
    assert [job["state"] for job in await stack.jobs()] == ["succeeded"] * 4
    assert len(twilio.creates("Messages")) == 3 and len(twilio.creates("Calls")) == 3
    sids = [row["provider_message_id"] for row in await messages(stack) if row["state"] != "failed"]
    assert len(sids) == 4 and len(set(sids)) == 4  # one Twilio record per send, never one for two


async def test_one_twilio_record_two_identical_unknown_sends_stay_unknown_as_ambiguous(
        stack: EngineStack, twilio: FakeTwilio) -> None:
    await two_orders_whose_sends_all_time_out(stack, twilio)
    del twilio.account.messages[1:], twilio.account.calls[1:]  # one of each was created; which send's, no one knows
    stack.clock.advance(timedelta(minutes=3))
    assert await stack.container.telephony.reconcile.run_once() == 0
    await stack.settle()
    for job in await stack.jobs():
        assert job["state"] == "unknown" and "ambiguous: 1 candidate for 2 identical sends" in job["reason"], job
    assert all(row["provider_message_id"] is None for row in await messages(stack))
    assert any("ambiguous: 1 candidate for 2 identical sends" in line for line in await stack.activity())
    assert len(twilio.creates("Messages")) == 2 and len(twilio.creates("Calls")) == 2  # nothing re-sent blindly


async def test_two_fitting_records_leave_the_send_ambiguous_until_callbacks_name_each(
        stack: EngineStack, twilio: FakeTwilio) -> None:
    await two_orders_whose_sends_all_time_out(stack, twilio)
    stack.clock.advance(timedelta(minutes=3))
    assert await stack.container.telephony.reconcile.run_once() == 0
    for job in await stack.jobs():
        assert job["state"] == "unknown" and "ambiguous: 2 candidates" in job["reason"], job
    for message in twilio.account.messages:
        assert await twilio.report_message(message.sid, "delivered") == 200
    for call in twilio.account.calls:
        assert await twilio.report_call(call.sid, "completed") == 200
    assert [job["state"] for job in await stack.jobs()] == ["succeeded"] * 4
    credited = {row["id"]: row["provider_message_id"] for row in await messages(stack)}
    assert credited == {named_message(m.status_callback): m.sid for m in twilio.account.messages} | {
        named_message(c.status_callback): c.sid for c in twilio.account.calls}


async def test_a_callback_naming_another_accounts_message_settles_nothing(
        stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    await stack.rule(key="sms", stage="awaiting-payment", kind="sms", config={"text": "Hi there"})
    twilio.drop_next_responses()
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    [row] = await messages(stack)
    stranger = FakeAccount()  # a second Twilio account connected to the app, its callback naming our row
    stranger.add_number("+15005550009")
    twilio.accounts.append(stranger)
    view = await stack.container.providers.connect(stack.installation.id, ProviderSpec(
        key="twilio-other", kind="twilio",
        credentials={"account_sid": stranger.sid, "auth_token": stranger.auth_token}))
    url = f"{stack.container.settings.app_url}/api/twilio/{view.account.id}/sms-status?message={row['id']}"
    params = {"AccountSid": stranger.sid, "MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered",
              "To": CUSTOMER, "From": "+15005550009"}
    assert await twilio.post_signed(url, params, stranger) == 200  # acknowledged, as Twilio needs
    assert (await jobs(stack))["sms"]["state"] == "unknown"
    [row] = await messages(stack)
    assert row["provider_message_id"] is None


async def test_a_call_is_matched_within_its_window_not_as_the_last_call_to_that_number(
        stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    await stack.rule(key="call", stage="awaiting-payment", kind="call", config={"text": "Hello", "voice": "man"})
    twilio.drop_next_responses()
    await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    assert (await jobs(stack))["call"]["state"] == "unknown"
    [lost] = twilio.account.calls
    twilio.account.calls.clear()  # Twilio lost it before it was stored
    # a call between the same numbers placed well after this send (from Twilio's console, say): not this send's
    later = FakeCall(twilio.account.sid, CUSTOMER, SHOP, lost.twiml, None, lost.created + timedelta(minutes=20),
                     None, [], status="completed")
    twilio.account.calls.append(later)
    stack.clock.advance(timedelta(minutes=3))
    assert await stack.container.telephony.reconcile.run_once() == 1
    await stack.settle()
    assert (await jobs(stack))["call"]["state"] == "succeeded"
    assert len(twilio.creates("Calls")) == 2  # called again: Twilio had no call in the send's window
    assert later.sid not in {row["provider_message_id"] for row in await messages(stack)}


async def test_a_send_cut_off_mid_request_is_settled_from_twilio_once_its_job_is_unknown(
        stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    await stack.rule(key="sms", stage="awaiting-payment", kind="sms", config={"text": "Hi there"})
    await stack.saleor.place_order(auto_confirm=True)
    await stack.container.order_events.run_once()  # the move claims the job (running, leased) in its transaction
    assert len(stack.container.order_events.take_ready()) == 1  # nobody runs it: this test sends in its place
    [job] = await stack.jobs()
    telephony = stack.container.telephony.service
    line = await telephony.line(stack.installation.id, Channel.SMS)
    twilio.answers.hold()  # Twilio acts on the create; the process dies before its answer comes
    send = asyncio.create_task(telephony.send_sms(stack.installation.id, line, CUSTOMER, "Hi there",
                                                  job=JobAttempt(job["id"], job["attempts"]),
                                                  order_row_id=job["order_row_id"]))
    await eventually(lambda: twilio.account.messages, what="Twilio has the message")
    send.cancel()
    with pytest.raises(asyncio.CancelledError):
        await send
    twilio.answers.release()
    [row] = await messages(stack)
    assert row["state"] == "sending" and row["provider_message_id"] is None
    stack.clock.advance(timedelta(minutes=6))
    assert await stack.container.recover_leases() == 1
    assert (await jobs(stack))["sms"]["state"] == "unknown"
    assert await stack.container.telephony.reconcile.run_once() == 1
    job = (await jobs(stack))["sms"]
    assert job["state"] == "succeeded" and "reconciled" in job["reason"], job
    [row] = await messages(stack)
    assert row["state"] == "sent" and row["provider_message_id"] == twilio.account.messages[0].sid
    assert len(twilio.creates("Messages")) == 1


async def test_a_test_sms_cut_off_mid_request_is_settled_from_twilio_like_an_unknown_one(
        stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    telephony = stack.container.telephony.service
    line = await telephony.line(stack.installation.id, Channel.SMS)
    twilio.answers.hold()  # Twilio acts on the create; the process dies before its answer comes
    send = asyncio.create_task(telephony.send_sms(stack.installation.id, line, CUSTOMER, "[Test] Hi", is_test=True))
    await eventually(lambda: twilio.account.messages, what="Twilio has the message")
    send.cancel()
    with pytest.raises(asyncio.CancelledError):
        await send
    twilio.answers.release()
    [row] = await messages(stack)
    assert row["state"] == "sending" and row["job_id"] is None  # no job: nothing ever marks it unknown
    stack.clock.advance(timedelta(minutes=3))
    assert await stack.container.telephony.reconcile.run_once() == 1
    [row] = await messages(stack)
    assert row["state"] == "sent" and row["provider_message_id"] == twilio.account.messages[0].sid


async def test_send_a_test_to_me(stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    await stack.rule(key="sms", stage="awaiting-payment", kind="sms", config={"text": "Order {{ order.number }}"})
    await stack.rule(key="call", stage="paid", kind="call", config={"text": "Paid, thanks"})
    order = await stack.saleor.place_order(auto_confirm=False)
    await stack.settle()
    base = stack.container.settings.app_url
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        for key in ("sms", "call"):
            response = await client.post(f"{base}/api/v1/rules/{key}/test-phone", headers=stack.dashboard_headers(),
                                         json={"phone": "+14155550199", "order": str(order.number)})
            assert response.status_code == 200, response.text
        refused = await client.post(f"{base}/api/v1/rules/sms/test-phone", headers=stack.dashboard_headers(),
                                    json={"phone": "call me", "order": str(order.number)})
        assert refused.status_code == 422 and "international format" in refused.text
        counted = await client.post(f"{base}/api/v1/sms/preview", headers=stack.dashboard_headers(),
                                    json={"text": "Привет {{ customer.first_name }}"})
    assert counted.json()["encoding"] == "UCS-2" and counted.json()["characters"] == 13
    assert twilio.creates("Messages")[0].form == {**twilio.creates("Messages")[0].form, "To": "+14155550199",
                                                   "Body": f"[Test] Order {order.number}"}
    assert twilio.creates("Calls")[0].form["To"] == "+14155550199"
    assert await stack.jobs() == []  # tests are never the rules' jobs
    assert all(r["is_test"] for r in await messages(stack))


async def test_sms_and_call_rules_as_code(stack: EngineStack, twilio: FakeTwilio) -> None:
    exported = dump_config(await stack.container.configure.export_config(stack.installation.id))
    rule = ("    rules:\n      - key: texted\n        name: Payment reminder by SMS\n        kind: sms\n"
            "        phone_type: billing\n        text: 'Order {{ order.number }}: please pay'\n")
    text = exported.replace("      refund: none\n  - key: paid", "      refund: none\n" + rule + "  - key: paid", 1)
    assert text != exported
    parsed = parse_config(text)
    with pytest.raises(ConfigFileError) as refused:
        await stack.container.configure.apply_config(stack.installation.id, parsed.document, locate=parsed.locate)
    assert "rules[0].provider: an SMS rule cannot be enabled without a connected SMS provider" in str(refused.value)
    await connect(stack, twilio)
    report = await stack.container.configure.apply_config(stack.installation.id, parsed.document)
    assert report.rules.added == ["texted"]
    again = dump_config(await stack.container.configure.export_config(stack.installation.id))
    assert "kind: sms" in again and "phone_type: billing" in again


async def test_dry_run_shows_the_text_its_count_and_the_call_script(stack: EngineStack, twilio: FakeTwilio) -> None:
    await connect(stack, twilio)
    await stack.rule(key="sms", stage="paid", kind="sms", config={"text": "Danke {{ customer.first_name }} ✓"})
    await stack.rule(key="call", stage="paid", kind="call", config={"text": "Danke", "voice": "alice"})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        response = await client.get(f"{stack.container.settings.app_url}/api/v1/orders/{order.id}/dry-run",
                                    params={"stage": "paid"}, headers=stack.dashboard_headers())
    assert response.status_code == 200, response.text
    said = " ".join(str(rule) for rule in response.json()["rules"])
    assert f"would text {CUSTOMER} (billing address phone): 'Danke Ashley ✓' — 14/200 characters, UCS-2, 1 SMS" in said
    assert "would call +12025550143" in said and '<Say voice="alice" language="en-US">Danke</Say>' in said
    assert twilio.creates("Messages") == [] and twilio.creates("Calls") == []


async def test_a_retried_reply_fires_once_and_unknown_reports_are_acknowledged(
        stack: EngineStack, twilio: FakeTwilio) -> None:
    view = await connect(stack, twilio)
    installation = stack.installation.id
    await stack.container.configure.add_custom_stage(installation, "replied", "Replied", ["UNFULFILLED"])
    await stack.container.configure.save_trigger(installation, TriggerSpec(key="r1", stage="replied",
                                                                           event="sms_reply"))
    await stack.rule(key="ask", stage="awaiting-payment", kind="sms", config={"text": "Questions?"})
    order = await stack.saleor.place_order(auto_confirm=True)
    await stack.settle()
    base = f"{stack.container.settings.app_url}/api/twilio/{view.account.id}"
    reply = {"AccountSid": twilio.account.sid, "MessageSid": "SM" + "e" * 32, "From": CUSTOMER, "To": SHOP,
             "Body": "When does it ship?"}
    for _ in range(2):  # Twilio retried: the same message twice
        assert await twilio.post_signed(f"{base}/inbound", reply, twilio.account) == 200
        await stack.settle()
    assert await stack.order_stage(order.id) == "replied"
    inbox = await stack.rows(WebhookInboxRow.__table__)  # type: ignore[attr-defined]
    assert [row["event"] for row in inbox if row["event"].startswith("sms_reply")] == ["sms_reply:WHEN"]
    assert len([line for line in await stack.activity() if "SMS reply from" in line]) == 2  # both logged
    report = {"AccountSid": twilio.account.sid, "MessageSid": "SM" + "f" * 32, "MessageStatus": "delivered"}
    assert await twilio.post_signed(f"{base}/sms-status", report, twilio.account) == 200  # not ours: acknowledged
    await stack.settle()
    assert await stack.order_stage(order.id) == "replied"


TWILIO_PROVIDER = ("providers:\n- key: twilio-main\n  kind: twilio\n  credentials:\n"
                   "    account_sid: ${SHOP_TWILIO_SID}\n    auth_token: ${SHOP_TWILIO_TOKEN}\n")


async def pipeline_file(stack: EngineStack, path: Path) -> Path:
    """A file that brings its own Twilio account and enabled SMS and call rules on that account."""
    exported = dump_config(await stack.container.configure.export_config(stack.installation.id))
    rules = ("    rules:\n      - key: texted\n        name: Payment reminder by SMS\n        kind: sms\n"
             "        provider: twilio-main\n        text: 'Order {{ order.number }}: please pay'\n"
             "      - key: called\n        name: Payment reminder by phone\n        kind: call\n"
             "        text: Please pay your order\n")
    text = exported.replace("      refund: none\n  - key: paid", "      refund: none\n" + rules + "  - key: paid", 1)
    assert text != exported
    path.write_text(text + TWILIO_PROVIDER)
    return path


async def rule_keys(stack: EngineStack) -> set[str]:
    async with stack.container.automation.reading() as tx:
        return {rule.key for rule in await tx.all_rules(stack.installation.id)}


def twilio_env(twilio: FakeTwilio, token: str | None = None) -> dict[str, str]:
    return {"SHOP_TWILIO_SID": twilio.account.sid, "SHOP_TWILIO_TOKEN": token or twilio.account.auth_token}


@pytest.mark.usefixtures("restore_logging")
async def test_a_file_that_brings_its_own_twilio_account_imports_in_one_go(
        stack: EngineStack, twilio: FakeTwilio, tmp_path: Path) -> None:
    file = await pipeline_file(stack, tmp_path / "automation.yaml")
    applied = await config_import(stack, file, **twilio_env(twilio))
    assert applied.exit_code == 0, applied.output
    assert "rules added: texted, called" in applied.stdout
    assert "provider twilio-main: added, connected" in applied.stdout
    [view] = await stack.container.providers.list(stack.installation.id)
    assert view.account.status is ProviderStatus.CONNECTED
    assert twilio.account.numbers[0].sms_url.endswith("/inbound")  # its hook registered after the commit
    assert {"texted", "called"} <= await rule_keys(stack)


@pytest.mark.usefixtures("restore_logging")
async def test_a_provider_whose_check_fails_leaves_everything_as_it_was(
        stack: EngineStack, twilio: FakeTwilio, tmp_path: Path) -> None:
    file = await pipeline_file(stack, tmp_path / "automation.yaml")
    before = dump_config(await stack.container.configure.export_config(stack.installation.id))
    line = file.read_text().splitlines().index("- key: twilio-main") + 1
    refused = await config_import(stack, file, **twilio_env(twilio, token="wrong"))
    assert refused.exit_code == 1, refused.output
    assert f"line {line}, column 3: providers[0]: provider 'twilio-main': " in refused.stderr
    assert "20003" in refused.stderr  # Twilio's own message
    assert await stack.container.providers.list(stack.installation.id) == []
    assert dump_config(await stack.container.configure.export_config(stack.installation.id)) == before
    assert twilio.account.numbers[0].sms_url == ""  # nothing registered at Twilio either


@pytest.mark.usefixtures("restore_logging")
async def test_a_dry_run_calls_providers_only_when_asked(
        stack: EngineStack, twilio: FakeTwilio, tmp_path: Path) -> None:
    file = await pipeline_file(stack, tmp_path / "automation.yaml")
    dry = await config_import(stack, file, "--dry-run", **twilio_env(twilio, token="wrong"))
    assert dry.exit_code == 0, dry.output
    assert "provider twilio-main: would be added and checked" in dry.stdout
    assert twilio.requests == []
    checked = await config_import(stack, file, "--dry-run", "--check-providers", **twilio_env(twilio, token="wrong"))
    assert checked.exit_code == 1 and "provider 'twilio-main': " in checked.stderr, checked.output
    good = await config_import(stack, file, "--dry-run", "--check-providers", **twilio_env(twilio))
    assert good.exit_code == 0, good.output
    assert await stack.container.providers.list(stack.installation.id) == []
    assert twilio.account.numbers[0].sms_url == ""


@pytest.mark.usefixtures("restore_logging")
async def test_a_hook_that_cannot_be_registered_is_reported_and_retried_never_rolled_back(
        stack: EngineStack, twilio: FakeTwilio, tmp_path: Path) -> None:
    file = await pipeline_file(stack, tmp_path / "automation.yaml")
    twilio.fail_number_updates(TwilioError(503, 20500, "Internal Server Error"))  # its one number, once
    applied = await config_import(stack, file, **twilio_env(twilio))
    assert applied.exit_code == 0, applied.output
    assert "provider twilio-main: added, connected" in applied.stdout
    assert "its events could not be set up to reach the app yet" in applied.stdout
    assert {"texted", "called"} <= await rule_keys(stack)
    assert twilio.account.numbers[0].sms_url == ""
    assert await stack.container.providers.retry_registrations() == 1
    [view] = await stack.container.providers.list(stack.installation.id)
    assert view.account.status is ProviderStatus.CONNECTED and twilio.account.numbers[0].sms_url.endswith("/inbound")
    assert await stack.container.providers.retry_registrations() == 0
