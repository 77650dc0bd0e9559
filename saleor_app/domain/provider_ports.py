"""Ports of the provider plumbing: a connector per provider kind, and the repository of provider tables.

A provider kind (postmark, smtp, twilio…) plugs in with one `ProviderConnector`, given to the engine's
`ManageProviders` in a mapping by kind (wiring.py). The connector validates what the merchant typed, proves the
credentials with a real call, lists the account's senders, and registers (and removes) the provider's callbacks
to the app. Sending is a separate, channel-specific port (e.g. domain/email.py `EmailTransport`).

Errors a connector raises: `PermanentError` with the provider's own message (wrong credentials, refused),
`RetryableError` when the provider cannot be reached; both leave the account "failed" with that message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from saleor_app.domain.providers import (
    Message,
    MessageState,
    NewMessage,
    ProviderAccount,
    ProviderStatus,
    Sender,
    SenderInfo,
    SenderKind,
    Suppression,
    SuppressionChannel,
)

Credentials = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class CallbackTarget:
    """Where a provider posts its events for one account, and the per-account credentials it must send (HTTP
    basic auth: Postmark signs nothing, so a secret only the app and that account know proves the sender)."""

    url: str
    username: str
    password: str


class ProviderConnector(Protocol):
    kind: str
    label: str
    secret_fields: tuple[str, ...]  # credential names that are secrets (the rest may be shown, e.g. a username)
    # Settings that say where the credentials are sent (an SMTP host): stored credentials never follow a change
    # of one to a new destination; they must be entered again with it.
    credential_bound: tuple[str, ...]

    def validate(self, credentials: Credentials, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Raise ValueError saying what is missing or wrong; return the settings with defaults filled in."""
        ...

    async def check(self, credentials: Credentials, settings: Mapping[str, Any]) -> str:
        """One real call that proves the credentials; returns what was reached ("Postmark server 'Shop'")."""
        ...

    async def senders(self, credentials: Credentials, settings: Mapping[str, Any]) -> list[SenderInfo]: ...

    async def register_callbacks(self, credentials: Credentials, settings: Mapping[str, Any],
                                 target: CallbackTarget, registered: Mapping[str, Any]) -> dict[str, Any]:
        """Make the provider report events to `target` (replacing what `registered` says was set up before);
        returns what to keep for next time and for `unregister_callbacks` ({} when the kind has no callbacks)."""
        ...

    async def unregister_callbacks(self, credentials: Credentials, settings: Mapping[str, Any],
                                   registered: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class AccountWrite:
    kind: str
    key: str
    name: str
    settings: dict[str, Any]
    credentials_encrypted: str | None  # None: keep the stored credentials


class ProviderStore(Protocol):
    """Provider accounts, senders, messages and suppressions. Each call is its own short transaction: none is
    ever held across a call to a provider."""

    async def accounts(self, installation_id: int, kind: str | None = None) -> list[ProviderAccount]: ...

    async def account(self, installation_id: int, key: str) -> ProviderAccount | None: ...

    async def accounts_everywhere(self) -> list[ProviderAccount]:
        """Every installation's accounts (a short list: a shop connects a handful)."""
        ...

    async def account_by_id(self, account_id: int) -> ProviderAccount | None: ...

    async def save_account(self, installation_id: int, write: AccountWrite, now: datetime) -> ProviderAccount:
        """Insert or update the account with that key; an update resets the status to unchecked."""
        ...

    async def credentials(self, account_id: int) -> str:
        """The encrypted credentials blob."""
        ...

    async def callback_secret(self, account_id: int) -> str | None:
        """The encrypted secret the provider's callbacks carry."""
        ...

    async def set_status(self, account_id: int, status: ProviderStatus, message: str, now: datetime, *,
                         registered: Mapping[str, Any] | None = None,
                         callback_secret_encrypted: str | None = None) -> None: ...

    async def delete_account(self, account_id: int) -> None: ...

    async def replace_senders(self, account: ProviderAccount, found: Sequence[SenderInfo], now: datetime) -> None:
        """Make the account's senders those found; a sender seen before keeps its id, enabled flag and history."""
        ...

    async def senders(self, installation_id: int, kind: SenderKind | None = None, *,
                      connected_only: bool = False) -> list[Sender]:
        """By account, then id ("the first connected"): connected_only leaves out disabled senders and those of
        accounts that are not connected."""
        ...

    async def set_sender_enabled(self, sender_id: int, enabled: bool, now: datetime) -> None: ...

    async def mark_sender_used(self, sender_id: int, now: datetime) -> None: ...

    async def event_received(self, account_id: int, now: datetime) -> None:
        """Note that the provider reached the app ("last event received")."""
        ...

    async def add_message(self, message: NewMessage, now: datetime) -> int: ...

    async def finish_message(self, message_id: int, state: MessageState, now: datetime, *, reason: str = "",
                             provider_message_id: str | None = None) -> None: ...

    async def message(self, message_id: int) -> Message | None: ...

    async def message_by_provider_id(self, account_id: int, provider_message_id: str) -> Message | None: ...

    async def record_event(self, message_id: int, state: MessageState, event: str, at: datetime) -> None: ...

    async def messages(self, installation_id: int, *, job_id: int | None = None, limit: int = 100) -> list[Message]:
        ...

    async def suppressed(self, installation_id: int, channel: SuppressionChannel, address: str
                         ) -> Suppression | None: ...

    async def suppress(self, installation_id: int, channel: SuppressionChannel, address: str, reason: str,
                       source: str, now: datetime) -> bool:
        """True when added; False when it was suppressed already (the first reason is kept)."""
        ...

    async def unsuppress(self, installation_id: int, channel: SuppressionChannel, address: str) -> bool: ...

    async def suppressions(self, installation_id: int) -> list[Suppression]: ...
