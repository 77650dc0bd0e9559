"""The real `twilio` library (through TwilioApi) against the local fake of Twilio's REST API: what is sent, what
comes back, and how every kind of failure is sorted (retry, refused with Twilio's code, unknown)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from saleor_app.domain.errors import OutcomeUnknown, RetryableError
from saleor_app.domain.telephony import (
    CredentialsRefused,
    ProviderRefused,
    Receipt,
    RecipientOptedOut,
    Sender,
    TelephonyCredentials,
)
from saleor_app.providers.twilio_api import TwilioApi
from saleor_app.providers.twilio_http import RewritingHttpClient
from saleor_app.providers.twilio_signature import valid_signature
from tests.fakes.twilio import FakeTwilio, twilio_signature
from tests.fakes.twilio_model import INTERNAL_ERROR, TOO_MANY_REQUESTS, TwilioError
from tests.timing import scaled

SHOP = "+15005550006"
CUSTOMER = "+14155550100"
CALLBACK = "https://app.example.com/api/twilio/1/sms-status"


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as fake:
        fake.account.add_number(SHOP, "Shop line")
        yield fake


@pytest.fixture
def api(twilio: FakeTwilio) -> Iterator[TwilioApi]:
    client = TwilioApi(twilio.base_url, read_timeout=scaled(10))
    yield client
    client.close()


def creds(twilio: FakeTwilio) -> TelephonyCredentials:
    return TelephonyCredentials(twilio.account.sid, twilio.account.auth_token)


async def send(api: TwilioApi, twilio: FakeTwilio, to: str = CUSTOMER, body: str = "Your order shipped") -> Receipt:
    return await api.send_sms(creds(twilio), to=to, body=body, sender=Sender(phone_number=SHOP),
                              status_callback=CALLBACK)


async def test_send_sms_posts_a_form_with_basic_auth(api: TwilioApi, twilio: FakeTwilio) -> None:
    receipt = await send(api, twilio)
    [request] = twilio.creates("Messages")
    assert request.path == f"/2010-04-01/Accounts/{twilio.account.sid}/Messages.json"
    assert request.form == {"To": CUSTOMER, "From": SHOP, "Body": "Your order shipped", "StatusCallback": CALLBACK}
    assert request.user == twilio.account.sid
    assert receipt.provider_id.startswith("SM") and receipt.status == "queued" and receipt.sender == SHOP


async def test_api_keys_authenticate_too(api: TwilioApi, twilio: FakeTwilio) -> None:
    twilio.account.api_keys["SK" + "1" * 32] = "key-secret"
    info = await api.fetch_account(TelephonyCredentials(twilio.account.sid, "key-secret", "SK" + "1" * 32))
    assert info.sid == twilio.account.sid and info.status == "active" and info.type == "Full"


async def test_messaging_service_sends_with_its_sid(api: TwilioApi, twilio: FakeTwilio) -> None:
    service = twilio.account.add_service("Notifications", [SHOP])
    receipt = await api.send_sms(creds(twilio), to=CUSTOMER, body="hi", status_callback=CALLBACK,
                                 sender=Sender(messaging_service_sid=service.sid))
    assert twilio.creates("Messages")[0].form["MessagingServiceSid"] == service.sid
    assert receipt.status == "accepted"
    assert [s.sid for s in await api.list_messaging_services(creds(twilio))] == [service.sid]


async def test_numbers_are_listed_and_their_sms_url_set(api: TwilioApi, twilio: FakeTwilio) -> None:
    [number] = await api.list_numbers(creds(twilio))
    assert (number.phone_number, number.sms, number.voice, number.sms_url) == (SHOP, True, True, "")
    await api.set_sms_url(creds(twilio), number.sid, "https://app.example.com/api/twilio/1/inbound")
    assert twilio.account.numbers[0].sms_url == "https://app.example.com/api/twilio/1/inbound"


async def test_calls_carry_inline_twiml_and_a_status_callback(api: TwilioApi, twilio: FakeTwilio) -> None:
    twiml = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hi</Say></Response>'
    receipt = await api.place_call(creds(twilio), to=CUSTOMER, from_=SHOP, twiml=twiml, status_callback=CALLBACK)
    [request] = twilio.creates("Calls")
    assert request.form["Twiml"] == twiml and request.form["StatusCallback"] == CALLBACK
    assert request.form_lists["StatusCallbackEvent"] == ["completed"]
    assert receipt.provider_id.startswith("CA")


@pytest.mark.parametrize("error", [TOO_MANY_REQUESTS, INTERNAL_ERROR, TwilioError(503, 20503, "unavailable")])
async def test_429_and_5xx_are_retried(api: TwilioApi, twilio: FakeTwilio, error: TwilioError) -> None:
    twilio.fail_next(error)
    with pytest.raises(RetryableError, match=f"Twilio is busy or failing \\({error.status}"):
        await send(api, twilio)
    assert twilio.account.messages == []


async def test_an_invalid_number_is_refused_with_twilios_code(api: TwilioApi, twilio: FakeTwilio) -> None:
    with pytest.raises(ProviderRefused, match=r"Twilio refused it \(21211\): Invalid 'To' Phone Number: \+1555") as info:
        await send(api, twilio, to="+1555")
    assert info.value.code == 21211


async def test_an_unsubscribed_number_is_refused_as_opted_out(api: TwilioApi, twilio: FakeTwilio) -> None:
    twilio.account.unsubscribed.add(CUSTOMER)
    with pytest.raises(RecipientOptedOut, match="21610"):
        await send(api, twilio)


async def test_wrong_credentials_say_so(api: TwilioApi, twilio: FakeTwilio) -> None:
    with pytest.raises(CredentialsRefused, match="20003.*connect the account again"):
        await api.fetch_account(TelephonyCredentials(twilio.account.sid, "wrong"))


async def test_nothing_listening_is_retried_because_nothing_was_sent() -> None:
    api = TwilioApi("http://127.0.0.1:9", read_timeout=scaled(10))
    try:
        with pytest.raises(RetryableError, match="could not be reached"):
            await api.send_sms(TelephonyCredentials("AC" + "0" * 32, "t"), to=CUSTOMER, body="x",
                               sender=Sender(phone_number=SHOP), status_callback=CALLBACK)
    finally:
        api.close()


async def test_a_dropped_answer_after_sending_is_unknown(api: TwilioApi, twilio: FakeTwilio) -> None:
    twilio.drop_next_responses()
    with pytest.raises(OutcomeUnknown, match="may have been sent"):
        await send(api, twilio)
    assert len(twilio.account.messages) == 1  # Twilio had it


async def test_a_slow_answer_after_sending_is_unknown(twilio: FakeTwilio) -> None:
    api = TwilioApi(twilio.base_url, read_timeout=0.2)
    twilio.answers.hold()
    try:
        with pytest.raises(OutcomeUnknown, match="ReadTimeout"):
            await send(api, twilio)
        assert len(twilio.account.messages) == 1  # Twilio had it
    finally:
        api.close()


async def test_a_slow_lookup_is_retried_not_unknown(twilio: FakeTwilio) -> None:
    api = TwilioApi(twilio.base_url, read_timeout=0.2)
    twilio.answers.hold()
    try:
        with pytest.raises(RetryableError):
            await api.fetch_account(creds(twilio))
    finally:
        api.close()


async def test_find_messages_filters_by_recipient_sender_and_day(api: TwilioApi, twilio: FakeTwilio) -> None:
    first = await send(api, twilio, body="one")
    await send(api, twilio, to="+14155550101", body="other customer")
    found = await api.find_messages(creds(twilio), to=CUSTOMER, sender=SHOP,
                                    since=datetime.now(UTC) - timedelta(minutes=5))
    assert [(m.provider_id, m.body) for m in found] == [(first.provider_id, "one")]
    listed = [r for r in twilio.requests if r.method == "GET" and r.path.endswith("/Messages.json")]
    assert listed[-1].query["To"] == CUSTOMER and listed[-1].query["From"] == SHOP
    assert listed[-1].query["DateSent>"].startswith(datetime.now(UTC).date().isoformat())  # Twilio filters by day


def test_signatures_made_like_twilio_verify_and_forgeries_do_not() -> None:
    url, params = "https://app.example.com/api/twilio/3/inbound?x=1", {"Body": "STOP", "From": CUSTOMER}
    signature = twilio_signature("token", url, params)
    assert valid_signature("token", url, params, signature)
    assert not valid_signature("other-token", url, params, signature)
    assert not valid_signature("token", url, {**params, "Body": "START"}, signature)
    assert not valid_signature("token", url, params, None)
    assert not valid_signature("token", url, params, base64.b64encode(b"x" * 20).decode())


def test_the_base_url_replaces_every_twilio_host_and_nothing_else() -> None:
    client = RewritingHttpClient("http://127.0.0.1:8123/sandbox/", connect_timeout=1, read_timeout=1)
    try:
        assert client.rewrite("https://api.twilio.com/2010-04-01/Accounts/AC1.json?PageSize=50") == \
            "http://127.0.0.1:8123/sandbox/2010-04-01/Accounts/AC1.json?PageSize=50"
        assert client.rewrite("https://messaging.twilio.com/v1/Services") == "http://127.0.0.1:8123/sandbox/v1/Services"
        with pytest.raises(ValueError, match="refusing to send Twilio credentials to evil.example"):
            client.rewrite("https://evil.example/2010-04-01/Accounts.json")
    finally:
        client.close()
    unchanged = RewritingHttpClient(None, connect_timeout=1, read_timeout=1)
    assert unchanged.rewrite("https://api.twilio.com/x") == "https://api.twilio.com/x"
    unchanged.close()
