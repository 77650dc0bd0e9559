"""The protected JSON API under /api/v1, called by the Dashboard page with the Dashboard token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from saleor_app.saleor.dashboard_auth import OrderManagerDep

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
