"""The Twilio connector (domain/provider_ports.py ProviderConnector): credentials checked with a real account
fetch, the account's numbers and messaging services as senders, and its SMS-capable numbers pointed at the
app's inbound URL (their previous SMS URL is kept and put back when the account is removed).

Credentials: `account_sid` and `auth_token` (Twilio signs its callbacks with the auth token, so it is always
needed); optionally `api_key_sid` + `api_key_secret`, then used for the REST calls instead of the token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from saleor_app.domain.errors import PermanentError
from saleor_app.domain.provider_ports import CallbackTarget, Credentials
from saleor_app.domain.providers import SenderInfo, SenderKind
from saleor_app.domain.telephony import TelephonyProvider, credentials_of

_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_KEY_SID = re.compile(r"^SK[0-9a-fA-F]{32}$")


class TwilioConnector:
    kind: str = "twilio"
    label: str = "Twilio (SMS and calls)"
    secret_fields: tuple[str, ...] = ("auth_token", "api_key_secret")
    credential_bound: tuple[str, ...] = ()  # always Twilio's own API

    def __init__(self, api: TelephonyProvider) -> None:
        self._api = api

    def validate(self, credentials: Credentials, settings: Mapping[str, Any]) -> dict[str, Any]:
        if not _ACCOUNT_SID.match(credentials.get("account_sid", "")):
            raise ValueError("account_sid must be your Account SID: AC followed by 32 hex characters (Twilio "
                             "Console → Account info)")
        if not credentials.get("auth_token", "").strip():
            raise ValueError("auth_token is required (Twilio signs its callbacks with it)")
        key, secret = credentials.get("api_key_sid", ""), credentials.get("api_key_secret", "")
        if bool(key) != bool(secret):
            raise ValueError("give both api_key_sid and api_key_secret, or neither")
        if key and not _KEY_SID.match(key):
            raise ValueError("api_key_sid must be an API key SID: SK followed by 32 hex characters")
        unknown = sorted(set(credentials) - {"account_sid", "auth_token", "api_key_sid", "api_key_secret"})
        if unknown or settings:
            raise ValueError(f"unknown fields {', '.join(unknown or sorted(settings))}; Twilio takes account_sid, "
                             "auth_token and optionally api_key_sid and api_key_secret")
        return {}

    async def check(self, credentials: Credentials, settings: Mapping[str, Any]) -> str:
        del settings  # Twilio accounts have none
        account = await self._api.fetch_account(credentials_of(credentials))
        if account.status != "active":
            raise PermanentError(f"the Twilio account {account.friendly_name!r} is {account.status}, not active")
        trial = "; a trial account only texts and calls verified numbers" if account.type == "Trial" else ""
        return f"Twilio account {account.friendly_name!r} ({account.type}){trial}"

    async def senders(self, credentials: Credentials, settings: Mapping[str, Any]) -> list[SenderInfo]:
        del settings
        found = credentials_of(credentials)
        numbers = await self._api.list_numbers(found)
        services = await self._api.list_messaging_services(found)
        return ([SenderInfo(SenderKind.PHONE, n.phone_number, n.friendly_name, n.sid, usable=n.sms or n.voice)
                 for n in numbers]
                + [SenderInfo(SenderKind.MESSAGING_SERVICE, s.sid, s.friendly_name, s.sid) for s in services])

    async def register_callbacks(self, credentials: Credentials, settings: Mapping[str, Any],
                                 target: CallbackTarget, registered: Mapping[str, Any]) -> dict[str, Any]:
        """Point every SMS-capable number's SMS URL at `target.url` (the account's inbound URL). Twilio signs its
        requests itself, so the target's basic-auth secret is not needed."""
        del settings
        found = credentials_of(credentials)
        before: dict[str, str] = dict(registered.get("previous_sms_urls") or {})
        for number in await self._api.list_numbers(found):
            if not number.sms or number.sms_url == target.url:
                continue
            before.setdefault(number.sid, number.sms_url)
            await self._api.set_sms_url(found, number.sid, target.url)
        return {"inbound_url": target.url, "previous_sms_urls": before}

    async def unregister_callbacks(self, credentials: Credentials, settings: Mapping[str, Any],
                                   registered: Mapping[str, Any]) -> None:
        del settings
        found = credentials_of(credentials)
        ours = registered.get("inbound_url")
        previous: Mapping[str, str] = registered.get("previous_sms_urls") or {}
        for number in await self._api.list_numbers(found):
            if number.sms_url == ours:
                await self._api.set_sms_url(found, number.sid, previous.get(number.sid, ""))
