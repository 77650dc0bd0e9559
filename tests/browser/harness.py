"""A stand-in for the Saleor Dashboard's side of AppBridge, served from another origin than the app.

It frames the app as Dashboard 3.23 does (shared/saleor/dashboard-look/README.md: sandbox attributes, query
parameters in their order, featureFlags, the theme at creation) and is as strict: actions from another origin or
window, or without `payload.actionId`, are ignored (and counted in `window.__ignored`). Tokens are signed with the
fake Saleor's key. `/order?orderId=…&mount=widget|popup` frames the app as the order page's sidebar widget (its
frame follows `widgetResize`) or as its "more actions" popup (`popupClose` removes it). `window.__evil()` adds a frame of a third origin (`/evil`) that posts forged events to the app.
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
  // The order page's mounts: a widget's frame takes the height it reports; a popup closes when it asks.
  if (data.type === "widgetResize" && config.mount === "widget" && Number.isFinite(data.payload.height)) {
    frame.style.height = Math.max(0, Math.round(data.payload.height)) + "px";
  }
  if (data.type === "popupClose" && config.mount === "popup") {
    const modal = document.getElementById("modal");
    if (modal) modal.remove();
  }
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


def iframe_src(app_url: str, saleor_api_url: str, domain: str, app_id: str, theme: str, path: str = "",
               context: tuple[tuple[str, str], ...] = (), url: str | None = None) -> str:
    """The app URL (or an extension's own `url`) with the Dashboard's query parameters, in the Dashboard's order;
    `context` holds the mount's own parameters (`orderId` on the order page), spread after `id`."""
    query = urlencode([("domain", domain), ("saleorApiUrl", saleor_api_url), ("id", app_id), *context,
                       ("featureFlags[new_order_ui][enabled]", "false"),
                       ("featureFlags[new_order_ui][payload]", "default"), ("theme", theme)])
    return f"{url or f'{app_url}/app{path}'}?{query}"


# The order page's mounts (PLATFORM.md §7.4–7.5): the WIDGET sits in the 360 px sidebar, in a frame that starts at
# the Dashboard's default height and then takes the height the app reports; the POPUP is a modal frame.
MOUNTS = {"widget": "/order-widget", "popup": "/move-to-stage"}


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

    async def order_page(request: Request) -> HTMLResponse:
        theme = request.query_params.get("theme", "light")
        mount = request.query_params.get("mount", "widget")
        order_id = request.query_params.get("orderId", "")
        url = request.query_params.get("url")  # an extension URL from the manifest; else the mount's usual one
        if mount not in MOUNTS or (url is not None and not url.startswith(f"{app_url}/")):
            return HTMLResponse("mount is widget or popup; url, if given, is under the app's URL", status_code=400)
        src = iframe_src(app_url, saleor_api_url, domain, app_id, theme, MOUNTS[mount], (("orderId", order_id),),
                         url=url)
        config: dict[str, Any] = {"theme": theme, "mount": mount, "thirdOrigin": third_origin(),
                                  "dashboardPath": f"/orders/{quote(order_id, safe='')}"}
        config_json = json.dumps(config).replace("<", "\\u003c")
        frame = (f'<iframe id="app-frame" data-test-id="app-frame" title="Automation" '
                 f'sandbox="allow-same-origin allow-forms allow-scripts allow-downloads allow-popups" '
                 f'src="{escape(src)}"></iframe>')
        if mount == "widget":
            body = f"""<main class="order"><section class="lines">Order lines</section>
<aside class="sidebar"><div class="card"><h2>Apps</h2><div class="slot">{frame}</div></div></aside></main>"""
        else:
            body = f"""<main class="order"><section class="lines">Order lines</section></main>
<div id="modal" role="dialog" aria-label="Move to stage…"><div class="dialog">{frame}</div></div>"""
        page_bg = "#262836" if theme == "dark" else "#ffffff"
        html = f"""<!doctype html><html><head><meta charset="utf-8"><title>Fake Dashboard: order</title>
<style>html,body{{margin:0;background:{page_bg};font:13px sans-serif}} .order{{display:flex;min-height:100vh}}
.lines{{flex:1;padding:24px;color:#7c7e7e}} .sidebar{{width:360px;border-left:1px solid #d9dee3;padding:0}}
.card{{padding:16px 0}} .card h2{{margin:0 16px 8px;font-size:14px;color:#7c7e7e}} .slot{{line-height:0}}
.sidebar iframe{{display:block;width:100%;height:200px;border:none}}
#modal{{position:fixed;inset:0;background:rgba(19,32,48,.4);display:flex;align-items:center;justify-content:center}}
.dialog{{width:640px;max-width:calc(100vw - 32px);height:520px;background:{page_bg};border-radius:8px;overflow:hidden}}
.dialog iframe{{width:100%;height:100%;border:none}}</style></head>
<body>{body}<script type="application/json" id="config">{config_json}</script>
<script>{_SCRIPT}</script></body></html>"""
        return HTMLResponse(html)

    async def token(request: Request) -> PlainTextResponse:
        return PlainTextResponse(tokens(dict(request.query_params)))

    async def evil(_request: Request) -> HTMLResponse:
        return HTMLResponse(_EVIL)

    return Starlette(routes=[Route("/dashboard", dashboard), Route("/order", order_page), Route("/token", token),
                             Route("/evil", evil)])
