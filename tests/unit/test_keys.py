"""Webhook signatures and Dashboard tokens against Saleor's keys, with refetch on rotation."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from saleor_app.domain.ports import NewInstallation
from saleor_app.saleor.keys import KeysUnavailable, SaleorKeys, SignatureInvalid
from tests.fakes.installations import InMemoryInstallationRepository
from tests.fakes.signing import SaleorSigner

API_URL = "https://shop.example.com/graphql/"
BODY = b'{"__typename": "OrderCreated", "order": {"id": "T3JkZXI6MQ=="}}'


class JwksServer:
    """Serves whatever JWKS it is given, through an injected httpx transport; counts fetches."""

    def __init__(self, signer: SaleorSigner) -> None:
        self.signer = signer
        self.fetches: list[str] = []
        self.status = 200

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches.append(str(request.url))
        if self.status != 200:
            return httpx.Response(self.status)
        return httpx.Response(200, json=self.signer.jwks)


class Clock:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
async def setup() -> tuple[SaleorKeys, InMemoryInstallationRepository, JwksServer, SaleorSigner, Clock]:
    signer = SaleorSigner()
    server = JwksServer(signer)
    repo = InMemoryInstallationRepository()
    await repo.upsert(
        NewInstallation(API_URL, "QXBwOjE=", "token", signer.jwks, ("MANAGE_ORDERS",), "3.23.28"),
        datetime.now(UTC),
    )
    clock = Clock()
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handler))
    keys = SaleorKeys(repo, http, refetch_interval=60, monotonic=clock)
    return keys, repo, server, signer, clock


async def installation(repo: InMemoryInstallationRepository):
    found = await repo.get_by_url(API_URL)
    assert found is not None
    return found


async def test_valid_signature_needs_no_fetch(setup) -> None:
    keys, repo, server, signer, _ = setup
    await keys.verify_webhook(await installation(repo), signer.sign_webhook(BODY), BODY)
    assert server.fetches == []


async def test_tampered_body_is_refused_after_one_refetch(setup) -> None:
    keys, repo, server, signer, _ = setup
    signature = signer.sign_webhook(BODY)
    with pytest.raises(SignatureInvalid):
        await keys.verify_webhook(await installation(repo), signature, BODY + b" ")
    assert server.fetches == ["https://shop.example.com/.well-known/jwks.json"]


async def test_refetch_is_held_back_within_the_interval_and_answers_unavailable(setup) -> None:
    keys, repo, server, signer, clock = setup
    signature = signer.sign_webhook(BODY)
    with pytest.raises(SignatureInvalid):
        await keys.verify_webhook(await installation(repo), signature, BODY + b"x")
    clock.value += 30
    with pytest.raises(KeysUnavailable):
        await keys.verify_webhook(await installation(repo), signature, BODY + b"y")
    assert len(server.fetches) == 1
    clock.value += 31
    with pytest.raises(SignatureInvalid):
        await keys.verify_webhook(await installation(repo), signature, BODY + b"z")
    assert len(server.fetches) == 2


async def test_key_rotation_is_followed_and_stored(setup) -> None:
    keys, repo, server, _, _ = setup
    rotated = SaleorSigner()
    server.signer = rotated
    await keys.verify_webhook(await installation(repo), rotated.sign_webhook(BODY), BODY)
    assert repo.jwks_writes == 1
    assert (await installation(repo)).jwks == rotated.jwks
    await keys.verify_webhook(await installation(repo), rotated.sign_webhook(BODY), BODY)
    assert len(server.fetches) == 1


async def test_unreachable_keys_answer_unavailable_not_invalid(setup) -> None:
    keys, repo, server, _, _ = setup
    server.status = 502
    other = SaleorSigner()
    with pytest.raises(KeysUnavailable):
        await keys.verify_webhook(await installation(repo), other.sign_webhook(BODY), BODY)


@pytest.mark.parametrize("signature", ["", "garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..c2ln"])
async def test_malformed_signatures_are_invalid(setup, signature: str) -> None:
    keys, repo, server, _, _ = setup
    with pytest.raises(SignatureInvalid):
        await keys.verify_webhook(await installation(repo), signature, BODY)
    assert server.fetches == []


async def test_dashboard_token_is_verified_and_expiry_required(setup) -> None:
    keys, repo, _, signer, _ = setup
    inst = await installation(repo)
    claims = await keys.verify_token(inst, signer.dashboard_token(app_id="QXBwOjE=", iss=API_URL))
    assert claims["app"] == "QXBwOjE="
    with pytest.raises(SignatureInvalid, match="expired"):
        await keys.verify_token(inst, signer.dashboard_token(app_id="QXBwOjE=", iss=API_URL, ttl=-10))
    with pytest.raises(SignatureInvalid, match="exp"):
        await keys.verify_token(inst, signer.dashboard_token(app_id="QXBwOjE=", iss=API_URL, drop=("exp",)))


async def test_token_signed_by_another_saleor_is_refused(setup) -> None:
    keys, repo, server, _, _ = setup
    stranger = SaleorSigner()
    with pytest.raises(SignatureInvalid):
        await keys.verify_token(await installation(repo), stranger.dashboard_token(app_id="QXBwOjE=", iss=API_URL))
    assert len(server.fetches) == 1  # an unknown kid is worth one refetch


def _segment(data: dict[str, object]) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "RS256", "kid": "k"},  # b64 missing: the payload would be base64url-encoded, not Saleor's scheme
        {"alg": "RS256", "kid": "k", "b64": True, "crit": ["b64"]},
        {"alg": "RS256", "kid": "k", "b64": False},  # RFC 7797 requires crit to name b64
        {"alg": "none", "kid": "k", "b64": False, "crit": ["b64"]},
        {"alg": "HS256", "kid": "k", "b64": False, "crit": ["b64"]},
        {"alg": "RS256", "b64": False, "crit": ["b64"]},  # no kid
    ],
)
async def test_headers_other_than_saleors_scheme_are_refused(setup, header) -> None:
    keys, repo, server, _, _ = setup
    with pytest.raises(SignatureInvalid):
        await keys.verify_webhook(await installation(repo), f"{_segment(header)}..c2lnbmF0dXJl", BODY)
    assert server.fetches == []
