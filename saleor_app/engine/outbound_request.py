"""The HTTP-request rule: POST a rendered JSON body to an outside URL, signed with the installation's secret,
through the SSRF-guarded client (private addresses and redirects are refused: the job fails with why).

A 5xx, 408, 429, a timeout or a dropped connection retries the job with backoff (for at least 24 hours, then it
is dead with the last answer in its reason); another 4xx fails it at once. The answer's status and the start of
its body go into the activity log. Every attempt of one job carries the same delivery id, so the receiver can
drop a duplicate.
"""

from __future__ import annotations

import orjson

from saleor_app.domain import templates
from saleor_app.domain.employee_kinds import DELIVERY_HEADER, SIGNATURE_HEADER, HttpRequestConfig, render_body
from saleor_app.domain.employee_ports import OutboundPoster, SigningSecrets
from saleor_app.domain.errors import PermanentError, RetryableError
from saleor_app.domain.ports import Clock
from saleor_app.domain.request_signing import signature
from saleor_app.engine.actions import PreviewContext
from saleor_app.engine.execute import ActionContext

SHOWN = 300  # characters of the answer in the log


def rendered_body(config: HttpRequestConfig, ctx: ActionContext | PreviewContext) -> bytes:
    key = ctx.rule.stage_key or ctx.order.stage_key
    context = templates.build_context(ctx.order.snapshot, shop_name="", stage=(key, key) if key else None)
    return orjson.dumps(render_body(config.body, lambda source: templates.render(source, context)))


class HttpRequestAction:
    def __init__(self, outbound: OutboundPoster, secrets: SigningSecrets, clock: Clock) -> None:
        self._outbound = outbound
        self._secrets = secrets
        self._clock = clock

    async def __call__(self, ctx: ActionContext) -> str:
        assert isinstance(ctx.config, HttpRequestConfig)
        config = ctx.config
        body = rendered_body(config, ctx)
        now = self._clock.now()
        secret = await self._secrets.secret(ctx.installation.id, now)
        headers = {**config.headers, SIGNATURE_HEADER: signature(secret, int(now.timestamp()), body),
                   DELIVERY_HEADER: f"{ctx.installation.id}-{ctx.job.id}"}
        answer = await self._outbound.post_json(config.url, body, headers)
        said = f"{config.url} answered {answer.status}" + (f": {answer.excerpt[:SHOWN]}" if answer.excerpt else "")
        if answer.status >= 500 or answer.status in (408, 425, 429):
            raise RetryableError(said)
        if not 200 <= answer.status < 300:
            raise PermanentError(f"{said} (check the URL and what that service expects)")
        return f"POST {said}"


def preview_request(ctx: PreviewContext) -> str:
    assert isinstance(ctx.config, HttpRequestConfig)
    return f"would POST to {ctx.config.url} (signed): {rendered_body(ctx.config, ctx).decode()[:500]}"
