"""Checks a call rule's audio link on save: reachable through the SSRF-guarded client (public addresses only,
checked at connect time, no redirects) and served as an MP3 (`audio/mpeg`), the file Twilio's <Play> fetches."""

from __future__ import annotations

from saleor_app.domain.errors import PermanentError
from saleor_app.domain.voice import audio_url_problem
from saleor_app.providers.outbound_http import GuardedHttpClient

_MP3_TYPES = frozenset({"audio/mpeg", "audio/mp3", "audio/mpeg3"})


class AudioLinkRefused(PermanentError):
    """The link is not a public MP3 Twilio could play; the message says what to fix."""


class GuardedAudioLinkCheck:
    def __init__(self, client: GuardedHttpClient) -> None:
        self._client = client

    async def __call__(self, url: str) -> None:
        problem = audio_url_problem(url)
        if problem:
            raise AudioLinkRefused(problem)
        await self.probe(url)

    async def probe(self, url: str) -> None:
        """The network half of the check: reachable, not redirected, served as audio/mpeg."""
        response = await self._client.request("HEAD", url)
        if response.status in (405, 501):  # a server that does not do HEAD: ask for the first byte only
            response = await self._client.request("GET", url, headers={"Range": "bytes=0-0"})
        if not response.ok:
            raise AudioLinkRefused(f"the audio file answered {response.status}; give a link that serves the file "
                                   "to anyone (no login)")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in _MP3_TYPES:
            raise AudioLinkRefused(f"the audio link serves {content_type or 'no content type'}, not an MP3 "
                                   "(audio/mpeg); upload the file as .mp3")
