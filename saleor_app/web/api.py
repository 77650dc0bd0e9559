"""The protected JSON API under /api/v1, called by the Dashboard page with the Dashboard token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from saleor_app.saleor.dashboard_auth import OrderManagerDep
from saleor_app.web.inbound import inbound_url

router = APIRouter(prefix="/api/v1", tags=["installation"])


@router.get("/installation")
async def installation(user: OrderManagerDep) -> dict[str, Any]:
    """Who is asking and which installation they act on."""
    inst = user.installation
    return {
        "saleorApiUrl": inst.saleor_api_url,
        "appId": inst.app_id,
        "status": inst.status.value,
        "saleorVersion": inst.saleor_version,
        "permissions": list(inst.permissions),
        "installedAt": inst.installed_at.isoformat(),
        "user": {"id": user.user_id, "email": user.email, "permissions": sorted(user.permissions)},
    }


@router.get("/triggers")
async def triggers(user: OrderManagerDep, request: Request) -> list[dict[str, Any]]:
    """The installation's triggers; an inbound-webhook trigger comes with the URL to give the outside system."""
    container = request.app.state.container
    async with container.automation.transaction() as tx:
        found = await tx.triggers(user.installation.id)
    listed = []
    for trigger in found:
        item: dict[str, Any] = {"key": trigger.key, "name": trigger.name, "stage": trigger.stage_key,
                                "event": trigger.event, "params": trigger.params, "condition": trigger.condition,
                                "allowBack": trigger.allow_back, "enabled": trigger.enabled}
        if trigger.event == "inbound_webhook":
            secret = await container.inbound.secret(trigger.id)
            item["inboundUrl"] = inbound_url(container.settings.api_base_url, trigger.id, secret) if secret else None
        listed.append(item)
    return listed
