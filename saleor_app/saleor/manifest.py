"""The app manifest: `manifest/manifest.json` with URLs joined to the configured base URLs.

URLs come from APP_URL / APP_API_BASE_URL, never from the request: Saleor sends `Host` without the port.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import orjson

from saleor_app import __version__
from saleor_app.saleor import documents

MANIFEST_FILE = Path(__file__).resolve().parents[2] / "manifest" / "manifest.json"


@cache
def manifest_data() -> dict[str, Any]:
    return dict(orjson.loads(MANIFEST_FILE.read_bytes()))


def _render(value: Any, app_url: str, api_url: str) -> Any:
    if isinstance(value, dict):
        if set(value) == {"app"}:
            return app_url + value["app"]
        if set(value) == {"api"}:
            return api_url + value["api"]
        return {key: _render(item, app_url, api_url) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, app_url, api_url) for item in value]
    return value


def webhook_definitions(api_url: str) -> list[dict[str, Any]]:
    """The webhooks as Saleor's manifest wants them: name, targetUrl, asyncEvents, query, isActive."""
    hooks = []
    for hook in manifest_data()["webhooks"]:
        hooks.append(
            {
                "name": hook["name"],
                "targetUrl": _render(hook["targetUrl"], "", api_url),
                "asyncEvents": list(hook["asyncEvents"]),
                "query": documents.load(hook["subscription"]),
                "isActive": True,
            }
        )
    return hooks


def build_manifest(app_url: str, api_url: str) -> dict[str, Any]:
    data = {key: value for key, value in manifest_data().items() if key != "webhooks"}
    manifest = _render(data, app_url, api_url)
    manifest["version"] = __version__
    manifest["webhooks"] = webhook_definitions(api_url)
    return dict(manifest)
