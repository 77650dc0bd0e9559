"""The SMS and call rule kinds: their job handlers, previews, and "send a test to me".

A job picks the phone on the freshest snapshot (none or invalid → skipped), renders the text (an SMS over 200
characters fails the job: never truncated), picks the line (no connected account → skipped) and sends through
TelephonyService. A call reads its text with the chosen voice (TwiML <Say>, speed and volume as SSML <prosody>)
or plays the audio file (<Play>). A test renders the rule on a chosen order and goes to the staff member's phone,
marked as a test and never counted as the rule's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from saleor_app.domain import templates
from saleor_app.domain.automation import OrderRecord
from saleor_app.domain.errors import PermanentError, Refused, SkipJob
from saleor_app.domain.phones import normalise, pick_phone
from saleor_app.domain.providers import Channel
from saleor_app.domain.rules import Rule
from saleor_app.domain.sms import MAX_SMS_CHARS, SmsConfig, checked_length, count
from saleor_app.domain.voice import CallConfig, CallMode, play_twiml, say_twiml
from saleor_app.engine.actions import PreviewContext
from saleor_app.engine.execute import ActionContext
from saleor_app.engine.telephony import Sent, TelephonyService


def _context(snapshot: Mapping[str, Any], rule: Rule, order: OrderRecord) -> dict[str, Any]:
    key = rule.stage_key or order.stage_key
    return templates.build_context(snapshot, shop_name="", stage=(key, key) if key else None)


def sms_text(config: SmsConfig, rule: Rule, order: OrderRecord) -> str:
    """The rendered SMS; PermanentError when it is empty or over 200 characters."""
    return checked_length(templates.render(config.text, _context(order.snapshot, rule, order)).strip())


def call_script(config: CallConfig, rule: Rule, order: OrderRecord) -> tuple[str, str]:
    """(TwiML, what the log shows); PermanentError when the text renders empty or too long."""
    if config.mode is CallMode.AUDIO:
        assert config.audio_url is not None
        return play_twiml(config.audio_url), f"plays {config.audio_url}"
    text = templates.render(config.text, _context(order.snapshot, rule, order)).strip()
    if not text:
        raise PermanentError("the call's text rendered empty for this order (nothing was called)")
    return say_twiml(text, config), text


class SmsAction:
    """The "sms" rule kind's handler (wiring.py puts it into ExecuteJob's handlers)."""

    def __init__(self, telephony: TelephonyService) -> None:
        self._telephony = telephony

    async def __call__(self, ctx: ActionContext) -> str:
        assert isinstance(ctx.config, SmsConfig)
        config = ctx.config
        phone = pick_phone(ctx.order.snapshot, config.phone_type, config.metadata_key)
        text = sms_text(config, ctx.rule, ctx.order)
        line = await self._telephony.line(ctx.installation.id, Channel.SMS, config.provider, config.sender)
        sent = await self._telephony.send_sms(ctx.installation.id, line, phone.number, text, job=ctx.job.run,
                                              order_row_id=ctx.order.id)
        return f"{sent.describe('SMS', phone.number)}, {phone.describe(config.metadata_key)}; {count(text).describe()}"


class CallAction:
    """The "call" rule kind's handler."""

    def __init__(self, telephony: TelephonyService) -> None:
        self._telephony = telephony

    async def __call__(self, ctx: ActionContext) -> str:
        assert isinstance(ctx.config, CallConfig)
        config = ctx.config
        phone = pick_phone(ctx.order.snapshot, config.phone_type, config.metadata_key)
        twiml, excerpt = call_script(config, ctx.rule, ctx.order)
        line = await self._telephony.line(ctx.installation.id, Channel.CALL, config.provider, config.from_number)
        sent = await self._telephony.place_call(ctx.installation.id, line, phone.number, twiml, excerpt=excerpt,
                                                job=ctx.job.run, order_row_id=ctx.order.id)
        return f"{sent.describe('call', phone.number)}, {phone.describe(config.metadata_key)}"


async def send_test(telephony: TelephonyService, installation_id: int, rule: Rule, order: OrderRecord,
                    phone: str | None) -> Sent:
    """Render an SMS or call rule on `order` and send it to the staff member's `phone`; Refused says why not."""
    if rule.kind not in ("sms", "call"):
        raise Refused(422, f"rule {rule.key} is not an SMS or call rule", "not_phone")
    to = normalise(phone or "", None)
    if to is None:
        raise Refused(422, "give your phone number in international format (+4915112345678) to send the test to",
                      "no_phone")
    try:
        if rule.kind == "sms":
            sms = SmsConfig.model_validate(rule.config)
            line = await telephony.line(installation_id, Channel.SMS, sms.provider, sms.sender)
            text = sms_text(sms, rule, order)
            marked = f"[Test] {text}"  # only when it still fits: a test is never cut either
            return await telephony.send_sms(installation_id, line, to, marked if len(marked) <= MAX_SMS_CHARS else text,
                                            order_row_id=order.id, is_test=True)
        call = CallConfig.model_validate(rule.config)
        line = await telephony.line(installation_id, Channel.CALL, call.provider, call.from_number)
        twiml, excerpt = call_script(call, rule, order)
        return await telephony.place_call(installation_id, line, to, twiml, excerpt=excerpt, order_row_id=order.id,
                                          is_test=True)
    except SkipJob as exc:
        raise Refused(409, f"the test was not sent: {exc}", "not_sent") from exc
    except PermanentError as exc:
        raise Refused(422, f"the test was not sent: {exc}", "refused") from exc


def preview_sms(ctx: PreviewContext) -> str:
    """Recipient, text and its count; the line and suppressions are decided when the job runs."""
    assert isinstance(ctx.config, SmsConfig)
    try:
        phone = pick_phone(ctx.order.snapshot, ctx.config.phone_type, ctx.config.metadata_key)
    except SkipJob as exc:
        return f"would be skipped: {exc}"
    text = templates.render(ctx.config.text, _context(ctx.order.snapshot, ctx.rule, ctx.order)).strip()
    try:
        checked_length(text)
    except PermanentError as exc:
        return f"would fail: {exc}"
    return f"would text {phone.number} ({phone.describe(ctx.config.metadata_key)}): {text!r} — {count(text).describe()}"


def preview_call(ctx: PreviewContext) -> str:
    assert isinstance(ctx.config, CallConfig)
    try:
        phone = pick_phone(ctx.order.snapshot, ctx.config.phone_type, ctx.config.metadata_key)
        twiml, _ = call_script(ctx.config, ctx.rule, ctx.order)
    except SkipJob as exc:
        return f"would be skipped: {exc}"
    except PermanentError as exc:
        return f"would fail: {exc}"
    return f"would call {phone.number} ({phone.describe(ctx.config.metadata_key)}) with {twiml}"
