"""What saving a call rule checks beyond its config (configure.py `RuleCheck`): its audio link must be a reachable
public MP3 (checked through the SSRF-guarded client). That an enabled SMS or call rule needs a connected Twilio
account is the policy of every client rule (domain/provider_needs.py), checked by ConfigureAutomation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from saleor_app.domain.errors import AutomationError
from saleor_app.domain.kinds import validate_config
from saleor_app.domain.rules import RuleSpec
from saleor_app.domain.sms import SmsConfig
from saleor_app.domain.voice import CallConfig, CallMode


class TelephonyRuleCheck:
    def __init__(self, audio_link: Callable[[str], Awaitable[None]]) -> None:
        self._audio_link = audio_link

    async def __call__(self, installation_id: int, spec: RuleSpec) -> list[tuple[str, str]]:  # noqa: ARG002
        if spec.kind not in ("sms", "call"):
            return []
        config = validate_config(spec.kind, spec.config)  # the spec validated it already
        assert isinstance(config, SmsConfig | CallConfig)
        problems: list[tuple[str, str]] = []
        if isinstance(config, CallConfig) and config.mode is CallMode.AUDIO and config.audio_url:
            try:
                await self._audio_link(config.audio_url)
            except AutomationError as exc:
                problems.append(("audio_url", f"{exc}"))
        return problems
