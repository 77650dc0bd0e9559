"""What saving an SMS or call rule checks beyond its config (configure.py `RuleCheck`): an enabled rule needs a
connected Twilio account (the named one, or any for auto), and a call's audio link must be a reachable public
MP3 (checked through the SSRF-guarded client)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from saleor_app.domain.errors import AutomationError
from saleor_app.domain.kinds import validate_config
from saleor_app.domain.rules import RuleSpec
from saleor_app.domain.sms import SmsConfig
from saleor_app.domain.voice import CallConfig, CallMode
from saleor_app.engine.telephony import AUTO, TelephonyService


class TelephonyRuleCheck:
    def __init__(self, telephony: TelephonyService, audio_link: Callable[[str], Awaitable[None]]) -> None:
        self._telephony = telephony
        self._audio_link = audio_link

    async def __call__(self, installation_id: int, spec: RuleSpec) -> list[tuple[str, str]]:
        if spec.kind not in ("sms", "call"):
            return []
        config = validate_config(spec.kind, spec.config)  # the spec validated it already
        assert isinstance(config, SmsConfig | CallConfig)
        problems: list[tuple[str, str]] = []
        if spec.enabled:
            accounts = await self._telephony.connected_accounts(installation_id)
            wanted = [a for a in accounts if config.provider in (AUTO, a.key)]
            if not wanted:
                what = "an SMS rule" if spec.kind == "sms" else "a call rule"
                needs = "a connected SMS provider" if spec.kind == "sms" else "connected telephony"
                named = "" if config.provider == AUTO else f" (Twilio account {config.provider!r} is not connected)"
                problems.append(("provider", f"{what} cannot be enabled without {needs}{named}: connect a Twilio "
                                             "account under Providers first, or save the rule disabled"))
        if isinstance(config, CallConfig) and config.mode is CallMode.AUDIO and config.audio_url:
            try:
                await self._audio_link(config.audio_url)
            except AutomationError as exc:
                problems.append(("audio_url", f"{exc}"))
        return problems
