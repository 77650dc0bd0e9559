"""SaleorStaffDirectory: who a Dashboard token belongs to (`me`, asked with that token) and, with MANAGE_STAFF,
the shop's staff list (asked with the app token)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from saleor_app.domain.employee_ports import StaffUser
from saleor_app.domain.installations import Installation
from saleor_app.saleor.clients import SaleorClients

PAGE = 100
MAX_PAGES = 50  # 5,000 staff users: far beyond any shop; a bound on a loop driven by another server's answers


def _user(node: dict[str, Any]) -> StaffUser | None:
    if not node.get("id") or not node.get("email"):
        return None
    name = " ".join(part for part in (node.get("firstName") or "", node.get("lastName") or "") if part)
    return StaffUser(str(node["id"]), str(node["email"]), name, bool(node.get("isActive", True)))


class SaleorStaffDirectory:
    def __init__(self, clients: SaleorClients, *, timeout: float) -> None:
        self._clients = clients
        self._timeout = timeout

    async def me(self, saleor_api_url: str, dashboard_token: str) -> StaffUser | None:
        client = self._clients.connect(saleor_api_url, dashboard_token)
        try:
            data = await client.execute("Me")
        finally:
            await client.close()
        me = data.get("me")
        return _user(me) if isinstance(me, dict) else None

    async def staff(self, installation: Installation) -> Sequence[StaffUser]:
        client = await self._clients.client(installation)
        found: list[StaffUser] = []
        after = None
        for _ in range(MAX_PAGES):
            connection = (await client.execute("StaffUsers", {"first": PAGE, "after": after})).get("staffUsers") or {}
            for edge in connection.get("edges") or []:
                user = _user((edge or {}).get("node") or {})
                if user is not None and user.active:
                    found.append(user)
            info = connection.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                break
            after = info.get("endCursor")
        return found
