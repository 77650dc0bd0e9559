"""Connect, check, list and delete a shop's provider accounts (any kind, through its connector).

Connecting saves the account (credentials encrypted, status unchecked) and then checks it: a real call to the
provider, its senders listed, and its callbacks to the app registered with a per-account secret. Only when all of
that worked is the account "connected"; otherwise it is "failed" with the provider's own message, and nothing
else changes. No database transaction is open while the provider is called.
"""

from __future__ import annotations

import builtins
import logging
import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from saleor_app.domain.errors import AutomationError, Refused
from saleor_app.domain.ports import Clock
from saleor_app.domain.provider_ports import AccountWrite, CallbackTarget, ProviderConnector, ProviderStore
from saleor_app.domain.providers import (
    Message,
    ProviderAccount,
    ProviderSpec,
    ProviderStatus,
    Sender,
    SenderInfo,
    Suppression,
    SuppressionChannel,
    SuppressionSpec,
)

log = logging.getLogger(__name__)

CALLBACK_USER = "saleor-app"  # the basic-auth user name of provider callbacks; the password is per account


PENDING = "pending_registration"  # in `registered`: callbacks still to register after an import (what was reached)


@dataclass(frozen=True, slots=True)
class Probed:
    """A provider checked with a real call and not saved yet."""

    spec: ProviderSpec
    settings: dict[str, Any]
    reached: str
    senders: builtins.list[SenderInfo]


@dataclass(frozen=True, slots=True)
class ProviderView:
    account: ProviderAccount
    senders: list[Sender]


class ManageProviders:
    def __init__(self, store: ProviderStore, connectors: Mapping[str, ProviderConnector], clock: Clock, *,
                 encrypt: Callable[[str], str], decrypt: Callable[[str], str],
                 callback_url: Callable[[ProviderAccount], str]) -> None:
        self._store = store
        self._connectors = connectors
        self._clock = clock
        self._encrypt = encrypt
        self._decrypt = decrypt
        self._callback_url = callback_url

    def connector(self, kind: str) -> ProviderConnector:
        try:
            return self._connectors[kind]
        except KeyError:
            known = ", ".join(sorted(self._connectors)) or "none"
            raise Refused(422, f"unknown provider kind {kind!r}; known kinds: {known}", "unknown_kind") from None

    def validate(self, existing: ProviderAccount | None, spec: ProviderSpec,
                 kept: Collection[str] = ()) -> dict[str, Any]:
        """The spec's settings with defaults, or Refused saying what is wrong; nothing is saved. `kept` names the
        credentials taken from storage rather than given now: they may not go to a new destination."""
        connector = self.connector(spec.kind)
        if existing is not None and existing.kind != spec.kind:
            raise Refused(409, f"provider {spec.key!r} is a {existing.kind} account; delete it first "
                               f"to make {spec.key!r} a {spec.kind} account", "kind_changed")
        try:
            settings = connector.validate(spec.credentials, spec.settings)
        except ValueError as exc:
            raise Refused(422, f"provider {spec.key!r}: {exc}", "invalid_provider") from exc
        moved = [name for name in connector.credential_bound
                 if existing is not None and kept and settings.get(name) != existing.settings.get(name)]
        if moved:
            raise Refused(422, f"provider {spec.key!r}: changing {', '.join(moved)} needs the credentials entered "
                               "again (the stored ones are never sent to a new server)", "credentials_needed")
        return settings

    async def connect(self, installation_id: int, spec: ProviderSpec, kept: Collection[str] = ()) -> ProviderView:
        """Save (credentials omitted: keep the stored ones) and check; returns the account as it ends up. `kept`
        names credentials in `spec` that came from storage (a configuration file's references)."""
        existing = await self._store.account(installation_id, spec.key)
        if existing is not None and not spec.credentials:
            stored = self._credentials(await self._store.credentials(existing.id))
            spec = spec.model_copy(update={"credentials": stored})
            kept = list(stored)
        settings = self.validate(existing, spec, kept if existing is not None else ())
        write = AccountWrite(spec.kind, spec.key, spec.name or spec.key, settings,
                             self._encrypt(orjson.dumps(spec.credentials).decode()))
        account = await self._store.save_account(installation_id, write, self._clock.now())
        return await self.check(account)

    async def check(self, account: ProviderAccount) -> ProviderView:
        """The real check call, the senders, the callbacks; the account's status says how it went."""
        connector = self.connector(account.kind)
        credentials = self._credentials(await self._store.credentials(account.id))
        extra = {"installation_id": account.installation_id, "provider": account.key, "kind": account.kind}
        try:
            reached = await connector.check(credentials, account.settings)
            found = await connector.senders(credentials, account.settings)
        except AutomationError as exc:
            log.info("provider check failed", extra={**extra, "reason": str(exc)})
            await self._store.set_status(account.id, ProviderStatus.FAILED, str(exc), self._clock.now())
            return await self.view(account.installation_id, account.key)
        await self._store.replace_senders(account, found, self._clock.now())
        stored_secret = await self._store.callback_secret(account.id)
        secret = self._decrypt(stored_secret) if stored_secret else secrets.token_urlsafe(32)
        target = CallbackTarget(self._callback_url(account), CALLBACK_USER, secret)
        try:
            registered = await connector.register_callbacks(credentials, account.settings, target,
                                                            account.registered)
        except AutomationError as exc:
            message = f"{reached}, but its events could not be set up to reach the app: {exc}"
            await self._store.set_status(account.id, ProviderStatus.FAILED, message, self._clock.now(),
                                         callback_secret_encrypted=self._encrypt(secret))
            return await self.view(account.installation_id, account.key)
        await self._store.set_status(account.id, ProviderStatus.CONNECTED, reached, self._clock.now(),
                                     registered=registered, callback_secret_encrypted=self._encrypt(secret))
        log.info("provider connected", extra=extra)
        return await self.view(account.installation_id, account.key)

    async def probe(self, existing: ProviderAccount | None, spec: ProviderSpec, kept: Collection[str] = ()) -> Probed:
        """The real check call and the senders for a spec not saved yet (a configuration file's provider, before
        anything is written): Refused when the spec is wrong, AutomationError with the provider's message."""
        settings = self.validate(existing, spec, kept)
        connector = self.connector(spec.kind)
        reached = await connector.check(spec.credentials, settings)
        return Probed(spec, settings, reached, await connector.senders(spec.credentials, settings))

    async def save_probed(self, store: ProviderStore, installation_id: int, probed: Probed) -> ProviderAccount:
        """Write a probed account as connected through `store` (the import's own transaction). Its callbacks are
        registered after the commit (`register`): until then it is marked as waiting for them."""
        spec, now = probed.spec, self._clock.now()
        write = AccountWrite(spec.kind, spec.key, spec.name or spec.key, probed.settings,
                             self._encrypt(orjson.dumps(spec.credentials).decode()))
        account = await store.save_account(installation_id, write, now)
        await store.replace_senders(account, probed.senders, now)
        secret = await store.callback_secret(account.id) or self._encrypt(secrets.token_urlsafe(32))
        await store.set_status(account.id, ProviderStatus.CONNECTED, probed.reached, now,
                               registered={**account.registered, PENDING: probed.reached},
                               callback_secret_encrypted=secret)
        saved = await store.account(installation_id, spec.key)
        assert saved is not None
        return saved

    async def register(self, account: ProviderAccount) -> str | None:
        """Point the provider's callbacks at the app for an account written with `save_probed`; None when done,
        else why not. A failure changes nothing else (the account stays connected: it can send) and is tried
        again by `retry_registrations`."""
        reached = str(account.registered.get(PENDING) or account.status_message)
        credentials = self._credentials(await self._store.credentials(account.id))
        stored_secret = await self._store.callback_secret(account.id)
        secret = self._decrypt(stored_secret) if stored_secret else secrets.token_urlsafe(32)
        target = CallbackTarget(self._callback_url(account), CALLBACK_USER, secret)
        try:
            registered = await self.connector(account.kind).register_callbacks(
                credentials, account.settings, target, account.registered)
        except AutomationError as exc:
            problem = f"its events could not be set up to reach the app yet: {exc}; the app tries again"
            log.warning("provider callbacks not registered", extra={
                "installation_id": account.installation_id, "provider": account.key, "reason": str(exc)})
            await self._store.set_status(account.id, ProviderStatus.CONNECTED, f"{reached}, but {problem}",
                                         self._clock.now(), registered={**account.registered, PENDING: reached})
            return problem
        await self._store.set_status(account.id, ProviderStatus.CONNECTED, reached, self._clock.now(),
                                     registered=registered, callback_secret_encrypted=self._encrypt(secret))
        return None

    async def retry_registrations(self) -> int:
        """Register the callbacks still waiting after an import; returns how many are registered now."""
        done = 0
        for account in await self._store.accounts_everywhere():
            if PENDING in account.registered and account.status is ProviderStatus.CONNECTED:
                done += await self.register(account) is None
        return done

    async def connected(self, installation_id: int) -> set[tuple[str, str]]:
        """(kind, key) of each connected account."""
        return {(account.kind, account.key) for account in await self._store.accounts(installation_id)
                if account.status is ProviderStatus.CONNECTED}

    async def check_key(self, installation_id: int, key: str) -> ProviderView:
        return await self.check(await self._account(installation_id, key))

    async def view(self, installation_id: int, key: str) -> ProviderView:
        account = await self._account(installation_id, key)
        senders = [s for s in await self._store.senders(installation_id) if s.provider_account_id == account.id]
        return ProviderView(account, senders)

    async def list(self, installation_id: int) -> builtins.list[ProviderView]:
        senders = await self._store.senders(installation_id)
        return [ProviderView(account, [s for s in senders if s.provider_account_id == account.id])
                for account in await self._store.accounts(installation_id)]

    async def delete(self, installation_id: int, key: str) -> None:
        """Remove the callbacks the app registered (best effort: the account may be gone at the provider), then
        the account and its senders. Messages sent through it stay in the log."""
        account = await self._account(installation_id, key)
        if account.registered:
            try:
                credentials = self._credentials(await self._store.credentials(account.id))
                await self.connector(account.kind).unregister_callbacks(credentials, account.settings,
                                                                        account.registered)
            except AutomationError as exc:
                log.warning("provider callbacks could not be removed", extra={
                    "installation_id": installation_id, "provider": key, "reason": str(exc)})
        await self._store.delete_account(account.id)

    async def set_sender_enabled(self, installation_id: int, key: str, address: str, enabled: bool) -> Sender:
        view = await self.view(installation_id, key)
        wanted = address.strip().lower()
        sender = next((s for s in view.senders if s.address.lower() == wanted), None)
        if sender is None:
            known = ", ".join(s.address for s in view.senders) or "none"
            raise Refused(404, f"provider {key!r} has no sender {address!r}; its senders: {known}", "unknown_sender")
        await self._store.set_sender_enabled(sender.id, enabled, self._clock.now())
        return sender

    async def messages(self, installation_id: int, *, job_id: int | None = None, limit: int = 100
                       ) -> builtins.list[Message]:
        return await self._store.messages(installation_id, job_id=job_id, limit=limit)

    async def suppressions(self, installation_id: int) -> builtins.list[Suppression]:
        return await self._store.suppressions(installation_id)

    async def suppress(self, installation_id: int, spec: SuppressionSpec, *, store: ProviderStore | None = None
                       ) -> bool:
        """Add an address by hand (or from the YAML document, through `store`: the import's transaction); False
        when it was suppressed already."""
        return await (store or self._store).suppress(installation_id, spec.channel, spec.address, spec.reason,
                                                     spec.source, self._clock.now())

    async def unsuppress(self, installation_id: int, channel: SuppressionChannel, address: str) -> bool:
        return await self._store.unsuppress(installation_id, channel, address)

    async def account_by_id(self, account_id: int) -> ProviderAccount | None:
        return await self._store.account_by_id(account_id)

    async def callback_password(self, account_id: int) -> str | None:
        """The secret a provider's callback for this account must carry (never logged)."""
        stored = await self._store.callback_secret(account_id)
        return self._decrypt(stored) if stored else None

    async def credentials(self, account_id: int) -> dict[str, str]:
        """Decrypted, for a transport about to send (never logged, never returned by the API)."""
        return self._credentials(await self._store.credentials(account_id))

    async def _account(self, installation_id: int, key: str) -> ProviderAccount:
        account = await self._store.account(installation_id, key)
        if account is None:
            raise Refused(404, f"there is no provider {key!r}", "unknown_provider")
        return account

    def _credentials(self, encrypted: str) -> dict[str, str]:
        loaded = orjson.loads(self._decrypt(encrypted))
        return {str(name): str(value) for name, value in loaded.items()} if isinstance(loaded, dict) else {}
