"""The documents a browser opens: the landing page, the Dashboard page shell and static files."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from saleor_app import __version__

STATIC_DIR = Path(__file__).parent / "static"

_LANDING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Order Automation for Saleor</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:Inter,system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1f2937}}
code{{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}}</style></head>
<body><img src="{app_url}/static/logo.png" width="64" height="64" alt="">
<h1>Order Automation for Saleor</h1>
<p>Stage-based order automation for Saleor shops. Version {version}.</p>
<h2>Install</h2>
<p>In your Saleor Dashboard open <em>Extensions → Add extension → Install from manifest</em> and paste
<code>{app_url}/api/manifest</code>.</p>
<h2 id="support">Support</h2><p>See the README shipped with the app for set-up and troubleshooting.</p>
<h2 id="privacy">Privacy</h2><p>The app stores the order data its rules need in its own database, keyed by
your Saleor's API URL. When the app is uninstalled, its token is deleted at once and the stored order data is
purged after the retention period its operator configured.</p></body></html>"""

_SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Order Automation</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:Inter,system-ui,sans-serif;margin:0;padding:24px">
<h1 style="font-size:20px">Order Automation</h1>
<p id="status">The app is installed. Open this page from your Saleor Dashboard to configure automation.</p>
</body></html>"""


def pages_router(app_url: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    landing = _LANDING.format(app_url=escape(app_url), version=escape(__version__))

    @router.get("/")
    async def landing_page() -> HTMLResponse:
        return HTMLResponse(landing)

    # The Dashboard may append path segments and query parameters to any extension URL; one document serves all.
    @router.get("/app")
    @router.get("/app/{_view:path}")
    async def dashboard_page() -> HTMLResponse:
        return HTMLResponse(_SHELL)

    @router.get("/static/logo.png")
    async def logo() -> FileResponse:
        return FileResponse(STATIC_DIR / "logo.png", media_type="image/png")

    return router
