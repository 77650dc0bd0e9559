"""InMemoryInstallationRepository: the InstallationRepository port without a database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from saleor_app.domain.errors import AppAccessLost
from saleor_app.domain.installations import Installation, InstallationStatus
from saleor_app.domain.ports import NewInstallation


class InMemoryInstallationRepository:
    def __init__(self) -> None:
        self.rows: dict[int, Installation] = {}
        self.tokens: dict[int, str | None] = {}
        self.jwks_writes = 0

    async def get_by_url(self, saleor_api_url: str) -> Installation | None:
        return next((i for i in self.rows.values() if i.saleor_api_url == saleor_api_url), None)

    async def get(self, installation_id: int) -> Installation | None:
        return self.rows.get(installation_id)

    async def list_active(self) -> Sequence[Installation]:
        return [i for i in self.rows.values() if i.is_active]

    async def upsert(self, new: NewInstallation, now: datetime) -> Installation:
        existing = await self.get_by_url(new.saleor_api_url)
        installation = Installation(
            id=existing.id if existing else len(self.rows) + 1,
            saleor_api_url=new.saleor_api_url,
            app_id=new.app_id,
            status=InstallationStatus.ACTIVE,
            jwks=new.jwks,
            permissions=new.permissions,
            saleor_version=new.saleor_version,
            installed_at=now,
        )
        self.rows[installation.id] = installation
        self.tokens[installation.id] = new.token
        return installation

    async def token_for(self, installation_id: int) -> str:
        token = self.tokens.get(installation_id)
        if token is None:
            raise AppAccessLost("uninstalled")
        return token

    async def set_jwks(self, installation_id: int, jwks: dict[str, Any]) -> None:
        self.jwks_writes += 1
        self.rows[installation_id] = replace(self.rows[installation_id], jwks=jwks)

    async def set_status(
        self, installation_id: int, status: InstallationStatus, now: datetime, *, app_id: str
    ) -> bool:
        current = self.rows[installation_id]
        if current.app_id != app_id:
            return False
        self.rows[installation_id] = replace(current, status=status)
        if status is InstallationStatus.UNINSTALLED:
            self.tokens[installation_id] = None
        return True

    async def purge_uninstalled(self, older_than: datetime, now: datetime) -> int:
        return 0
