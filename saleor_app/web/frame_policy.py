"""Content-Security-Policy for the Dashboard page and its API: only the configured Dashboard origins may frame
them (PLATFORM.md §7.1), and the page loads nothing but its own scripts, styles and API.

A plain ASGI middleware (not BaseHTTPMiddleware) so the webhook hot path pays one string comparison."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_PATHS = ("/app",)
FRAMED_PREFIXES = ("/app", "/api/v1/", "/static/")


def page_policy(origins: str) -> str:
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors {origins}")


class FramePolicy:
    def __init__(self, app: ASGIApp, origins: str) -> None:
        self._app = app
        self._page = page_policy(origins).encode()
        self._framed = f"frame-ancestors {origins}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(FRAMED_PREFIXES) and path not in PAGE_PATHS:
            await self._app(scope, receive, send)
            return
        policy = self._page if path == "/app" or path.startswith("/app/") else self._framed

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                headers.append((b"content-security-policy", policy))
                headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_with_policy)
