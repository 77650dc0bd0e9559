"""Messaging providers, channel-neutral: accounts, senders, messages and suppressions (DESIGN.md §7, §10).

A provider account is a merchant's account at one provider kind (`postmark`, `smtp`, `twilio`…), keyed per
installation by a merchant-chosen `key`. Its credentials are a dict of strings kept encrypted; its `settings` are
non-secret. It is "connected" only after a real check call succeeded (`ProviderStatus`). A kind plugs in with a
connector (domain/provider_ports.py `ProviderConnector`, registered in wiring), so adding one touches no shared
code path.

Senders are where messages come from: email mailboxes, phone numbers, messaging services. Every send writes a
`Message` row first (state SENDING), so a crash mid-send leaves a trace and provider events (delivered, bounced,
opened…) find their message by `provider_message_id`. Suppressions stop sends to an address per installation and
channel (hard bounce, spam complaint, opt-out, by hand); every send checks them first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

KEY_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"


class ProviderStatus(StrEnum):
    CONNECTED = "connected"  # the last check call succeeded
    FAILED = "failed"  # the last check call failed; status_message says why
    UNCHECKED = "unchecked"  # saved, not checked yet


class SenderKind(StrEnum):
    EMAIL = "email"  # a mailbox: Postmark sender signature or an SMTP account's from address
    PHONE = "phone"
    MESSAGING_SERVICE = "messaging_service"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    CALL = "call"


class SuppressionChannel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"  # SMS and calls


class MessageState(StrEnum):
    SENDING = "sending"  # handed to the provider, no answer yet (a crash leaves it so)
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    BOUNCED = "bounced"
    COMPLAINED = "complained"  # the recipient marked it as spam
    FAILED = "failed"  # refused by the provider
    UNKNOWN = "unknown"  # may have been sent: timeout or dropped connection after hand-over


# The provider took the message: a job whose message reached one of these was sent, whatever came after.
ACCEPTED = frozenset({MessageState.SENT, MessageState.DELIVERED, MessageState.OPENED, MessageState.CLICKED,
                      MessageState.BOUNCED, MessageState.COMPLAINED})

# Later events never move a message back: a delivery report arriving after an open changes nothing.
_PROGRESS = {MessageState.SENDING: 0, MessageState.UNKNOWN: 0, MessageState.SENT: 1, MessageState.DELIVERED: 2,
             MessageState.OPENED: 3, MessageState.CLICKED: 4, MessageState.FAILED: 5, MessageState.BOUNCED: 5,
             MessageState.COMPLAINED: 6}


def advanced_state(current: MessageState, reported: MessageState) -> MessageState:
    """The state after a provider reports `reported` for a message in `current` (never backwards)."""
    return reported if _PROGRESS[reported] >= _PROGRESS[current] else current


def channel_for_suppression(channel: Channel) -> SuppressionChannel:
    return SuppressionChannel.EMAIL if channel is Channel.EMAIL else SuppressionChannel.PHONE


_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def normalise_email(address: str) -> str | None:
    """The address lower-cased and trimmed, or None when it is not a plain deliverable address (no display
    name, no line breaks: a header value built from it cannot be split)."""
    candidate = address.strip()
    if len(candidate) > 254 or not _EMAIL.match(candidate) or ".." in candidate:
        return None
    return candidate.lower()


def normalise_address(channel: SuppressionChannel, address: str) -> str:
    """The form suppressions are stored and looked up in. Phone numbers are expected in E.164 already."""
    if channel is SuppressionChannel.EMAIL:
        return normalise_email(address) or address.strip().lower()
    return re.sub(r"[\s().-]", "", address.strip())


@dataclass(frozen=True, slots=True)
class ProviderAccount:
    """An account as the engine and the API see it: never its credentials."""

    id: int
    installation_id: int
    kind: str
    key: str
    name: str
    settings: dict[str, Any]
    status: ProviderStatus
    status_message: str
    checked_at: datetime | None
    last_event_at: datetime | None
    created_at: datetime
    registered: dict[str, Any] = field(default_factory=dict)  # what the app set up at the provider


@dataclass(frozen=True, slots=True)
class Sender:
    id: int
    provider_account_id: int
    installation_id: int
    kind: SenderKind
    address: str
    display_name: str
    external_id: str | None
    enabled: bool
    last_sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class SenderInfo:
    """A sender as a connector lists it from the provider."""

    kind: SenderKind
    address: str
    display_name: str = ""
    external_id: str | None = None
    usable: bool = True  # e.g. a Postmark signature that is not confirmed yet cannot send


@dataclass(frozen=True, slots=True)
class NewMessage:
    installation_id: int
    channel: Channel
    sender: str
    recipient: str
    provider_account_id: int | None
    sender_id: int | None
    job_id: int | None = None  # None: a test sent to a staff member, never counted as the job
    attempt: int | None = None  # the job's attempt this run holds: the hand-over fence (see store add_message)
    order_row_id: int | None = None
    is_test: bool = False
    excerpt: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    installation_id: int
    job_id: int | None
    order_row_id: int | None
    provider_account_id: int | None
    sender_id: int | None
    channel: Channel
    sender: str
    recipient: str
    provider_message_id: str | None
    state: MessageState
    reason: str
    last_event: str | None
    last_event_at: datetime | None
    is_test: bool
    excerpt: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Suppression:
    channel: SuppressionChannel
    address: str
    reason: str
    source: str
    created_at: datetime


class ProviderSpec(BaseModel):
    """A provider account as the merchant writes it (API, CLI, YAML). `credentials` holds the secrets (never
    shown back); `settings` what may be shown. The connector of `kind` checks both before anything is saved."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=KEY_PATTERN, description="your name for it, unique in this shop: 'postmark-main'")
    kind: str = Field(min_length=1, max_length=16)
    name: str = Field(default="", max_length=200)
    credentials: dict[str, str] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)


class SuppressionSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: SuppressionChannel
    address: str = Field(min_length=3, max_length=320)
    reason: str = Field(default="", max_length=500)
    source: str = Field(default="manual", pattern=r"^[a-z_]{1,40}$")

    @field_validator("address")
    @classmethod
    def _plain(cls, value: str) -> str:
        if any(char in value for char in "\r\n\t"):
            raise ValueError("an address cannot contain line breaks or tabs")
        return value.strip()

    def normalised(self) -> str:
        return normalise_address(self.channel, self.address)
