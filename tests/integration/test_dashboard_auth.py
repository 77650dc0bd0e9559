"""The Dashboard token check on /api/v1: signature, expiry, app id, installation scope, permissions."""

from __future__ import annotations

import json

import httpx
import jwt
import pytest

from saleor_app.app import create_app
from tests.conftest import SAMPLES, SAMPLES_HOW, require
from tests.fakes.signing import SaleorSigner
from tests.integration.helpers import API_URL, APP_ID, asgi_client, install

OTHER_URL = "https://other-shop.example.com/graphql/"


@pytest.fixture
def signer() -> SaleorSigner:
    return SaleorSigner()


@pytest.fixture
async def client(container, settings, signer, saleor_http):
    saleor_http.handler = lambda request: httpx.Response(200, json=signer.jwks)
    await install(container, signer)
    async with asgi_client(create_app(settings, container)) as http:
        yield http


def auth(token: str, api_url: str = API_URL) -> dict[str, str]:
    return {"authorization-bearer": token, "saleor-api-url": api_url}


async def test_valid_token_reaches_its_installation(client, signer) -> None:
    response = await client.get("/api/v1/installation", headers=auth(signer.dashboard_token(app_id=APP_ID, iss=API_URL)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["saleorApiUrl"] == API_URL and body["appId"] == APP_ID
    assert body["user"]["email"] == "admin@example.com"
    assert "token" not in json.dumps(body).lower()


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, "MISSING_TOKEN"), ({"saleor-api-url": API_URL}, "MISSING_TOKEN"), ({"authorization-bearer": "x"}, "MISSING_TOKEN")],
)
async def test_missing_headers_are_401(client, headers, code) -> None:
    response = await client.get("/api/v1/installation", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code


async def test_expired_token_is_401(client, signer) -> None:
    token = signer.dashboard_token(app_id=APP_ID, iss=API_URL, ttl=-1)
    response = await client.get("/api/v1/installation", headers=auth(token))
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


async def test_token_without_expiry_is_401(client, signer) -> None:
    token = signer.dashboard_token(app_id=APP_ID, iss=API_URL, drop=("exp",))
    assert (await client.get("/api/v1/installation", headers=auth(token))).status_code == 401


async def test_token_for_another_app_is_401(client, signer) -> None:
    token = signer.dashboard_token(app_id="QXBwOjk5", iss=API_URL)
    response = await client.get("/api/v1/installation", headers=auth(token))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "WRONG_APP"


async def test_token_of_installation_b_is_refused_on_installation_a(client, container, saleor_http, signer) -> None:
    other = SaleorSigner()
    await install(container, other, api_url=OTHER_URL, app_id=APP_ID)
    token_b = other.dashboard_token(app_id=APP_ID, iss=OTHER_URL)
    assert (await client.get("/api/v1/installation", headers=auth(token_b, OTHER_URL))).status_code == 200
    response = await client.get("/api/v1/installation", headers=auth(token_b, API_URL))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_TOKEN"


async def test_unknown_installation_is_401(client, signer) -> None:
    token = signer.dashboard_token(app_id=APP_ID, iss=OTHER_URL)
    response = await client.get("/api/v1/installation", headers=auth(token, OTHER_URL))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "NOT_REGISTERED"


async def test_user_without_manage_orders_is_403(client, signer) -> None:
    token = signer.dashboard_token(app_id=APP_ID, iss=API_URL, permissions=[], user_permissions=["MANAGE_PRODUCTS"])
    response = await client.get("/api/v1/installation", headers=auth(token))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"


async def test_hs256_token_is_refused(client, signer) -> None:
    secret = "k" * 64  # only RS256 is accepted, whatever the HMAC key
    forged = jwt.encode({"app": APP_ID, "exp": 9999999999, "permissions": ["MANAGE_ORDERS"]}, secret,
                        algorithm="HS256", headers={"kid": signer.kid})
    assert (await client.get("/api/v1/installation", headers=auth(forged))).status_code == 401


async def test_captured_dashboard_token_verifies_against_captured_keys_and_is_expired(container, settings, saleor_http) -> None:
    require((SAMPLES / "dashboard-token.json").exists(), f"the captured Saleor samples are not at {SAMPLES}: {SAMPLES_HOW}")
    from datetime import UTC, datetime

    from saleor_app.domain.ports import NewInstallation

    sample = json.loads((SAMPLES / "dashboard-token.json").read_text())
    jwks = json.loads((SAMPLES / "jwks.json").read_text())
    saleor_http.handler = lambda request: httpx.Response(200, json=jwks)
    api_url = sample["claims"]["iss"]
    await container.installations.upsert(
        NewInstallation(api_url, sample["claims"]["app"], "t", jwks, ("MANAGE_ORDERS",), "3.23.28"), datetime.now(UTC)
    )
    async with asgi_client(create_app(settings, container)) as client:
        response = await client.get("/api/v1/installation", headers=auth(sample["token"], api_url))
        assert response.status_code == 401
        assert "expired" in response.json()["error"]["message"]  # the signature itself was accepted
        tampered = sample["token"][:-4] + ("AAAA" if not sample["token"].endswith("AAAA") else "BBBB")
        response = await client.get("/api/v1/installation", headers=auth(tampered, api_url))
        assert response.status_code == 401
        assert "expired" not in response.json()["error"]["message"]
