"""OutboundPoster over the SSRF-guarded client: what the HTTP-request and chat-webhook rules send through."""

from __future__ import annotations

from collections.abc import Mapping

from saleor_app.domain.employee_ports import OutboundAnswer
from saleor_app.providers.outbound_http import GuardedHttpClient

EXCERPT_CHARS = 500  # what the activity log keeps of an answer


class GuardedOutboundPoster:
    def __init__(self, client: GuardedHttpClient) -> None:
        self._client = client

    async def post_json(self, url: str, body: bytes, headers: Mapping[str, str]) -> OutboundAnswer:
        answer = await self._client.post(url, content=body, headers={**headers, "Content-Type": "application/json"})
        return OutboundAnswer(answer.status, " ".join(answer.text[:EXCERPT_CHARS * 2].split())[:EXCERPT_CHARS])
