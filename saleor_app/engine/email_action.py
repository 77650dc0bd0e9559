"""The email rule kind: its job handler, its preview, and "send a test to me".

A job picks the recipient on the freshest snapshot (none → skipped), the mailbox (auto → the last one that sent),
renders subject, HTML (values escaped) and text through the template service, and sends through EmailService.
A test renders the same rule on a chosen order, goes to the staff member's own address with "[Test]" in front of
the subject, is marked as a test and is never counted as the rule's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from saleor_app.domain import templates
from saleor_app.domain.automation import OrderRecord
from saleor_app.domain.email import JOB_HEADER, EmailConfig, Mailbox, OutgoingEmail, pick_recipient, single_line
from saleor_app.domain.errors import OutcomeUnknown, PermanentError, Refused, RetryableError, SkipJob
from saleor_app.domain.providers import normalise_email
from saleor_app.domain.rules import Rule
from saleor_app.engine.actions import PreviewContext
from saleor_app.engine.email import EmailService, SentEmail
from saleor_app.engine.execute import ActionContext

TEST_HEADER = "X-Order-Automation-Test"


def _context(snapshot: Mapping[str, Any], rule: Rule, order: OrderRecord) -> dict[str, Any]:
    key = rule.stage_key or order.stage_key
    return templates.build_context(snapshot, shop_name="", stage=(key, key) if key else None)


def compose(config: EmailConfig, rule: Rule, order: OrderRecord, mailbox: Mailbox, to: str, *,
            job_id: int | None) -> OutgoingEmail:
    """The rendered email; PermanentError when the subject or the whole body renders empty for this order."""
    context = _context(order.snapshot, rule, order)
    subject = single_line(templates.render(config.subject, context))
    if not subject:
        raise PermanentError("the subject rendered empty for this order")
    html = templates.render(config.html, context, autoescape=True) if config.html else ""
    text = templates.render(config.text, context) if config.text else ""
    if not html.strip() and not text.strip():
        raise PermanentError("the email body rendered empty for this order")
    tie = {JOB_HEADER: str(job_id)} if job_id is not None else {TEST_HEADER: "1"}
    metadata = {"rule": rule.key, "order": order.number or order.order_id,
                **({"job_id": str(job_id)} if job_id is not None else {"test": "1"})}
    return OutgoingEmail(
        from_address=mailbox.sender.address, from_name=mailbox.sender.display_name, to=to, subject=subject,
        html=html, text=text, reply_to=config.reply_to, headers=tie, metadata=metadata,
        track_opens=config.track_opens, track_links=config.track_links, message_stream=config.message_stream,
    )


class EmailAction:
    """The "email" rule kind's handler (wiring.py puts it into ExecuteJob's handlers)."""

    def __init__(self, emails: EmailService) -> None:
        self._emails = emails

    async def __call__(self, ctx: ActionContext) -> str:
        assert isinstance(ctx.config, EmailConfig)
        config = ctx.config
        to = pick_recipient(ctx.order.snapshot, config.recipient, config.metadata_key)
        mailbox = await self._emails.choose(ctx.installation.id, config.mailbox, config.provider)
        email = compose(config, ctx.rule, ctx.order, mailbox, to, job_id=ctx.job.id)
        sent = await self._emails.send(ctx.installation.id, mailbox, email, job=ctx.job.run,
                                       order_row_id=ctx.order.id)
        return sent.describe(to)

    async def send_test(self, installation_id: int, rule: Rule, order: OrderRecord, staff_email: str | None
                        ) -> SentEmail:
        """Render `rule` on `order` and send it to the staff member; Refused says why it cannot be sent."""
        if rule.kind != "email":
            raise Refused(422, f"rule {rule.key} is not an email rule", "not_email")
        to = normalise_email(staff_email or "")
        if to is None:
            raise Refused(422, "your Dashboard token carries no email address to send the test to", "no_email")
        config = EmailConfig.model_validate(rule.config)
        try:
            mailbox = await self._emails.choose(installation_id, config.mailbox, config.provider)
            email = compose(config, rule, order, mailbox, to, job_id=None)
            email = replace(email, subject=f"[Test] {email.subject}")
            return await self._emails.send(installation_id, mailbox, email, order_row_id=order.id, is_test=True)
        except SkipJob as exc:
            raise Refused(409, f"the test was not sent: {exc}", "not_sent") from exc
        except PermanentError as exc:
            raise Refused(422, f"the test was not sent: {exc}", "refused") from exc
        except RetryableError as exc:
            raise Refused(503, f"the test was not sent, try again: {exc}", "unavailable") from exc
        except OutcomeUnknown as exc:
            raise Refused(502, f"the test may or may not have been sent: {exc}", "outcome_unknown") from exc


def preview_email(ctx: PreviewContext) -> str:
    """What the job would send (recipient, subject, text) — the mailbox and suppressions are decided when it runs."""
    assert isinstance(ctx.config, EmailConfig)
    config = ctx.config
    try:
        to = pick_recipient(ctx.order.snapshot, config.recipient, config.metadata_key)
    except SkipJob as exc:
        return f"would be skipped: {exc}"
    context = _context(ctx.order.snapshot, ctx.rule, ctx.order)
    subject = single_line(templates.render(config.subject, context))
    body = templates.render(config.text, context) if config.text else templates.render(config.html, context,
                                                                                         autoescape=True)
    mailbox = "the last used mailbox" if config.mailbox == "auto" else config.mailbox
    return f"would email {to} from {mailbox}: {subject!r} — {body[:300]}"
