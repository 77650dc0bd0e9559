"""A call rule's audio link is checked on save through the SSRF-guarded client: public https MP3s only; the default
client refuses private, loopback, link-local and metadata targets (also behind a DNS name or a redirect)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route, Router

from saleor_app.domain.errors import PermanentError
from saleor_app.providers.audio_link import AudioLinkRefused, GuardedAudioLinkCheck
from saleor_app.providers.outbound_http import GuardedHttpClient, OutboundRefused
from tests.fakes.loopback import LoopbackServer
from tests.timing import scaled


async def mp3(request: Request) -> Response:
    return Response(b"" if request.method == "HEAD" else b"ID3", media_type="audio/mpeg",
                    headers={"Content-Length": "3"})


async def get_only(request: Request) -> Response:
    if request.method == "HEAD":
        return Response(status_code=405)
    assert request.headers.get("Range") == "bytes=0-0"
    return Response(b"I", status_code=206, media_type="audio/mpeg")


async def html(request: Request) -> Response:
    return Response("<html>", media_type="text/html")


async def missing(request: Request) -> Response:
    return Response(status_code=404)


async def to_metadata(request: Request) -> Response:
    return RedirectResponse("http://169.254.169.254/latest/meta-data/hello.mp3", status_code=302)


@pytest.fixture
async def files() -> AsyncIterator[LoopbackServer]:
    both = ["GET", "HEAD"]
    app = Router([Route("/hello.mp3", mp3, methods=both), Route("/get-only.mp3", get_only, methods=both),
                  Route("/page.mp3", html, methods=both), Route("/gone.mp3", missing, methods=both),
                  Route("/moved.mp3", to_metadata, methods=both)])
    async with LoopbackServer(app) as server:
        yield server


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hello.mp3", "https://10.1.2.3/hello.mp3", "https://169.254.169.254/latest/hello.mp3",
    "https://[::1]/hello.mp3",
])
async def test_the_default_client_refuses_private_targets(url: str) -> None:
    async with GuardedHttpClient(timeout=scaled(10)) as client:
        with pytest.raises(OutboundRefused, match="Refused to connect"):
            await GuardedAudioLinkCheck(client)(url)


async def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    async def resolver(host: str, port: int) -> Sequence[str]:
        return ["10.0.0.7"]

    async with GuardedHttpClient(timeout=scaled(10), resolver=resolver) as client:
        with pytest.raises(OutboundRefused, match="cdn.shop.example: it could not be resolved to a public") as caught:
            await GuardedAudioLinkCheck(client)("https://cdn.shop.example/hello.mp3")
        assert "10.0.0.7" not in str(caught.value)  # the server's resolver answer stays on the server


@pytest.mark.parametrize(("url", "problem"), [
    ("http://cdn.example.com/hello.mp3", "https"), ("https://cdn.example.com/hello.wav", ".mp3"),
])
async def test_the_shape_is_checked_before_any_connection(url: str, problem: str) -> None:
    async with GuardedHttpClient(timeout=scaled(10)) as client:
        with pytest.raises(AudioLinkRefused, match=problem):
            await GuardedAudioLinkCheck(client)(url)



async def test_the_default_client_refuses_the_loopback_file_server_too(files: LoopbackServer) -> None:
    async with GuardedHttpClient(timeout=scaled(10)) as client:
        with pytest.raises(OutboundRefused, match="loopback"):
            await GuardedAudioLinkCheck(client).probe(f"{files.url}/hello.mp3")


# The allow-listed loopback server below speaks plain HTTP, so these call the network half (`probe`) directly;
# the https-and-.mp3 shape rule is the test above and tests/unit/test_phones_sms_voice.py.

async def test_an_allow_listed_mp3_passes(files: LoopbackServer) -> None:
    async with GuardedHttpClient(timeout=scaled(10), allow_hosts=["127.0.0.1"]) as client:
        await GuardedAudioLinkCheck(client).probe(f"{files.url}/hello.mp3")
        await GuardedAudioLinkCheck(client).probe(f"{files.url}/get-only.mp3")  # HEAD refused: one byte by GET


async def test_a_redirect_to_the_metadata_address_is_refused_not_followed(files: LoopbackServer) -> None:
    async with GuardedHttpClient(timeout=scaled(10), allow_hosts=["127.0.0.1"]) as client:
        with pytest.raises(OutboundRefused, match="redirects are not followed") as info:
            await GuardedAudioLinkCheck(client).probe(f"{files.url}/moved.mp3")
    assert "169.254.169.254" in str(info.value)


@pytest.mark.parametrize(("path", "problem"), [
    ("/page.mp3", "serves text/html, not an MP3"), ("/gone.mp3", "answered 404"),
])
async def test_what_is_not_an_mp3_file_is_refused(files: LoopbackServer, path: str, problem: str) -> None:
    async with GuardedHttpClient(timeout=scaled(10), allow_hosts=["127.0.0.1"]) as client:
        with pytest.raises(PermanentError, match=problem):
            await GuardedAudioLinkCheck(client).probe(files.url + path)
