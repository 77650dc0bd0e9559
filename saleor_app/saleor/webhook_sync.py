"""Bring an installation's webhooks in line with the manifest (Saleor never re-reads a manifest).

Matched by name; a missing webhook is created, a differing one updated; nothing changes when they agree,
so running this at every start-up is idempotent. An app may manage its own webhooks with its token.
"""

from __future__ import annotations

import logging
from typing import Any

from saleor_app.domain.errors import AutomationError
from saleor_app.saleor.graphql_client import SaleorGraphQLClient

log = logging.getLogger(__name__)


def _differs(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    events = sorted(item["eventType"] for item in existing.get("asyncEvents") or [])
    return (
        existing.get("targetUrl") != wanted["targetUrl"]
        or existing.get("subscriptionQuery") != wanted["query"]
        or events != sorted(wanted["asyncEvents"])
        or existing.get("isActive") is not True
    )


async def sync_webhooks(client: SaleorGraphQLClient, wanted: list[dict[str, Any]]) -> dict[str, str]:
    """Returns {webhook name: "created" | "updated" | "unchanged"}; raises AutomationError on failure."""
    data = await client.execute("AppWebhooks")
    existing = {hook.get("name"): hook for hook in (data.get("app") or {}).get("webhooks") or []}
    outcome: dict[str, str] = {}
    for hook in wanted:
        current = existing.get(hook["name"])
        if current is None:
            result = await client.execute("WebhookCreate", {"input": hook})
            _raise_on_errors(result.get("webhookCreate"), hook["name"])
            outcome[hook["name"]] = "created"
        elif _differs(current, hook):
            result = await client.execute("WebhookUpdate", {"id": current["id"], "input": hook})
            _raise_on_errors(result.get("webhookUpdate"), hook["name"])
            outcome[hook["name"]] = "updated"
        else:
            outcome[hook["name"]] = "unchanged"
    return outcome


def _raise_on_errors(payload: dict[str, Any] | None, name: str) -> None:
    errors = (payload or {}).get("errors") or []
    if errors:
        detail = "; ".join(f"{e.get('message')} [{e.get('code')}]" for e in errors)
        raise AutomationError(f"Saleor refused to update webhook {name!r}: {detail}")
