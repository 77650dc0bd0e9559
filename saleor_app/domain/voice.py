"""The call rule: its config, which voices can change speed and volume, and the TwiML a call runs.

Text is read with Twilio's `<Say>`; speed and volume go through SSML `<prosody>`, which only Amazon Polly and
Google voices understand (not the basic `man`/`woman`/`alice` voices, not Polly's generative and long-form
voices, not Google's Chirp voices), so a rule that asks for them with another voice is refused on save. An audio
file is played with `<Play>`: a public https link to an .mp3 (its reachability is checked on save by the engine,
through the SSRF-guarded client). Rendered text is escaped into the XML: a customer's name cannot add SSML.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from saleor_app.domain.errors import PermanentError
from saleor_app.domain.kinds import KindConfig, RuleKind, checked_template, register
from saleor_app.domain.phones import PhoneType

AUTO = "auto"
MAX_TWIML_CHARS = 4000  # Twilio's limit on inline TwiML
BASIC_VOICES = ("man", "woman", "alice")
_VOICE = re.compile(r"^(man|woman|alice|Polly\.[A-Z][A-Za-z]+(-Neural|-Generative|-LongForm)?"
                    r"|Google\.[a-z]{2,3}-[A-Z]{2}-[A-Za-z0-9]+(-[A-Za-z0-9]+)*)$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}-[A-Z]{2}$")
VOLUMES = ("x-soft", "soft", "medium", "loud", "x-loud")
NORMAL_SPEED = 100
NORMAL_VOLUME = "medium"


class CallMode(StrEnum):
    TEXT = "text"
    AUDIO = "audio"


def supports_prosody(voice: str) -> bool:
    if voice.startswith("Polly."):
        return not voice.endswith(("-Generative", "-LongForm"))
    if voice.startswith("Google."):
        return "-Chirp" not in voice
    return False


def audio_url_problem(url: str) -> str | None:
    """Why `url` cannot be an audio file link (shape only; reachability is checked separately), or None."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return "the audio file must be a public https:// link"
    if parts.username or parts.password:
        return "the audio link must not contain a user name or password"
    if not parts.path.lower().endswith(".mp3"):
        return "the audio file must be an .mp3 link (the path ends with .mp3)"
    return None


class CallConfig(KindConfig):
    provider: str = Field(default=AUTO, max_length=63,
                          description="the Twilio account's provider key, or auto (the first connected one)")
    from_number: str = Field(default=AUTO, max_length=20,
                             description="origination number (E.164) of the account, or auto (its first voice "
                                         "number)")
    phone_type: PhoneType = PhoneType.AUTO
    metadata_key: str | None = Field(default=None, max_length=255, description="for phone_type: metadata")
    mode: CallMode = CallMode.TEXT
    text: str = Field(default="", max_length=MAX_TWIML_CHARS, description="what is read out, a template")
    language: str = Field(default="en-US", description="e.g. en-US, de-DE")
    voice: str = Field(default="Polly.Joanna", description="man, woman, alice, Polly.<Name>[-Neural], "
                                                           "Google.<language>-<Model>-<X>")
    speed: int = Field(default=NORMAL_SPEED, ge=20, le=200, description="percent of normal speed (SSML voices)")
    volume: str = Field(default=NORMAL_VOLUME, description="x-soft, soft, medium, loud, x-loud (SSML voices)")
    audio_url: str | None = Field(default=None, max_length=2000, description="public https link to an .mp3")

    @field_validator("from_number")
    @classmethod
    def _from(cls, value: str) -> str:
        value = value.strip()
        if value.lower() == AUTO:
            return AUTO
        if not re.fullmatch(r"\+[1-9]\d{6,14}", value):
            raise ValueError(f"{value!r} is not a phone number in E.164 (+14155550100) or auto")
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if not _LANGUAGE.match(value):
            raise ValueError(f"{value!r} is not a language code like en-US or de-DE")
        return value

    @field_validator("voice")
    @classmethod
    def _voice(cls, value: str) -> str:
        if not _VOICE.match(value):
            raise ValueError(f"{value!r} is not a Twilio voice; use man, woman, alice, Polly.<Name> (e.g. "
                             "Polly.Joanna-Neural) or Google.<language>-<model>-<X> (e.g. Google.en-US-Neural2-F)")
        return value

    @field_validator("volume")
    @classmethod
    def _volume(cls, value: str) -> str:
        if value not in VOLUMES:
            raise ValueError(f"volume {value!r}: choose {', '.join(VOLUMES)}")
        return value

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return checked_template(value) if value else value

    @model_validator(mode="after")
    def _complete(self) -> CallConfig:
        if self.phone_type is PhoneType.METADATA and not (self.metadata_key or "").strip():
            raise ValueError("phone_type metadata needs metadata_key (the order metadata key holding the number)")
        if self.mode is CallMode.AUDIO:
            if not self.audio_url:
                raise ValueError("mode audio needs audio_url (a public https link to an .mp3)")
            problem = audio_url_problem(self.audio_url)
            if problem:
                raise ValueError(problem)
            return self
        if not self.text.strip():
            raise ValueError("mode text needs the text to read out")
        changed = [name for name, value, normal in (("speed", self.speed, NORMAL_SPEED),
                                                    ("volume", self.volume, NORMAL_VOLUME)) if value != normal]
        if changed and not supports_prosody(self.voice):
            raise ValueError(f"voice {self.voice} cannot change {' or '.join(changed)}: pick an Amazon Polly or "
                             "Google voice (e.g. Polly.Joanna-Neural), or keep the normal speed (100) and volume "
                             "(medium)")
        return self


def say_twiml(text: str, config: CallConfig) -> str:
    response = ET.Element("Response")
    say = ET.SubElement(response, "Say", {"voice": config.voice, "language": config.language})
    if config.speed != NORMAL_SPEED or config.volume != NORMAL_VOLUME:
        prosody = ET.SubElement(say, "prosody", {"rate": f"{config.speed}%", "volume": config.volume})
        prosody.text = text
    else:
        say.text = text
    return _document(response)


def play_twiml(url: str) -> str:
    response = ET.Element("Response")
    ET.SubElement(response, "Play").text = url
    return _document(response)


def _document(response: ET.Element) -> str:
    twiml = '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(response, encoding="unicode")
    if len(twiml) > MAX_TWIML_CHARS:
        raise PermanentError(f"the call's script is {len(twiml)} characters, over Twilio's limit of "
                             f"{MAX_TWIML_CHARS}; shorten the text (nothing was called)")
    return twiml


CALL = register(RuleKind("call", "Call the customer", CallConfig, idempotent=False, realtime_customer_facing=True,
                              one_message=True))
