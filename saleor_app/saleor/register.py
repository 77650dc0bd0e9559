"""POST /api/register: Saleor hands the app its token (PLATFORM.md §2.3).

The call is unsigned and `Saleor-Api-Url` is whatever the caller says, so: a per-client rate limit, the
allow-list (before any outbound call), then prove the token against that URL, then fetch the keys, then store.
Every call to that URL goes through the app's address policy (providers/addresses.py). The caller learns only
whether Saleor answered and what it said: how an exchange failed (a refused address, a closed port, a non-Saleor
server's HTTP status) goes to the log, so the endpoint cannot be used to map the app's network.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from re import Pattern
from typing import Any

import httpx
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from saleor_app.domain.errors import AutomationError
from saleor_app.domain.installations import Installation
from saleor_app.domain.ports import Clock, InstallationRepository, NewInstallation
from saleor_app.saleor.graphql_client import SaleorGraphQLClient, is_saleor_answer
from saleor_app.saleor.keys import KeysUnavailable, fetch_jwks
from saleor_app.saleor.responses import ApiError
from saleor_app.web.rate_limit import ClientAddress, RateLimiter

log = logging.getLogger(__name__)

REQUIRED_PERMISSIONS = ("MANAGE_ORDERS",)

InstalledHook = Callable[[Installation], Awaitable[None]]
Connect = Callable[[str, str], SaleorGraphQLClient]
"""(Saleor API URL, token) → a GraphQL client through the address policy."""


class RegisterInstallation:
    def __init__(
        self,
        installations: InstallationRepository,
        http: httpx.AsyncClient,
        connect: Connect,
        clock: Clock,
        *,
        allowed_urls: Pattern[str] | None,
        on_installed: InstalledHook | None = None,
    ) -> None:
        self._installations = installations
        self._http = http
        self._connect = connect
        self._clock = clock
        self._allowed_urls = allowed_urls
        self.on_installed = on_installed

    async def __call__(self, saleor_api_url: str, token: str) -> Installation:
        if not saleor_api_url.startswith(("http://", "https://")) or not saleor_api_url.endswith("/graphql/"):
            raise ApiError(400, "INVALID_SALEOR_API_URL",
                           f"Saleor-Api-Url must be an http(s) URL ending in /graphql/, got {saleor_api_url!r}")
        if self._allowed_urls is not None and not self._allowed_urls.fullmatch(saleor_api_url):
            raise ApiError(403, "SALEOR_URL_PROHIBITED",
                           f"this app does not accept installations from {saleor_api_url}; "
                           "its operator must add it to ALLOWED_SALEOR_URLS")
        identity = await self._prove_token(saleor_api_url, token)
        app = identity.get("app") or {}
        permissions = tuple(sorted(p["code"] for p in app.get("permissions") or [] if p.get("code")))
        missing = [p for p in REQUIRED_PERMISSIONS if p not in permissions]
        if missing:
            raise ApiError(403, "MISSING_PERMISSIONS",
                           f"the app was installed without {', '.join(missing)}; Saleor sends no order webhooks "
                           "without it. Install it again and grant the permissions it asks for")
        try:
            jwks = await fetch_jwks(self._http, saleor_api_url)
        except KeysUnavailable as exc:
            log.warning("registration failed: Saleor's keys could not be fetched",
                        extra={"saleor_api_url": saleor_api_url, "reason": str(exc)})
            raise ApiError(401, "JWKS_NOT_AVAILABLE",
                           f"the app could not fetch Saleor's signing keys from {saleor_api_url}'s "
                           "/.well-known/jwks.json; try installing again shortly") from exc
        version = (identity.get("shop") or {}).get("version")
        new = NewInstallation(saleor_api_url=saleor_api_url, app_id=app["id"], token=token, jwks=jwks,
                              permissions=permissions, saleor_version=version)
        try:
            installation = await self._installations.upsert(new, self._clock.now())
        except Exception as exc:
            log.exception("storing the installation failed", extra={"saleor_api_url": saleor_api_url})
            raise ApiError(503, "STORAGE_UNAVAILABLE",
                           "the app could not store the installation; try installing again shortly") from exc
        log.info("installed", extra={"installation_id": installation.id, "saleor_api_url": saleor_api_url,
                                      "app_id": installation.app_id, "saleor_version": version})
        if self.on_installed is not None:
            await self.on_installed(installation)
        return installation

    async def _prove_token(self, saleor_api_url: str, token: str) -> dict[str, Any]:
        client = self._connect(saleor_api_url, token)
        try:
            identity = await client.execute("AppIdentity")
        except AutomationError as exc:
            if not is_saleor_answer(exc):
                log.warning("registration failed: no answer from Saleor",
                            extra={"saleor_api_url": saleor_api_url, "reason": str(exc)})
                raise ApiError(502, "SALEOR_UNREACHABLE",
                               f"the app could not call Saleor back at {saleor_api_url} to verify the token: no "
                               "Saleor API answered there. Check the URL and that the app can reach it (the app's "
                               "log says how the call failed)") from exc
            raise ApiError(401, "UNKNOWN_APP_ID", f"Saleor did not accept the token: {exc}") from exc
        finally:
            await client.close()
        app = identity.get("app")
        if not isinstance(app, dict) or not app.get("id"):
            raise ApiError(401, "UNKNOWN_APP_ID", "Saleor did not recognise the token as an app token")
        return identity


def register_router(register: RegisterInstallation, limiter: RateLimiter | None = None,
                    clients: ClientAddress | None = None) -> APIRouter:
    """`limiter`: register attempts per client (REGISTER_ATTEMPTS_PER_MINUTE); None: unlimited."""
    router = APIRouter()
    clients = clients or ClientAddress()

    @router.post("/api/register", include_in_schema=False)
    async def register_endpoint(request: Request) -> JSONResponse:
        if limiter is not None:
            client = clients.of(request)
            wait = limiter.attempt(client)
            if wait is not None:
                log.info("register attempts limited", extra={"client": client, "retry_after": wait})
                raise ApiError(429, "TOO_MANY_ATTEMPTS",
                               f"too many install attempts from this address; try again in {wait} s",
                               headers={"Retry-After": str(wait)})
        saleor_api_url = request.headers.get("saleor-api-url")
        if not saleor_api_url:
            raise ApiError(400, "MISSING_SALEOR_API_URL", "the Saleor-Api-Url header is required")
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, "INVALID_BODY", "the body must be JSON like {\"auth_token\": \"…\"}") from exc
        token = body.get("auth_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ApiError(400, "MISSING_AUTH_TOKEN", "Missing auth token.")
        await register(saleor_api_url, token)
        return JSONResponse({"success": True})

    return router
