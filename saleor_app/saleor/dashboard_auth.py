"""The Dashboard token check behind every /api/v1 route (PLATFORM.md §7.3).

The page sends `authorization-bearer: <JWT>` and `saleor-api-url`. The JWT must be signed by that
installation's Saleor, unexpired, issued for this app's id there, and carry the needed permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from saleor_app.domain.installations import Installation
from saleor_app.domain.ports import InstallationRepository
from saleor_app.saleor.keys import KeysUnavailable, SaleorKeys, SignatureInvalid
from saleor_app.saleor.responses import ApiError


@dataclass(frozen=True, slots=True)
class DashboardUser:
    installation: Installation
    user_id: str | None
    email: str | None
    permissions: frozenset[str]
    claims: dict[str, Any]


class DashboardAuthenticator:
    def __init__(self, installations: InstallationRepository, keys: SaleorKeys) -> None:
        self._installations = installations
        self._keys = keys

    async def __call__(self, request: Request, *, permission: str | None) -> DashboardUser:
        token = request.headers.get("authorization-bearer")
        api_url = request.headers.get("saleor-api-url")
        if not token or not api_url:
            raise ApiError(401, "MISSING_TOKEN",
                           "authorization-bearer and saleor-api-url headers are required; open this page "
                           "from your Saleor Dashboard")
        try:
            installation = await self._installations.get_by_url(api_url)
        except Exception as exc:
            raise ApiError(503, "UNAVAILABLE", "the app cannot read its installations now; retry") from exc
        if installation is None or not installation.is_active:
            raise ApiError(401, "NOT_REGISTERED",
                           f"the app is not installed (or is deactivated) in the Saleor at {api_url}")
        try:
            claims = await self._keys.verify_token(installation, token)
        except SignatureInvalid as exc:
            raise ApiError(401, "INVALID_TOKEN", str(exc)) from exc
        except KeysUnavailable as exc:
            raise ApiError(503, "KEYS_UNAVAILABLE", str(exc)) from exc
        # The signature proves which Saleor issued the token; the app claim proves it is for this app there.
        if claims.get("app") != installation.app_id:
            raise ApiError(401, "WRONG_APP",
                           "the token was issued for another app or another installation of this app")
        granted = frozenset(str(p) for p in claims.get("permissions") or [])
        if permission is not None and permission not in granted:
            raise ApiError(403, "PERMISSION_DENIED", f"this needs the {permission} permission in Saleor")
        return DashboardUser(
            installation=installation,
            user_id=claims.get("user_id"),
            email=claims.get("email"),
            permissions=granted,
            claims=claims,
        )


def _authenticator(request: Request) -> DashboardAuthenticator:
    authenticator: DashboardAuthenticator = request.app.state.dashboard_auth
    return authenticator


async def dashboard_user(request: Request) -> DashboardUser:
    """Any valid Dashboard token for this app in the named installation."""
    return await _authenticator(request)(request, permission=None)


async def order_manager(request: Request) -> DashboardUser:
    """A Dashboard user whose token carries MANAGE_ORDERS (needed to see or change order automation)."""
    return await _authenticator(request)(request, permission="MANAGE_ORDERS")


DashboardUserDep = Annotated[DashboardUser, Depends(dashboard_user)]
OrderManagerDep = Annotated[DashboardUser, Depends(order_manager)]
