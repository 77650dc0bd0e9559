"""appInstall the way Saleor's background installer runs it (PLATFORM.md §2): fetch and validate the manifest,
create the app with its webhooks and token, then POST the token to tokenTargetUrl. Requests carry the headers
of ../shared/saleor/samples/install/*.headers.json, in that order, and follow no redirects.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from graphql import GraphQLSchema
from tests.fakes.graphql_exec import subscription_problem
from tests.fakes.saleor_model import SCHEMA_VERSION, VERSION
from tests.fakes.saleor_state import SaleorState

KNOWN_PERMISSIONS = frozenset({
    "MANAGE_USERS", "MANAGE_STAFF", "IMPERSONATE_USER", "MANAGE_APPS", "MANAGE_OBSERVABILITY", "MANAGE_CHECKOUTS",
    "HANDLE_CHECKOUTS", "HANDLE_TAXES", "MANAGE_TAXES", "MANAGE_CHANNELS", "MANAGE_CUSTOMER_TYPES_AND_ATTRIBUTES",
    "MANAGE_DISCOUNTS", "MANAGE_GIFT_CARD", "MANAGE_MENUS", "MANAGE_ORDERS", "MANAGE_ORDERS_IMPORT", "MANAGE_PAGES",
    "MANAGE_PAGE_TYPES_AND_ATTRIBUTES", "HANDLE_PAYMENTS", "MANAGE_PLUGINS", "MANAGE_PRODUCTS",
    "MANAGE_PRODUCT_TYPES_AND_ATTRIBUTES", "MANAGE_SHIPPING", "MANAGE_SETTINGS", "MANAGE_TRANSLATIONS",
})
_BASE_HEADERS = [("User-Agent", f"Saleor/{SCHEMA_VERSION}"), ("Accept-Encoding", "gzip, deflate"), ("Accept", "*/*"),
                 ("Connection", "keep-alive")]


class InstallFailed(Exception):
    """The installation failed; `message` is what the Dashboard shows the merchant."""

    def __init__(self, message: str, code: str = "INVALID", status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.message = message
        self.code = code
        self.status = status


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def version_satisfies(version: str, constraint: str) -> bool:
    """npm-style ranges as used in manifests: `>=3.23.5 <4`, `^3.20`, `~3.23.1`, `3.23`, alternatives with `||`."""
    current = _version(version)
    for alternative in constraint.split("||"):
        ok = bool(alternative.split())
        for comparator in alternative.split():
            match = re.fullmatch(r"(>=|<=|>|<|=|\^|~)?v?(\d+(?:\.\d+){0,2})(?:\.[x*])*", comparator)
            if match is None:
                return False
            op, target = match.group(1) or "=", _version(match.group(2))
            padded = target + (0,) * (3 - len(target))
            ok = ok and {
                ">=": current >= padded, ">": current > padded, "<=": current <= padded, "<": current < padded,
                "=": current[: len(target)] == target,
                "^": padded <= current < (padded[0] + 1, 0, 0),
                "~": padded <= current < (padded[0], padded[1] + 1, 0),
            }[op]
        if ok:
            return True
    return False


async def fetch_manifest(http: httpx.AsyncClient, manifest_url: str) -> dict[str, Any]:
    last_error = ""
    for _ in range(3):  # the installer retries a connection error or timeout up to 2 more times
        request = http.build_request("GET", manifest_url)
        request.headers = httpx.Headers([*_BASE_HEADERS, ("Saleor-Schema-Version", SCHEMA_VERSION),
                                         ("Host", urlsplit(manifest_url).hostname or "")])
        try:
            response = await http.send(request, follow_redirects=False)
        except (httpx.ConnectError, httpx.TimeoutException) as exc:
            last_error = f"{exc.__class__.__name__}: {exc}"
            continue
        except httpx.HTTPError as exc:
            raise InstallFailed(f"Unable to fetch manifest data: {exc}", "MANIFEST_URL_CANT_CONNECT") from exc
        if not 200 <= response.status_code < 300:
            raise InstallFailed(f"Unable to fetch manifest data: HTTP {response.status_code}",
                                "MANIFEST_URL_CANT_CONNECT", response.status_code)
        try:
            manifest = response.json()
        except ValueError as exc:
            raise InstallFailed("Incorrect structure of manifest.", "INVALID_MANIFEST_FORMAT") from exc
        if not isinstance(manifest, dict):
            raise InstallFailed("Incorrect structure of manifest.", "INVALID_MANIFEST_FORMAT")
        return manifest
    raise InstallFailed(f"Unable to fetch manifest data: {last_error}", "MANIFEST_URL_CANT_CONNECT")


def check_manifest(manifest: dict[str, Any], state: SaleorState, schema: GraphQLSchema | None,
                   permissions: list[str] | None) -> list[str]:
    """Validate like core's manifest_schema (unknown keys ignored); returns the permissions to grant."""
    for key in ("id", "name", "version"):
        if not isinstance(manifest.get(key), str) or not manifest[key]:
            raise InstallFailed(f"Field required: {key}.", "REQUIRED")
    if "author" in manifest and not str(manifest["author"] or "").strip():
        raise InstallFailed("Incorrect value for field: author.", "INVALID")
    asked = list(manifest.get("permissions") or [])
    granted = asked if permissions is None else list(permissions)
    unknown = [p for p in [*asked, *granted] if p not in KNOWN_PERMISSIONS]
    if unknown:
        raise InstallFailed(f"Given permissions don't exist: {', '.join(unknown)}.", "INVALID_PERMISSION")
    constraint = manifest.get("requiredSaleorVersion")
    if constraint and not version_satisfies(VERSION, str(constraint)):
        raise InstallFailed(f"Saleor version {VERSION} does not satisfy {constraint}.", "UNSUPPORTED_SALEOR_VERSION")
    if any(app.identifier == manifest["id"] for app in state.live_apps()):
        raise InstallFailed("App with the same identifier is already installed.", "UNIQUE")
    for hook in manifest.get("webhooks") or []:
        for key in ("name", "targetUrl", "query"):
            if not hook.get(key):
                raise InstallFailed(f"Field required: webhooks.{key}.", "REQUIRED")
        if not str(hook["targetUrl"]).startswith(("http://", "https://", "awssqs://", "gcpubsub://")):
            raise InstallFailed(f"Invalid target url: {hook['targetUrl']}.", "INVALID_URL_FORMAT")
        problem = subscription_problem(str(hook["query"]), schema)
        if problem:
            raise InstallFailed(f"Subscription query is not valid: {problem}", "INVALID")
    return granted


async def post_register(http: httpx.AsyncClient, token_url: str, token: str, api_url: str) -> None:
    """POST {"auth_token": …} unsigned; any non-2xx fails the install with the app's `error.message`."""
    body = json.dumps({"auth_token": token}).encode()
    domain = urlsplit(api_url).netloc
    request = http.build_request("POST", token_url, content=body)
    request.headers = httpx.Headers([
        *_BASE_HEADERS, ("Content-Type", "application/json"), ("X-Saleor-Domain", domain),
        ("Saleor-Domain", domain), ("Saleor-Api-Url", api_url), ("Saleor-Schema-Version", SCHEMA_VERSION),
        ("Content-Length", str(len(body))), ("Host", urlsplit(token_url).hostname or ""),
    ])
    try:
        response = await http.send(request, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise InstallFailed(f"Failed to connect to app. Try later or contact with app support. ({exc})",
                            "INVALID") from exc
    if 200 <= response.status_code < 300:
        return
    message = f"App internal error ({response.status_code})"
    try:
        error = response.json().get("error") or {}
        message = str(error.get("message") or message)
    except (ValueError, AttributeError):
        pass
    raise InstallFailed(message, "INVALID", response.status_code)
