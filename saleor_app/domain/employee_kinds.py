"""Rule kinds for the shop's staff: update order, create task, notify team, responsible person, run workflow and
HTTP request — their config models, registered with the other kinds. Pure.

Keys of members, groups, workflows and sequences are checked against the installation when a rule is saved
(`employee_config.references`); here only what one rule can tell on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from saleor_app.domain import templates
from saleor_app.domain.kinds import KindConfig, RuleKind, checked_template, register
from saleor_app.domain.sequences import DEFAULT_SEQUENCE, SEQUENCE_KEY
from saleor_app.domain.team import MEMBER_KEY

APP_KEY_PREFIX = "order-automation."  # the app's own private metadata keys (stage, number, responsible)
_METADATA_KEY = r"^[^\s].{0,254}$"


SEQUENCE_SAMPLE = {"sequence": {"next": "A-01043"}}
_SEQUENCE_FIELD = re.compile(r"\bsequence\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")


def with_sequence(source: str) -> str:
    """Check an update-order template, where `{{ sequence.next }}` is known (and only there)."""
    preview = templates.preview(source, templates.sample_order(), shop_name="Sample shop",
                                stage=("ready-to-ship", "Ready to ship"), extra=SEQUENCE_SAMPLE)
    if preview.problems:
        raise ValueError("; ".join(f"line {p.line}, column {p.column}: {p.message}" for p in preview.problems))
    unknown = sorted(set(_SEQUENCE_FIELD.findall(source)) - {"next"})
    if unknown:
        raise ValueError(f"Unknown variable 'sequence.{unknown[0]}' (a sequence has only 'sequence.next')")
    return source


def _templates(values: dict[str, str]) -> dict[str, str]:
    for key, source in values.items():
        try:
            with_sequence(source)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    return values


def _own_keys(keys: list[str] | tuple[str, ...] | dict[str, str]) -> None:
    reserved = sorted(key for key in keys if key.startswith(APP_KEY_PREFIX))
    if reserved:
        raise ValueError(f"{', '.join(reserved)}: keys starting with {APP_KEY_PREFIX} belong to the app")
    blank = [key for key in keys if not key.strip()]
    if blank:
        raise ValueError("a metadata key must not be empty (Saleor refuses it)")


class UpdateOrderConfig(KindConfig):
    """Metadata set (values are templates) or removed, an order note, and the fields `orderUpdate` lets an app
    change. A template using `{{ sequence.next }}` takes the next number of `sequence` (once per job) and the app
    keeps it on the order as `order-automation.number` (`{{ automation.number }}` in later rules)."""

    set_metadata: dict[str, str] = Field(default_factory=dict, max_length=50)
    set_private_metadata: dict[str, str] = Field(default_factory=dict, max_length=50)
    remove_metadata: tuple[str, ...] = Field(default=(), max_length=50)
    remove_private_metadata: tuple[str, ...] = Field(default=(), max_length=50)
    note: str | None = Field(default=None, max_length=5000)
    external_reference: str | None = Field(default=None, max_length=1000)
    customer_email: str | None = Field(default=None, max_length=1000)
    sequence: str = Field(default=DEFAULT_SEQUENCE, pattern=SEQUENCE_KEY)

    @field_validator("set_metadata", "set_private_metadata")
    @classmethod
    def _set(cls, values: dict[str, str]) -> dict[str, str]:
        _own_keys(values)
        return _templates(values)

    @field_validator("remove_metadata", "remove_private_metadata")
    @classmethod
    def _remove(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        _own_keys(keys)
        return keys

    @field_validator("note", "external_reference", "customer_email")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return with_sequence(value) if value is not None else None

    @model_validator(mode="after")
    def _does_something(self) -> UpdateOrderConfig:
        if not any((self.set_metadata, self.set_private_metadata, self.remove_metadata,
                    self.remove_private_metadata, self.note, self.external_reference, self.customer_email)):
            raise ValueError("say what to change: set_metadata, set_private_metadata, remove_metadata, "
                             "remove_private_metadata, note, external_reference or customer_email")
        both = (set(self.set_metadata) & set(self.remove_metadata)) | (
            set(self.set_private_metadata) & set(self.remove_private_metadata))
        if both:
            raise ValueError(f"{', '.join(sorted(both))}: set and removed in the same rule")
        return self

    def sources(self) -> list[str]:
        return [*self.set_metadata.values(), *self.set_private_metadata.values(),
                *(text for text in (self.note, self.external_reference, self.customer_email) if text)]


class Assignee(BaseModel):
    """Who: one member, the next in a group's rotation (skipping those away), or the order's responsible person."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    member: str | None = Field(default=None, pattern=MEMBER_KEY)
    group: str | None = Field(default=None, pattern=MEMBER_KEY)
    responsible: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> Assignee:
        if sum((self.member is not None, self.group is not None, self.responsible)) != 1:
            raise ValueError("give exactly one of member, group (round robin) and responsible: true")
        return self


Priority = Literal["low", "normal", "high", "urgent"]


def _duration(value: str | None) -> str | None:
    if value is not None:
        from saleor_app.domain.config_document import parse_duration  # the file format's durations (1d, 2h30m)

        parse_duration(value)
    return value


class CreateTaskConfig(KindConfig):
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=10_000)
    assignee: Assignee
    due_in: str | None = Field(default=None, description="e.g. 4h or 2d; none: no due date")
    priority: Priority = "normal"
    note: bool = Field(default=True, description="add an order note naming the task and its assignee")
    email_assignee: bool = Field(default=False, description="also e-mail the assignee (needs a mailbox)")
    mailbox: str | None = None

    @field_validator("title", "description")
    @classmethod
    def _template(cls, value: str) -> str:
        return checked_template(value) if value else value

    @field_validator("due_in")
    @classmethod
    def _due(cls, value: str | None) -> str | None:
        return _duration(value)


Channel = Literal["email", "sms", "webhook"]


class NotifyTeamConfig(KindConfig):
    message: str = Field(min_length=1, max_length=10_000)
    subject: str | None = Field(default=None, max_length=500)
    channel: Channel = "email"
    members: tuple[str, ...] = Field(default=(), max_length=100)
    groups: tuple[str, ...] = Field(default=(), max_length=20)
    responsible: bool = False
    mailbox: str | None = Field(default=None, description="e-mail: the mailbox to send from; none: the last used")
    webhook_url: str | None = Field(default=None, max_length=2000, description="Slack-compatible incoming webhook")

    @field_validator("message", "subject")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return checked_template(value) if value is not None else None

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("the webhook URL must start with https://")
        return value

    @model_validator(mode="after")
    def _recipients(self) -> NotifyTeamConfig:
        if self.channel == "webhook":
            if self.webhook_url is None:
                raise ValueError("channel webhook needs webhook_url (the chat's incoming-webhook URL)")
            if self.members or self.groups or self.responsible:
                raise ValueError("channel webhook posts to the chat: members, groups and responsible are for email "
                                 "and sms")
        elif not (self.members or self.groups or self.responsible):
            raise ValueError(f"channel {self.channel} needs members, groups or responsible: true")
        elif self.webhook_url is not None:
            raise ValueError("webhook_url is for channel webhook")
        return self


class SetResponsibleConfig(KindConfig):
    member: str | None = Field(default=None, pattern=MEMBER_KEY)
    group: str | None = Field(default=None, pattern=MEMBER_KEY)
    keep_existing: bool = Field(default=False, description="leave an order that has a responsible person alone")

    @model_validator(mode="after")
    def _exactly_one(self) -> SetResponsibleConfig:
        if (self.member is None) == (self.group is None):
            raise ValueError("give exactly one of member and group (round robin)")
        return self


class RunWorkflowConfig(KindConfig):
    workflow: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,29}$")


class HttpRequestConfig(KindConfig):
    """POST a JSON body to an outside URL, signed with the installation's secret. The body is written as a JSON
    object whose text values are templates: each is rendered and the whole is encoded by the app, so a customer's
    quote or newline can never break the JSON."""

    url: str = Field(min_length=8, max_length=2000)
    body: dict[str, Any] = Field(default_factory=lambda: {"order": "{{ order.number }}"})
    headers: dict[str, str] = Field(default_factory=dict, max_length=20)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("the URL must start with https:// (or http://)")
        return value

    @field_validator("body")
    @classmethod
    def _templates_inside(cls, body: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(body)) > 100_000:
            raise ValueError("the body is larger than 100 kB")
        for path, source in _texts(body, ()):
            try:
                checked_template(source)
            except ValueError as exc:
                raise ValueError(f"body.{'.'.join(map(str, path))}: {exc}") from None
        return body

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        taken = sorted(name for name in headers if name.lower() in RESERVED_HEADERS)
        if taken:
            raise ValueError(f"{', '.join(taken)}: set by the app")
        return headers


SIGNATURE_HEADER = "X-Order-Automation-Signature"
DELIVERY_HEADER = "X-Order-Automation-Delivery"
TIMESTAMP_HEADER = "X-Order-Automation-Timestamp"
RESERVED_HEADERS = frozenset(name.lower() for name in (SIGNATURE_HEADER, DELIVERY_HEADER, TIMESTAMP_HEADER,
                                                        "content-type", "content-length", "host"))

UPDATE_ORDER = register(RuleKind("update_order", "Update order", UpdateOrderConfig, idempotent=True))
CREATE_TASK = register(RuleKind("create_task", "Create task", CreateTaskConfig, idempotent=True))
NOTIFY_TEAM = register(RuleKind("notify_team", "Notify team", NotifyTeamConfig, idempotent=False))
SET_RESPONSIBLE = register(RuleKind("set_responsible", "Responsible person", SetResponsibleConfig, idempotent=True))
RUN_WORKFLOW = register(RuleKind("run_workflow", "Run workflow", RunWorkflowConfig, idempotent=True))
HTTP_REQUEST = register(RuleKind("http_request", "HTTP request", HttpRequestConfig, idempotent=True))


def _texts(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _texts(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _texts(item, (*path, index))


def render_body(body: Any, render: Callable[[str], str]) -> Any:
    """The body with every text rendered by `render(source) -> str`; numbers, booleans and nulls as written."""
    if isinstance(body, str):
        return render(body)
    if isinstance(body, Mapping):
        return {str(key): render_body(item, render) for key, item in body.items()}
    if isinstance(body, list | tuple):
        return [render_body(item, render) for item in body]
    return body
