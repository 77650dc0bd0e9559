"""The protected JSON API under /api/v1, called by the Dashboard page with the Dashboard token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from saleor_app.saleor.dashboard_auth import DashboardAuth, DashboardUser


def api_router(viewer: DashboardAuth) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["installation"])
    Viewer = Annotated[DashboardUser, Depends(viewer)]

    @router.get("/installation")
    async def installation(user: Viewer) -> dict[str, Any]:
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

    return router
