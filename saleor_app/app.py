"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from saleor_app import __version__
from saleor_app.saleor.dashboard_auth import DashboardAuthenticator
from saleor_app.saleor.manifest import build_manifest
from saleor_app.saleor.register import register_router
from saleor_app.saleor.responses import (
    VALIDATION_ERROR,
    ApiError,
    api_error_handler,
    http_error_handler,
    validation_error_handler,
)
from saleor_app.saleor.webhooks import WebhookHandler, WebhookIngress
from saleor_app.settings import Settings
from saleor_app.web import (
    activity_api,
    alerts_api,
    api,
    backfill_api,
    board_api,
    config_api,
    order_api,
    provider_forms,
    providers_api,
    team_api,
    telephony_api,
)
from saleor_app.web.frame_policy import FramePolicy
from saleor_app.web.health import health_router
from saleor_app.web.inbound import inbound_router
from saleor_app.web.metrics import metrics_router
from saleor_app.web.pages import pages_router
from saleor_app.web.postmark_webhooks import postmark_router
from saleor_app.web.request_guard import RequestGuard, body_limits
from saleor_app.web.twilio_callbacks import twilio_router
from saleor_app.wiring import Container, build_container


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or Settings()
    container = container or build_container(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        container.start()
        try:
            yield
        finally:
            await container.aclose()

    app = FastAPI(
        title="Order Automation for Saleor",
        version=__version__,
        lifespan=lifespan,
        redirect_slashes=False,  # Saleor follows no redirects: a slash redirect would fail a delivery
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )
    app.state.container = container
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)  # 404, 405: the app's error shape, not {"detail"}
    app.add_exception_handler(RequestValidationError, validation_error_handler)

    manifest_body = orjson.dumps(build_manifest(settings.app_url, settings.api_base_url))

    @app.get("/api/manifest", include_in_schema=False)
    async def manifest() -> Response:
        return Response(content=manifest_body, media_type="application/json")

    app.include_router(register_router(container.register, container.register_limit, container.client_address))
    webhooks = WebhookHandler(
        container.installations, container.keys, container.ingest, max_body_bytes=settings.webhook_max_body_bytes
    )
    app.add_middleware(WebhookIngress, handler=webhooks)
    app.add_middleware(FramePolicy, origins=settings.dashboard_origins)  # who may frame the page and API
    # Outermost: every body is capped and time-bound, and NUL or too-deep JSON refused, before any route reads it.
    app.add_middleware(RequestGuard, timeout_seconds=settings.request_body_timeout_seconds,
                       limits=body_limits(webhook_max_bytes=settings.webhook_max_body_bytes,
                                          default_max_bytes=settings.request_max_body_bytes))
    app.state.dashboard_auth = DashboardAuthenticator(container.installations, container.keys)
    # The JSON routes, whose OpenAPI document shows the app's error for 422 (not FastAPI's {"detail": [...]}).
    for router in (api.router, activity_api.router, backfill_api.router, config_api.router, board_api.router,
                   provider_forms.router, team_api.router, order_api.router, alerts_api.router,
                   inbound_router(container.inbound), telephony_api.router,
                   twilio_router(container.telephony.callbacks, container.telephony.store,
                                 container.providers.credentials, settings.api_base_url),
                   postmark_router(container.providers, container.email.events, container.clock),
                   providers_api.router):
        app.include_router(router, responses=VALIDATION_ERROR)
    app.include_router(health_router(container.engine))
    app.include_router(metrics_router(container.engine))
    app.include_router(pages_router(settings.app_url))
    return app
