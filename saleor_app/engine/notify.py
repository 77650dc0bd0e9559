"""The notify-team rule: a message to members, groups or the responsible person by e-mail or SMS, or to a
Slack-compatible incoming webhook (`{"text": …}`, through the SSRF-guarded client).

One job may reach several people. A recipient without an address for the channel, away, or removed since is
left out with the reason. Once someone has been reached, a failure for another is reported, not retried: a
retry would message the first again.
"""

from __future__ import annotations

import orjson

from saleor_app.domain import templates
from saleor_app.domain.employee_kinds import NotifyTeamConfig
from saleor_app.domain.employee_ports import OutboundPoster, TeamMessenger, TeamStore
from saleor_app.domain.errors import AutomationError, PermanentError, RetryableError, RunTakenOver, SkipJob
from saleor_app.domain.team import TeamMember
from saleor_app.engine.actions import PreviewContext
from saleor_app.engine.assignees import responsible_key
from saleor_app.engine.execute import ActionContext

EXCERPT = 300


def _render(config: NotifyTeamConfig, ctx: ActionContext | PreviewContext) -> tuple[str, str]:
    key = ctx.rule.stage_key or ctx.order.stage_key
    context = templates.build_context(ctx.order.snapshot, shop_name="", stage=(key, key) if key else None)
    message = templates.render(config.message, context).strip()
    if not message:
        raise PermanentError("the message rendered empty for this order")
    subject = " ".join(templates.render(config.subject, context).split()) if config.subject else ""
    return message, subject or f"Order {ctx.order.number or ctx.order.order_id}"


class NotifyTeamAction:
    def __init__(self, team: TeamStore, outbound: OutboundPoster, messenger: TeamMessenger | None) -> None:
        self._team = team
        self._outbound = outbound
        self._messenger = messenger

    async def __call__(self, ctx: ActionContext) -> str:
        assert isinstance(ctx.config, NotifyTeamConfig)
        config = ctx.config
        message, subject = _render(config, ctx)
        if config.channel == "webhook":
            assert config.webhook_url is not None
            return await self._chat(config.webhook_url, message)
        recipients, left_out = await self._recipients(ctx, config)
        if not recipients:
            raise SkipJob("nobody to notify: " + "; ".join(left_out))
        if self._messenger is None:
            raise SkipJob(f"{config.channel} is not set up in this app")
        sent: list[str] = []
        failed: list[str] = []
        for member in recipients:
            try:
                if config.channel == "email":
                    assert member.email is not None
                    sent.append(await self._messenger.email(ctx.installation.id, mailbox=config.mailbox,
                                                            to=member.email, subject=subject, text=message,
                                                            job=ctx.job.run, order_row_id=ctx.order.id))
                else:
                    assert member.phone is not None
                    sent.append(await self._messenger.sms(ctx.installation.id, to=member.phone, text=message,
                                                          job=ctx.job.run, order_row_id=ctx.order.id))
            except SkipJob as exc:
                left_out.append(f"{member.key}: {exc}")
            except RunTakenOver:
                raise  # not this run's job any more: the run that holds it notifies
            except AutomationError as exc:
                if not sent and isinstance(exc, RetryableError | PermanentError) and member is recipients[0]:
                    raise  # nobody reached yet: the job retries (or fails) as a whole
                failed.append(f"{member.key}: {exc}")
        if not sent and not failed:
            raise SkipJob("nobody notified: " + "; ".join(left_out))
        summary = f"notified {len(sent)} by {config.channel}: " + "; ".join(sent)
        if failed:
            summary += "; not reached: " + "; ".join(failed)
        if left_out:
            summary += "; left out: " + "; ".join(left_out)
        return summary

    async def _recipients(self, ctx: ActionContext, config: NotifyTeamConfig) -> tuple[list[TeamMember], list[str]]:
        members = {member.key: member for member in await self._team.members(ctx.installation.id)}
        groups = {group.key: group for group in await self._team.groups(ctx.installation.id)}
        wanted: list[str] = list(config.members)
        left_out: list[str] = []
        for key in config.groups:
            group = groups.get(key)
            if group is None:
                left_out.append(f"group {key} was removed")
            else:
                wanted += group.member_keys
        if config.responsible:
            owner = responsible_key(ctx.order.snapshot)
            if owner is None:
                left_out.append("the order has no responsible person")
            else:
                wanted.append(owner)
        chosen: list[TeamMember] = []
        for key in dict.fromkeys(wanted):
            member = members.get(key)
            address: str | None = None
            if member is not None:
                address = member.email if config.channel == "email" else member.phone
            if member is None:
                left_out.append(f"{key} was removed from the team")
            elif member.away:
                left_out.append(f"{key} is away")
            elif address is None:
                left_out.append(f"{key} has no {'e-mail address' if config.channel == 'email' else 'phone number'}")
            else:
                chosen.append(member)
        return chosen, left_out

    async def _chat(self, url: str, message: str) -> str:
        answer = await self._outbound.post_json(url, orjson.dumps({"text": message}), {})
        if answer.status >= 500 or answer.status in (408, 429):
            raise RetryableError(f"the chat webhook answered {answer.status}: {answer.excerpt[:EXCERPT]}")
        if not 200 <= answer.status < 300:
            raise PermanentError(f"the chat webhook refused the message with {answer.status}: "
                                 f"{answer.excerpt[:EXCERPT]}; check its URL")
        return f"posted to the chat webhook ({answer.status})"


def preview_notify(ctx: PreviewContext) -> str:
    assert isinstance(ctx.config, NotifyTeamConfig)
    config = ctx.config
    message, _ = _render(config, ctx)
    if config.channel == "webhook":
        return f"would post to the chat webhook: {message[:200]}"
    who = [*config.members, *(f"group {g}" for g in config.groups), *(["the responsible person"]
                                                                      if config.responsible else [])]
    return f"would {config.channel} {', '.join(who)}: {message[:200]}"
