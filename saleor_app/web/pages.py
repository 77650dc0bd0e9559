"""The documents a browser opens: the landing page, the Dashboard page shell and static files."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

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

# The Dashboard page: one Jinja2 document (autoescaped) and flat static files. The first GET carries no token
# (PLATFORM.md §7.1), so the document holds no tenant data: the script loads it after the AppBridge handshake.
_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(default=True, default_for_string=True))
_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
_STATIC_FILES = {path.name: _STATIC_TYPES[path.suffix] for path in STATIC_DIR.iterdir() if path.suffix in _STATIC_TYPES}


def pages_router(app_url: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    landing = _LANDING.format(app_url=escape(app_url), version=escape(__version__))

    @router.get("/")
    async def landing_page() -> HTMLResponse:
        return HTMLResponse(landing)

    shell = _TEMPLATES.get_template("dashboard.html").render(version=__version__)

    # The Dashboard may append path segments and query parameters to any extension URL; one document serves all.
    @router.get("/app")
    @router.get("/app/{_view:path}")
    async def dashboard_page() -> HTMLResponse:
        return HTMLResponse(shell, headers={"cache-control": "no-store", "referrer-policy": "same-origin"})

    @router.get("/static/{name}")
    async def static_file(name: str) -> FileResponse:
        media_type = _STATIC_FILES.get(name)
        if media_type is None:  # only the files shipped in web/static, never a path
            raise HTTPException(404, "no such file")
        return FileResponse(STATIC_DIR / name, media_type=media_type, headers={"cache-control": "no-cache"})

    return router
