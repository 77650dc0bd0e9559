"""Phone types, the SMS length rule and segment counts, call voices and TwiML, consent keywords, status callback
URLs (pure)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from pydantic import ValidationError

from saleor_app.domain.consent import Consent, consent_of, keyword_of
from saleor_app.domain.errors import PermanentError, SkipJob
from saleor_app.domain.kinds import kind, validate_config
from saleor_app.domain.phones import PhoneType, normalise, pick_phone
from saleor_app.domain.sms import MAX_SMS_CHARS, SmsConfig, checked_length, count, fixed_text
from saleor_app.domain.telephony import TelephonyUrls, message_of
from saleor_app.domain.templates import sample_order
from saleor_app.domain.voice import CallConfig, play_twiml, say_twiml, supports_prosody


def address(phone: str, country: str = "US") -> dict[str, Any]:
    return {"phone": phone, "country": {"code": country, "country": country}}


def order(billing: str = "", shipping: str = "", customer_billing: str = "", customer_shipping: str = "",
          country: str = "US", metadata: dict[str, str] | None = None) -> dict[str, Any]:
    return {"billingAddress": address(billing, country), "shippingAddress": address(shipping, country),
            "user": {"defaultBillingAddress": address(customer_billing, country),
                     "defaultShippingAddress": address(customer_shipping, country)},
            "metadata": [{"key": k, "value": v} for k, v in (metadata or {}).items()], "privateMetadata": []}


def test_auto_takes_the_first_present_type_and_empty_strings_count_as_missing() -> None:
    snapshot = order(billing="", shipping="", customer_billing="(202) 555-0143", customer_shipping="+14155550100")
    chosen = pick_phone(snapshot, PhoneType.AUTO)
    assert (chosen.number, chosen.source) == ("+12025550143", PhoneType.CUSTOMER_BILLING)
    assert pick_phone(order(billing="+4930123456", shipping="+14155550100"), PhoneType.AUTO).number == "+4930123456"


@pytest.mark.parametrize(("kind", "expected"), [
    (PhoneType.BILLING, "+12025550143"), (PhoneType.SHIPPING, "+14155550100"),
    (PhoneType.CUSTOMER_BILLING, "+12025550199"), (PhoneType.CUSTOMER_SHIPPING, "+14155550111"),
])
def test_each_type_reads_its_own_address(kind: PhoneType, expected: str) -> None:
    snapshot = order("+12025550143", "+14155550100", "+12025550199", "+14155550111")
    assert pick_phone(snapshot, kind).number == expected


def test_national_numbers_are_read_in_the_address_country() -> None:
    assert pick_phone(order(billing="030 1234567", country="DE"), PhoneType.BILLING).number == "+49301234567"
    assert pick_phone(order(billing="020 7946 0958", country="GB"), PhoneType.AUTO).number == "+442079460958"


def test_metadata_type_reads_the_key() -> None:
    snapshot = order(country="DE", metadata={"sms_phone": "0151 23456789"})
    assert pick_phone(snapshot, PhoneType.METADATA, "sms_phone").number == "+4915123456789"


def test_no_number_skips_with_the_types_looked_at() -> None:
    with pytest.raises(SkipJob, match="no phone number of type billing address phone or shipping address phone"):
        pick_phone(order(), PhoneType.AUTO)
    with pytest.raises(SkipJob, match="no phone number of type metadata sms_phone"):
        pick_phone(order(billing="+12025550143"), PhoneType.METADATA, "sms_phone")


def test_an_invalid_number_skips_naming_it() -> None:
    with pytest.raises(SkipJob, match="invalid phone number '12345' \\(billing address phone\\)"):
        pick_phone(order(billing="12345"), PhoneType.BILLING)
    assert normalise("12345", "US") is None


def test_sms_counts_code_points_and_segments() -> None:
    assert count("Hello").encoding == "GSM-7" and count("Hello").segments == 1
    assert count("a" * 160).segments == 1 and count("a" * 161).segments == 2
    assert count("[" * 80).segments == 1 and count("[" * 81).segments == 2  # extension characters take two
    assert count("Привет").encoding == "UCS-2"
    assert count("я" * 70).segments == 1 and count("я" * 71).segments == 2
    assert count("😀" * 35).characters == 35 and count("😀" * 36).segments == 2  # two UTF-16 units each


def test_fixed_text_over_200_is_refused_on_save_but_variables_do_not_count() -> None:
    with pytest.raises(ValidationError, match="201 characters without its variables"):
        SmsConfig(text="x" * 201)
    config = SmsConfig(text="x" * 190 + " {{ customer.first_name }} {% if order.number %}#{% endif %}")
    assert len(fixed_text(config.text)) == 193


def test_a_render_over_200_fails_and_is_never_truncated() -> None:
    assert checked_length("y" * MAX_SMS_CHARS) == "y" * MAX_SMS_CHARS
    with pytest.raises(PermanentError, match="rendered 201 characters for this order, over the limit of 200"):
        checked_length("y" * 201)


def test_sms_config_refuses_unknown_variables_and_bad_senders() -> None:
    with pytest.raises(ValidationError, match="Unknown variable"):
        SmsConfig(text="Hi {{ customer.nick }}")
    with pytest.raises(ValidationError, match="is not a sender"):
        SmsConfig(text="Hi", sender="12345")
    assert SmsConfig(text="Hi", sender="MG" + "a" * 32).sender.startswith("MG")


def test_sms_and_call_are_registered_as_realtime_customer_facing_kinds() -> None:
    assert kind("sms").realtime_customer_facing and kind("call").realtime_customer_facing
    assert not kind("sms").idempotent and not kind("call").idempotent
    assert isinstance(validate_config("call", {"text": "Hello"}), CallConfig)


def test_say_twiml_carries_voice_language_rate_and_volume_and_escapes_the_text() -> None:
    config = CallConfig(text="x", voice="Polly.Marlene", language="de-DE", speed=85, volume="loud")
    twiml = say_twiml("Hallo <Ana> & co", config)
    say = ET.fromstring(twiml).find("Say")
    assert say is not None and say.attrib == {"voice": "Polly.Marlene", "language": "de-DE"}
    prosody = say.find("prosody")
    assert prosody is not None and prosody.attrib == {"rate": "85%", "volume": "loud"}
    assert prosody.text == "Hallo <Ana> & co" and "&lt;Ana&gt;" in twiml


def test_normal_speed_and_volume_need_no_ssml() -> None:
    twiml = say_twiml("Hello", CallConfig(text="x", voice="man"))
    assert "prosody" not in twiml and "<Say voice=\"man\" language=\"en-US\">Hello</Say>" in twiml


@pytest.mark.parametrize("voice", ["man", "woman", "alice", "Polly.Ruth-Generative", "Google.en-US-Chirp3-HD-Aoede"])
def test_speed_or_volume_with_a_voice_without_ssml_is_refused(voice: str) -> None:
    assert not supports_prosody(voice)
    with pytest.raises(ValidationError, match=f"voice {voice} cannot change volume"):
        CallConfig(text="Hello", voice=voice, volume="x-loud")


def test_voice_and_language_are_checked() -> None:
    with pytest.raises(ValidationError, match="is not a Twilio voice"):
        CallConfig(text="x", voice="robot")
    with pytest.raises(ValidationError, match="is not a language code"):
        CallConfig(text="x", language="english")
    assert supports_prosody("Google.en-US-Neural2-F") and supports_prosody("Polly.Joanna-Neural")


@pytest.mark.parametrize(("url", "problem"), [
    ("http://cdn.example.com/a.mp3", "https"), ("https://cdn.example.com/a.wav", ".mp3"),
    ("https://u:p@cdn.example.com/a.mp3", "user name"),
])
def test_audio_links_must_be_https_mp3(url: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        CallConfig(mode="audio", audio_url=url)


def test_play_twiml() -> None:
    config = CallConfig(mode="audio", audio_url="https://cdn.example.com/hello.mp3?v=1&x=2")
    assert config.audio_url is not None
    root = ET.fromstring(play_twiml(config.audio_url))
    assert root.findtext("Play") == "https://cdn.example.com/hello.mp3?v=1&x=2"


def test_a_script_over_twilios_limit_fails() -> None:
    with pytest.raises(PermanentError, match="over Twilio's limit of 4000"):
        say_twiml("a" * 4000, CallConfig(text="x"))


@pytest.mark.parametrize(("text", "consent"), [
    ("STOP", Consent.OPT_OUT), (" unsubscribe ", Consent.OPT_OUT), ("Stop all", Consent.OPT_OUT),
    ("start", Consent.OPT_IN), ("YES", Consent.OPT_IN), ("help", Consent.HELP),
    ("stop by tomorrow please", Consent.NONE), ("Yes, ship it", Consent.NONE),
])
def test_consent_keywords_are_whole_messages(text: str, consent: Consent) -> None:
    assert consent_of(text) is consent


def test_keyword_of_a_reply() -> None:
    assert keyword_of("yes, please!") == "YES" and keyword_of("  ") == ""


def test_the_sample_order_has_a_phone() -> None:
    assert pick_phone(sample_order(), PhoneType.AUTO).number == "+12025550143"


def test_a_status_callback_url_names_its_message_and_only_a_plain_id_is_read_back() -> None:
    urls = TelephonyUrls("https://app.example")
    assert urls.sms_status(3, 42) == "https://app.example/api/twilio/3/sms-status?message=42"
    assert urls.call_status(3) == "https://app.example/api/twilio/3/call-status"
    assert message_of("42") == 42
    for hostile in (None, "", "0", "-1", "4e2", " 42", "42 ", "\u0664\u0662", "9" * 19, "42&message=7"):
        assert message_of(hostile) is None, hostile
