"""The SMS rule: its config, the 200-character rule, and how many segments a text costs.

Length is counted in Unicode code points, as the editor's counter shows it. A template whose fixed text (what
is left without its `{{ … }}` and `{% … %}`) is already over 200 is refused on save; a render over 200 at send
time fails the job with that reason — never a silent truncation. Segments follow the carriers' encodings: GSM-7
(160 characters in one SMS, 153 per part; ^{}\\[~]|€ take two) when every character is in the GSM alphabet,
otherwise UCS-2 (70, 67 per part, counted in UTF-16 units: an emoji takes two).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import Field, field_validator, model_validator

from saleor_app.domain.errors import PermanentError
from saleor_app.domain.kinds import KindConfig, RuleKind, checked_template, register
from saleor_app.domain.phones import PhoneType

MAX_SMS_CHARS = 200
AUTO = "auto"

_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")
_TAGS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


@dataclass(frozen=True, slots=True)
class SmsCount:
    characters: int  # Unicode code points
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int

    def describe(self) -> str:
        parts = "1 SMS" if self.segments == 1 else f"{self.segments} SMS parts"
        return f"{self.characters}/{MAX_SMS_CHARS} characters, {self.encoding}, {parts}"


def count(text: str) -> SmsCount:
    if all(char in _GSM_BASIC or char in _GSM_EXTENDED for char in text):
        units = sum(2 if char in _GSM_EXTENDED else 1 for char in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else -(-units // part)
    return SmsCount(len(text), encoding, segments)


def fixed_text(template: str) -> str:
    """The template without its output and logic tags: what every rendering contains at least."""
    return _TAGS.sub("", template)


def checked_length(text: str) -> str:
    """The rendered text, or PermanentError when it is over the limit (the job fails with this reason)."""
    if len(text) > MAX_SMS_CHARS:
        raise PermanentError(f"the SMS rendered {len(text)} characters for this order, over the limit of "
                             f"{MAX_SMS_CHARS}; shorten the rule's text (nothing was sent)")
    if not text.strip():
        raise PermanentError("the SMS rendered empty for this order (nothing was sent)")
    return text


class SmsConfig(KindConfig):
    provider: str = Field(default=AUTO, max_length=63,
                          description="the Twilio account's provider key, or auto (the first connected one)")
    sender: str = Field(default=AUTO, max_length=64,
                        description="a phone number (E.164) or messaging service SID (MG…) of the account, or auto")
    phone_type: PhoneType = PhoneType.AUTO
    metadata_key: str | None = Field(default=None, max_length=255, description="for phone_type: metadata")
    text: str = Field(min_length=1, max_length=5000, description="the message, a template (≤ 200 characters "
                                                                 "once rendered)")

    @field_validator("text")
    @classmethod
    def _valid_text(cls, value: str) -> str:
        fixed = len(fixed_text(value))
        if fixed > MAX_SMS_CHARS:
            raise ValueError(f"the text has {fixed} characters without its variables, over the SMS limit of "
                             f"{MAX_SMS_CHARS}; shorten it")
        return checked_template(value)

    @field_validator("sender")
    @classmethod
    def _valid_sender(cls, value: str) -> str:
        value = value.strip()
        if value.lower() == AUTO:
            return AUTO
        if not re.fullmatch(r"\+[1-9]\d{6,14}|MG[0-9a-fA-F]{32}", value):
            raise ValueError(f"{value!r} is not a sender: give a phone number in E.164 (+14155550100), a messaging "
                             "service SID (MG…) or auto")
        return value

    @model_validator(mode="after")
    def _metadata_key(self) -> SmsConfig:
        if self.phone_type is PhoneType.METADATA and not (self.metadata_key or "").strip():
            raise ValueError("phone_type metadata needs metadata_key (the order metadata key holding the number)")
        return self


SMS = register(RuleKind("sms", "Send SMS", SmsConfig, idempotent=False, realtime_customer_facing=True,
                             one_message=True))
