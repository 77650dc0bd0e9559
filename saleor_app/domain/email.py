"""Client email (DESIGN.md §7): the email rule's config, picking the recipient and the mailbox, the message a
transport sends, and the transport port.

Recipient types: the order's email, the customer account's email, or a metadata key; "auto" takes the first that
exists (order `userEmail`, then `user.email`). No address → the job is skipped; an address that is not a plain
deliverable one → skipped, with the reason. Mailbox: a named one, or "auto" = the mailbox of the installation's
last successful send (before any send: the first connected mailbox).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from pydantic import Field, field_validator, model_validator

from saleor_app.domain.errors import SkipJob
from saleor_app.domain.kinds import KindConfig, RuleKind, checked_template, register
from saleor_app.domain.provider_ports import Credentials
from saleor_app.domain.providers import ProviderAccount, ProviderStatus, Sender, normalise_email

JOB_HEADER = "X-Order-Automation-Job"  # ties a message to its job in any mail client's "show original"
AUTO = "auto"


class RecipientType(StrEnum):
    AUTO = "auto"
    ORDER_EMAIL = "order_email"
    CUSTOMER_EMAIL = "customer_email"
    METADATA = "metadata"


_LABELS = {RecipientType.ORDER_EMAIL: "order email", RecipientType.CUSTOMER_EMAIL: "customer account email",
           RecipientType.METADATA: "metadata"}


class EmailConfig(KindConfig):
    mailbox: str = Field(default=AUTO, max_length=320,
                         description="a connected mailbox's address, or auto (the mailbox of the last send)")
    provider: str | None = Field(default=None, max_length=63,
                                 description="the provider key, when two providers have that mailbox")
    recipient: RecipientType = RecipientType.AUTO
    metadata_key: str | None = Field(default=None, max_length=255, description="for recipient: metadata")
    subject: str = Field(min_length=1, max_length=2000, description="a template")
    html: str = Field(default="", max_length=100_000, description="HTML body, a template (values are escaped)")
    text: str = Field(default="", max_length=100_000, description="plain-text body, a template")
    reply_to: str | None = Field(default=None, max_length=320)
    track_opens: bool = False  # Postmark only
    track_links: bool = False  # Postmark only
    message_stream: str | None = Field(default=None, max_length=100, pattern=r"^[a-z0-9-]{1,100}$",
                                       description="Postmark message stream; the provider's default if empty")

    @field_validator("subject", "html", "text")
    @classmethod
    def _valid_template(cls, value: str) -> str:
        return checked_template(value) if value else value

    @field_validator("mailbox")
    @classmethod
    def _mailbox(cls, value: str) -> str:
        if value.strip().lower() == AUTO:
            return AUTO
        address = normalise_email(value)
        if address is None:
            raise ValueError(f"{value!r} is not an email address; give a mailbox's address or 'auto'")
        return address

    @field_validator("reply_to")
    @classmethod
    def _reply_to(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if normalise_email(value) is None:
            raise ValueError(f"reply_to {value!r} is not an email address")
        return value.strip()

    @model_validator(mode="after")
    def _complete(self) -> EmailConfig:
        if not self.html.strip() and not self.text.strip():
            raise ValueError("give the email a body: html, text, or both")
        if self.recipient is RecipientType.METADATA and not (self.metadata_key or "").strip():
            raise ValueError("recipient metadata needs metadata_key (the order metadata key holding the address)")
        return self


EMAIL = register(RuleKind("email", "Send email", EmailConfig, idempotent=False, one_message=True))


def _metadata_value(snapshot: Mapping[str, Any], key: str) -> str:
    for name in ("metadata", "privateMetadata"):
        for item in snapshot.get(name) or []:
            if isinstance(item, Mapping) and item.get("key") == key and item.get("value"):
                return str(item["value"])
    return ""


def _candidate(snapshot: Mapping[str, Any], kind: RecipientType, metadata_key: str | None) -> str:
    if kind is RecipientType.ORDER_EMAIL:
        return str(snapshot.get("userEmail") or "")
    if kind is RecipientType.CUSTOMER_EMAIL:
        user = snapshot.get("user")
        return str(user.get("email") or "") if isinstance(user, Mapping) else ""
    return _metadata_value(snapshot, metadata_key or "")


def pick_recipient(snapshot: Mapping[str, Any], kind: RecipientType, metadata_key: str | None = None) -> str:
    """The normalised address to send to, or SkipJob saying why there is none."""
    kinds = [RecipientType.ORDER_EMAIL, RecipientType.CUSTOMER_EMAIL] if kind is RecipientType.AUTO else [kind]
    invalid: list[str] = []
    for each in kinds:
        raw = _candidate(snapshot, each, metadata_key).strip()
        if not raw:
            continue
        address = normalise_email(raw)
        if address is not None:
            return address
        invalid.append(f"{raw!r} ({_label(each, metadata_key)})")
    if invalid:
        raise SkipJob(f"invalid email address {', '.join(invalid)}")
    wanted = " or ".join(_label(each, metadata_key) for each in kinds)
    raise SkipJob(f"no email of type {wanted}")


def _label(kind: RecipientType, metadata_key: str | None) -> str:
    return f"metadata {metadata_key}" if kind is RecipientType.METADATA else _LABELS[kind]


@dataclass(frozen=True, slots=True)
class Mailbox:
    sender: Sender
    account: ProviderAccount

    @property
    def usable(self) -> bool:
        return self.sender.enabled and self.account.status is ProviderStatus.CONNECTED


def pick_mailbox(mailboxes: Sequence[Mailbox], wanted: str, provider: str | None = None) -> Mailbox:
    """A named mailbox, or "auto": the one of the last successful send, else the first connected one."""
    if wanted == AUTO:
        usable = [m for m in mailboxes if m.usable]
        if not usable:
            raise SkipJob("no connected mailbox: connect Postmark or SMTP under Providers")
        used = [m for m in usable if m.sender.last_sent_at is not None]
        if used:
            return max(used, key=lambda m: (m.sender.last_sent_at, m.sender.id))
        return usable[0]
    named = [m for m in mailboxes if m.sender.address == wanted and (provider is None or m.account.key == provider)]
    if not named:
        raise SkipJob(f"mailbox {wanted} does not exist (any more): pick another in the rule")
    usable = [m for m in named if m.usable]
    if usable:
        return usable[0]
    first = named[0]
    if not first.sender.enabled:
        raise SkipJob(f"mailbox {wanted} is disabled")
    why = f": {first.account.status_message}" if first.account.status_message else ""
    raise SkipJob(f"provider {first.account.key} of mailbox {wanted} is not connected ({first.account.status.value}"
                  f"{why})")


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    from_address: str
    from_name: str
    to: str
    subject: str
    html: str
    text: str
    reply_to: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)  # Postmark Metadata (shown in its activity)
    track_opens: bool = False
    track_links: bool = False
    message_stream: str | None = None


def single_line(subject: str) -> str:
    """A rendered subject as one header line: line breaks a value carried in become spaces."""
    return " ".join(subject.split())


class EmailTransport(Protocol):
    """Sends one email through one provider kind. Returns the provider's message id.

    Raises PermanentError with the provider's reason when it refused the message (a 4xx, a 5xx SMTP reply),
    RetryableError when it failed before the message was handed over (connection refused, 429, a Postmark
    5xx), OutcomeUnknown when the connection timed out or dropped after it was handed over."""

    kind: str

    async def send(self, credentials: Credentials, settings: Mapping[str, Any], email: OutgoingEmail) -> str: ...


class EmailLookup(Protocol):
    """Asks a provider whether it has the email of a job whose send ended unknown (Postmark keeps a searchable
    log of what it accepted; SMTP has none, so an unknown SMTP send waits for a person)."""

    async def find_sent(self, credentials: Credentials, settings: Mapping[str, Any], *, to: str, job_id: int
                        ) -> str | None:
        """The provider's message id of the email it accepted for `job_id` to `to`, or None if it has none."""
        ...
