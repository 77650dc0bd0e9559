"""A stand-in for the Saleor Dashboard's side of AppBridge, served from another origin than the app.

It frames the app as Dashboard 3.23 does (shared/saleor/dashboard-look/README.md: sandbox attributes, query
parameters in their order, featureFlags, the theme at creation) and is as strict: actions from another origin or
window, or without `payload.actionId`, are ignored (and counted in `window.__ignored`). Tokens are signed with the
fake Saleor's key. `window.__evil()` adds a frame of a third origin (`/evil`) that posts forged events to the app.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

TokenFactory = Callable[[dict[str, str]], str]

_SCRIPT = """
const frame = document.getElementById("app-frame");
const appOrigin = new URL(frame.src).origin;
const config = JSON.parse(document.getElementById("config").textContent);
let theme = config.theme;
window.__actions = [];
window.__ignored = [];
window.__tokens = [];
function post(type, payload) { frame.contentWindow.postMessage({ type, payload }, appOrigin); }
async function token() {
  const response = await fetch("/token" + location.search);
  const text = await response.text();
  window.__tokens.push(text);
  return text;
}
async function handshake() {
  post("handshake", { token: await token(), version: 1, saleorVersion: "3.23.28", dashboardVersion: "v3.23.27" });
  post("localeChanged", { locale: "en" });
  post("theme", { theme });
  post("redirect", { path: config.dashboardPath });
}
window.addEventListener("message", (event) => {
  if (event.origin !== appOrigin || event.source !== frame.contentWindow) { window.__ignored.push("origin"); return; }
  const data = event.data || {};
  if (!data.payload || !data.payload.actionId) { window.__ignored.push("no actionId: " + data.type); return; }
  window.__actions.push(data);
  if (data.type === "notifyReady") handshake();
  post("response", { actionId: data.payload.actionId, ok: true });
});
frame.addEventListener("load", handshake);
window.__theme = (value) => { theme = value; post("theme", { theme: value }); };
window.__refresh = async () => { const fresh = await token(); post("tokenRefresh", { token: fresh }); return fresh; };
window.__post = post;
window.__evil = () => new Promise((resolve) => {  // a frame of a third origin that posts forged events
  const evil = document.createElement("iframe");
  evil.id = "evil";
  evil.title = "another origin";
  evil.src = config.thirdOrigin + "/evil";
  evil.addEventListener("load", () => resolve(true));
  document.body.append(evil);
});
"""

_EVIL = """<!doctype html><meta charset="utf-8"><title>another origin</title><script>
const app = parent.frames[0];
app.postMessage({ type: "theme", payload: { theme: "dark" } }, "*");
app.postMessage({ type: "tokenRefresh", payload: { token: "forged-by-another-origin" } }, "*");
app.postMessage({ type: "handshake", payload: { token: "forged-by-another-origin", version: 1 } }, "*");
document.title = "posted";
</script>"""


def iframe_src(app_url: str, saleor_api_url: str, domain: str, app_id: str, theme: str, path: str = "") -> str:
    """The app URL with the Dashboard's query parameters, in the Dashboard's order."""
    query = urlencode([("domain", domain), ("saleorApiUrl", saleor_api_url), ("id", app_id),
                       ("featureFlags[new_order_ui][enabled]", "false"),
                       ("featureFlags[new_order_ui][payload]", "default"), ("theme", theme)])
    return f"{app_url}/app{path}?{query}"


def harness_app(*, app_url: str, saleor_api_url: str, domain: str, app_id: str, tokens: TokenFactory,
                third_origin: Callable[[], str]) -> Starlette:
    async def dashboard(request: Request) -> HTMLResponse:
        theme = request.query_params.get("theme", "light")
        path = request.query_params.get("path", "")
        src = iframe_src(app_url, saleor_api_url, domain, app_id, theme, path)
        config: dict[str, Any] = {"theme": theme, "dashboardPath": f"/extensions/app/{quote(app_id, safe='')}{path}",
                                  "thirdOrigin": third_origin()}
        config_json = json.dumps(config).replace("<", "\\u003c")  # inside <script>: no "</script>" possible
        html = f"""<!doctype html><html><head><meta charset="utf-8"><title>Fake Dashboard</title>
<style>html,body{{margin:0;height:100%}} .frame{{position:relative;line-height:0;height:100%}}
iframe#app-frame{{width:100%;height:100%;border:none}} #evil{{position:absolute;left:-50px;width:10px}}</style></head>
<body><div class="frame"><iframe id="app-frame" data-test-id="app-frame"
sandbox="allow-same-origin allow-forms allow-scripts allow-downloads allow-popups" src="{escape(src)}"></iframe></div>
<script type="application/json" id="config">{config_json}</script>
<script>{_SCRIPT}</script></body></html>"""
        return HTMLResponse(html)

    async def token(request: Request) -> PlainTextResponse:
        return PlainTextResponse(tokens(dict(request.query_params)))

    async def evil(_request: Request) -> HTMLResponse:
        return HTMLResponse(_EVIL)

    return Starlette(routes=[Route("/dashboard", dashboard), Route("/token", token), Route("/evil", evil)])
