"""The team directory: staff members and groups an installation's rules address, and fair rotation. Pure.

Members come from three places: staff who opened the app (their Dashboard token), the merchant (by hand, in the
API or YAML; also people without a Saleor account, e.g. a warehouse phone) and, when the merchant grants
MANAGE_STAFF, Saleor's staff list. Rules name members and groups by key; a key unknown on save is refused, a
member removed since is skipped at run time with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MEMBER_KEY = r"^[a-z0-9][a-z0-9._-]{0,62}$"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NOT_KEY = re.compile(r"[^a-z0-9._-]+")


class MemberSource(StrEnum):
    DASHBOARD = "dashboard"  # opened the app: recorded from the Dashboard token
    MANUAL = "manual"  # added by the merchant (API, YAML)
    SALEOR = "saleor"  # synced from Saleor's staff list (MANAGE_STAFF)


@dataclass(frozen=True, slots=True)
class TeamMember:
    id: int
    installation_id: int
    key: str
    name: str
    email: str | None
    phone: str | None
    away: bool
    saleor_user_id: str | None
    source: MemberSource

    @property
    def label(self) -> str:
        return f"{self.name} <{self.email}>" if self.name and self.email else self.name or self.email or self.key


@dataclass(frozen=True, slots=True)
class TeamGroup:
    id: int
    installation_id: int
    key: str
    name: str
    member_keys: tuple[str, ...]  # in rotation order
    last_pick: int  # index into member_keys of the last member a rotation chose; -1 before the first


def _email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


def e164(value: str | None) -> str | None:
    """A phone number in E.164 (`+4915112345678`); ValueError says what is wrong."""
    if value is None or not value.strip():
        return None
    try:
        parsed = phonenumbers.parse(value.strip(), None)
    except phonenumbers.NumberParseException:
        raise ValueError(f"{value!r} is not a phone number; write it with the country code, like +4915112345678") \
            from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class MemberSpec(BaseModel):
    """A member as the merchant writes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=MEMBER_KEY)
    name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    away: bool = False

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        return _email(value)

    @field_validator("phone")
    @classmethod
    def _valid_phone(cls, value: str | None) -> str | None:
        return e164(value)

    @model_validator(mode="after")
    def _reachable(self) -> MemberSpec:
        if self.email is None and self.phone is None:
            raise ValueError("a member needs an e-mail address or a phone number (or both)")
        return self


class GroupSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=MEMBER_KEY)
    name: str = Field(default="", max_length=200)
    members: tuple[str, ...] = Field(min_length=1, max_length=500)

    @field_validator("members")
    @classmethod
    def _no_repeats(cls, members: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({key for key in members if members.count(key) > 1})
        if repeated:
            raise ValueError(f"listed twice: {', '.join(repeated)}")
        return members


def member_key_for(email: str, taken: set[str]) -> str:
    """A readable key for a staff member recorded from Saleor: the e-mail's local part, made unique."""
    base = _NOT_KEY.sub("-", email.split("@", 1)[0].lower()).strip("-._")[:56] or "staff"
    if not base[0].isalnum():
        base = f"m{base}"
    key, suffix = base, 2
    while key in taken:
        key, suffix = f"{base}-{suffix}", suffix + 1
    return key


@dataclass(frozen=True, slots=True)
class Pick:
    member: TeamMember
    index: int  # its place in the group, the group's new `last_pick`


def next_in_rotation(group: TeamGroup, members: dict[str, TeamMember]) -> Pick | None:
    """Round robin: the first member after the last one picked who still exists and is not away; None when
    everyone is away or gone. Fair: over N picks with nobody away, each of N members is picked once."""
    size = len(group.member_keys)
    for step in range(1, size + 1):
        index = (group.last_pick + step) % size
        member = members.get(group.member_keys[index])
        if member is not None and not member.away:
            return Pick(member, index)
    return None


def why_nobody(group: TeamGroup, members: dict[str, TeamMember]) -> str:
    gone = [key for key in group.member_keys if key not in members]
    away = [key for key in group.member_keys if key in members and members[key].away]
    parts = ([f"away: {', '.join(away)}"] if away else []) + ([f"removed: {', '.join(gone)}"] if gone else [])
    return f"nobody in group {group.key} can take it ({'; '.join(parts)})"


def unknown_keys(wanted: Sequence[str], known: set[str], what: str) -> list[str]:
    """Problems for keys that name no member or group (refused on save)."""
    return [f"there is no {what} {key!r}" for key in dict.fromkeys(wanted) if key not in known]
